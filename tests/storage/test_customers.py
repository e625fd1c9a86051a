"""The customer counts (storage/customers.py) on a generated history, on both backends: equal to
a straightforward count over the accounts' rows at many instants and windows, read from indexes
alone on SQLite (migration 0020), and asked once per distinct question by a KPI answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from sampledata import seed_workspace
from storage.facts import SqlFacts
from storage.models import Account, Workspace
from tests.storage.facts_histories import ev, write

WS = "slack:TCUSTOMERS"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


@pytest.fixture
def history(database):
    seed_workspace(database=database, workspace_id=WS, target_events=6_000, end=NOW, seed=3,
                   timezone="Europe/Oslo")
    with database.read() as session:
        won = session.execute(sa.select(Account.key, Account.customer_since).where(
            Account.workspace_id == WS, Account.customer_since.is_not(None))
            .order_by(Account.customer_since, Account.key)).all()
    # every third customer churns 1 to 40 days after its first win (if that is before now)
    churns = [ev(f"churn-{key}", "churned", since + timedelta(days=1 + i % 40),
                 account_key=key) for i, (key, since) in enumerate(won[::3])
              if since + timedelta(days=1 + i % 40) < NOW]
    write(database, churns, workspace_id=WS)
    return database


def _month_starts() -> list[datetime]:
    return [datetime(year, month, 1, tzinfo=UTC) for year in range(2024, 2028)
            for month in range(1, 13)]


def test_customer_counts_equal_a_count_over_the_accounts(history):
    with history.read() as session:
        accounts = session.execute(sa.select(Account.customer_since, Account.churned_at)
                                   .where(Account.workspace_id == WS)).all()
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        # the history holds customers that churned and customers that did not
        assert sum(1 for _won, churned in accounts if churned is not None) > 3
        assert sum(1 for won, churned in accounts if won and churned is None) > 3
        instants = _month_starts()
        instants += [NOW, min(c for _w, c in accounts if c), max(c for _w, c in accounts if c)]
        for at in instants:
            expected = sum(1 for won, churned in accounts if won is not None and won < at
                           and (churned is None or churned >= at))
            assert facts.customers_at(at) == expected, at
        for start, end in zip(instants, instants[1:], strict=False):
            if start >= end:
                continue
            churned = sum(1 for won, gone in accounts if gone is not None and start <= gone < end
                          and won is not None and won < start)
            new = sum(1 for won, _gone in accounts if won is not None and start <= won < end)
            assert facts.churned_customers(start, end) == churned, (start, end)
            assert facts.new_customers(start, end) == new, (start, end)


@pytest.mark.parametrize("statistics", [False, True])
def test_customer_counts_read_only_indexes_on_sqlite(history, statistics):
    """Every read of `accounts` is an index range that holds what it counts: no lookup in the
    table per account (with and without planner statistics)."""
    from tests.storage.query_plans import _captured, _plans

    if history.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    if statistics:
        with history.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")

    def run() -> None:
        with history.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            facts.customers_at(NOW)
            facts.churned_customers(datetime(2026, 10, 1, tzinfo=UTC), NOW)
            facts.new_customers(datetime(2026, 10, 1, tzinfo=UTC), NOW)

    text = _plans(history, _captured(history, run), "customers")
    reads = [line for line in text.splitlines() if "accounts" in line]
    assert len(reads) == 4, text  # customers_at: two counts; churned; new
    assert all("USING COVERING INDEX ix_accounts_" in line for line in reads), text
    assert "COVERING INDEX ix_accounts_churned " in text, text


def test_a_kpi_answer_asks_each_customer_count_once(history):
    """clv over a year computes the last month's arpc and churn for the year, its elapsed part
    and the year before: the same customers at the month's start, asked once."""
    from bot.usecases.kpi import answer_kpi

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with history.read() as session:
        workspace = session.get(Workspace, WS)
        sa.event.listen(history.engine, "before_cursor_execute", record)
        try:
            answer = answer_kpi(session, workspace, "clv", "this-year", now=NOW,
                                with_names=False)
        finally:
            sa.event.remove(history.engine, "before_cursor_execute", record)
        again = answer_kpi(session, workspace, "clv", "this-year", now=NOW, with_names=False)
    on_accounts = [s for s in statements if "FROM accounts" in s]
    # the customers at the month's start, those churned in it, those new in it, and cac's new
    # customers of each span (the year, its elapsed part, the year before); it was 18
    at_instant = [s for s in on_accounts if "churned_at < " in s and "churned_at >=" not in s]
    assert len(at_instant) == 1, on_accounts
    assert len(on_accounts) == 6, on_accounts
    assert answer.compared.result.details == again.compared.result.details
    assert answer.compared.result.details["arpc_monthly"] is not None

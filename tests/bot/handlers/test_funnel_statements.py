"""`/kpi funnel` reads lean (issue 18: funnel this-quarter ≤ 0.2× its SQL floor): its
statements are counted, never timed, and its figures equal a recomputation.

After the workspace and user (one statement, as every command), the funnel is one read
transaction: the counts of every stage with the lead→won cohort and the won and lost deals
(one statement), the stage-time deals since the last hour (one: their histogram and their
values at the medians' ranks), the
history version behind the remembered stalled thresholds, the open and idle counts, the
longest-idle deals it names, and the people's names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from reports.kpis.catalog import compute_kpi
from reports.kpis.facts import Facts
from reports.periods import parse_period
from sampledata import seed_workspace
from storage.facts import SqlFacts
from storage.models import Workspace
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TFUNNEL"


@pytest.fixture
def chat(database):
    seed_workspace(database=database, workspace_id=WS, target_events=3_000, end=NOW, seed=11,
                   timezone="Europe/Oslo")
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U_ASKER")


def _statements(database, run) -> list[tuple[int, str]]:
    """(connection, statement) of each statement `run()` sends, transaction control and
    PostgreSQL's per-transaction settings left out; BEGIN kept as "BEGIN"."""
    seen: list[tuple[int, str]] = []

    def record(connection, _cursor, statement, *_args) -> None:
        if statement.startswith("BEGIN ISOLATION LEVEL"):  # a PostgreSQL read's own BEGIN
            statement = "<read's begin>"  # (storage/plans.py: with its first statements)
        seen.append((id(connection.connection.dbapi_connection), " ".join(statement.split())))

    def begin(connection) -> None:
        seen.append((id(connection.connection.dbapi_connection), "<begin>"))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    sa.event.listen(database.engine, "begin", begin)
    try:
        run()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
        sa.event.remove(database.engine, "begin", begin)
    return [(c, s) for c, s in seen if not s.startswith(("BEGIN", "PRAGMA", "COMMIT"))
            and "set_config(" not in s]


def _ask(chat: Chat, text: str):
    return chat.handler.handle(CommandRequest(platform="slack", workspace_id=WS,
                                              user_id="U_ASKER", text=text, channel_id="C1"))


def test_the_funnel_is_one_read_of_seven_statements_after_the_workspace(chat, database):
    _ask(chat, "funnel this-quarter")  # the stalled thresholds' medians: remembered after
    seen = _statements(database, lambda: _ask(chat, "funnel this-quarter"))
    statements = [s for _c, s in seen if s not in ("<begin>", "<read's begin>")]
    assert statements[0].startswith("SELECT") and "FROM workspaces LEFT OUTER JOIN users" in \
        statements[0]
    funnel = statements[1:]
    # (the deals since the last hour give their histogram and their values at the medians'
    # ranks at once, storage/stage_durations.py `_recent_rows`: 7 before session 13)
    assert len(funnel) == 6, "\n".join(funnel)
    assert sum("FROM deal_counts" in s for s in funnel) == 1  # counts, cohort, won and lost
    # the names, in the same read (PostgreSQL reads them ahead with the counts: pg_batch)
    assert sum("FROM users" in s for s in funnel) == 1
    # the funnel's one transaction, after the workspace's read (on the driver, outside any
    # transaction: storage/driver.py, storage/pg_driver.py); PostgreSQL's in one pipeline
    # on a pooled connection without SQLAlchemy's Session (storage/pg_light.py)
    begin = "<read's begin>" if database.dialect == "postgresql" else "<begin>"
    begins = [c for c, s in seen if s == begin]
    assert len(begins) == 1 and len([c for c, s in seen if s.startswith("<")]) == 1
    assert len(set(funnel)) == len(funnel)  # nothing asked twice


def test_the_funnel_names_the_longest_idle_of_all_stalled_deals(chat, database):
    """The five stalled deals the funnel names (read five per stage) are the first five of
    the stalled-deals KPI's list (read twenty per stage), and its figures are those of the
    single facts it stands for (Facts' own definitions, one call per stage)."""
    for period_text in ("this-quarter", "this-year", "last-month", "2020-01-01..2027-01-01"):
        with database.read() as session:
            workspace = session.get(Workspace, WS)
            period = parse_period(period_text, now=NOW, tz=workspace.timezone)
            facts = SqlFacts(session=session, workspace=workspace)
            funnel = compute_kpi("funnel", facts=facts, period=period, now=NOW)
            stalled = compute_kpi("stalled-deals", facts=facts, period=period, now=NOW)
            counts = Facts.funnel_counts(facts, period.start, period.end)
            leads, wins = facts.cohort_conversion("lead", "won", period.start, period.end
                                                  ).get("all", (0, 0))
            won, lost, amount = facts.closed_deals(period.start, period.end).get("all",
                                                                                 (0, 0, 0))
        named = funnel.details["stalled_deals"]
        assert named == [row.to_json() for row in stalled.rows[:5]] and len(named) == 5
        assert [row.value for row in funnel.rows] == [float(counts[s][0]) for s in counts]
        assert [(row.numerator, row.denominator) for row in funnel.rows[1:]] == [
            (counts[before][1], counts[before][0]) for before in list(counts)[:-1]]
        assert (funnel.numerator, funnel.denominator) == (wins, leads)
        assert (funnel.details["won"], funnel.details["lost"], funnel.details["revenue"]) == \
            (won, lost, amount)
        assert leads and won and lost


def test_the_funnel_runs_no_statement_through_sqlalchemys_execution(chat, database):
    """Every statement of a funnel (the people's names too) is compiled once and run on the
    driver (storage/prepared.py): SQLAlchemy's execution of a Core statement (its cache key,
    a conversion per bound value, a Row per row) cost more than a small read itself."""
    _ask(chat, "funnel this-quarter")
    executed: list[str] = []

    def execution(_connection, statement, *_args) -> None:
        executed.append(str(statement))

    sa.event.listen(database.engine, "before_execute", execution)
    try:
        seen = _statements(database, lambda: _ask(chat, "funnel this-quarter"))
    finally:
        sa.event.remove(database.engine, "before_execute", execution)
    assert any("FROM users" in s for _c, s in seen)
    # PostgreSQL's per-transaction settings (storage/engine.py) are not the funnel's reads
    assert [s for s in executed if "set_config(" not in s] == []

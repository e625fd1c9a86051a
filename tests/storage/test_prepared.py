"""`Prepared` statements (storage/prepared.py) answer what SQLAlchemy's `execute` answers, on both
backends, while the engine's events still see them; the funnel's statements run that way and
its medians read only the values at the medians' ranks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from reports.events import STAGE_ORDER
from reports.kpis.compute import compute_kpi
from reports.periods import parse_period
from sampledata import seed_workspace
from storage.facts import SqlFacts
from storage.models import Deal, DealCount, Workspace
from storage.prepared import Prepared

WS = "slack:TPREPARED"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


@pytest.fixture
def history(database):
    seed_workspace(database=database, workspace_id=WS, target_events=3_000, end=NOW, seed=4,
                   timezone="Europe/Oslo")
    return database


def _deals_statement() -> sa.Select:
    d = Deal.__table__.c
    return (sa.select(d.key, d.stage_changed_at, d.amount_minor, sa.literal_column("7"))
            .where(d.workspace_id == sa.bindparam("workspace"), d.outcome == "open",
                   d.stage_changed_at >= sa.bindparam("since", type_=d.stage_changed_at.type))
            .order_by(d.stage_changed_at, d.key))


def test_prepared_rows_equal_those_of_execute(history):
    """Timestamps in and out (aware UTC), dates, the statement's own constants and integers."""
    months = DealCount.__table__.c
    by_month = (sa.select(months.milestone, sa.func.sum(months.deals))
                .where(months.workspace_id == sa.bindparam("workspace"),
                       months.month >= sa.bindparam("first"))
                .group_by(months.milestone).order_by(months.milestone))
    cases = [(_deals_statement(), {"workspace": WS, "since": NOW - timedelta(days=60)}),
             (by_month, {"workspace": WS, "first": date(2026, 6, 1)})]
    with history.engine.connect() as connection:
        for statement, params in cases:
            expected = [tuple(row) for row in connection.execute(statement, params)]
            got = Prepared(statement).rows(connection, {**params, "unused": 1})
            assert got == expected
            assert len(got) > 3
        stamps = [row[1] for row in Prepared(cases[0][0]).rows(connection, cases[0][1])]
        assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in stamps)


def test_prepared_statements_are_seen_by_the_engine_events(history):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    prepared = Prepared(_deals_statement())
    sa.event.listen(history.engine, "before_cursor_execute", record)
    try:
        with history.engine.connect() as connection:
            prepared.rows(connection, {"workspace": WS, "since": NOW})
            prepared.rows(connection, {"workspace": WS, "since": NOW})
    finally:
        sa.event.remove(history.engine, "before_cursor_execute", record)
    selects = [s for s in seen if s.lstrip().startswith("SELECT")]
    assert len(selects) == 2 and all("FROM deals" in s for s in selects), seen


def test_expanding_parameters_run_through_sqlalchemy(history):
    """An IN list's text changes with its values: such a statement runs as SQLAlchemy runs
    it (the light SQLite reader expands it itself, storage/compiled.py)."""
    d = Deal.__table__.c
    statement = (sa.select(d.key).where(d.stage.in_(sa.bindparam("stages", expanding=True)))
                 .order_by(d.key))
    with history.engine.connect() as connection:
        for stages in (["lead"], ["lead", "demo"]):
            expected = [tuple(row) for row in connection.execute(statement, {"stages": stages})]
            assert Prepared(statement).rows(connection, {"stages": stages}) == expected


def _funnel_executions(database) -> list[tuple[str, bool, dict | tuple]]:
    """(statement, compiled by SQLAlchemy on this call?, parameters) of the funnel's reads."""
    found: list[tuple[str, bool, dict | tuple]] = []

    def record(_conn, _cursor, statement, parameters, context, _many) -> None:
        found.append((statement, context is not None and context.compiled is not None,
                      parameters))  # no context: run on the driver (storage/driver.py)

    with database.read() as session:
        workspace = session.get(Workspace, WS)
        period = parse_period("this-quarter", now=NOW, tz=workspace.timezone)
        facts = SqlFacts(session=session, workspace=workspace, clock=lambda: NOW)
        sa.event.listen(database.engine, "before_cursor_execute", record)
        try:
            result = compute_kpi("funnel", facts=facts, period=period, now=NOW)
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", record)
    assert [row.key for row in result.rows] == [stage.value for stage in STAGE_ORDER]
    return [f for f in found if f[0].lstrip().upper().startswith("SELECT")]


def test_the_funnel_runs_prepared_statements(history):
    """Counts, medians, stalled counts and deals: text compiled once, not on every call."""
    executions = _funnel_executions(history)
    assert len(executions) >= 5
    compiled_each_time = [s for s, compiled, _p in executions if compiled]
    assert not compiled_each_time, compiled_each_time


def test_the_funnel_reads_the_values_at_the_medians_ranks_only(history):
    """The funnel shows median days: per stage at most the two middle values are read (not
    those of p90, which stage-time shows)."""
    executions = _funnel_executions(history)
    measures = len(STAGE_ORDER) - 1
    # The period's (it reaches the present): each middle rank's bucket, its deals counted
    # before the settled hour (remembered; storage/stage_durations.py `_split_values`), a
    # part per bucket padded to a power of two: at most two buckets a stage (with p90's, up
    # to four: 32 parts). Those since the hour come with their histogram (`_recent_rows`).
    part = "AS part, deal_durations.ms"
    buckets = [s for s, _c, _p in executions if part in s and "LIMIT" not in s]
    assert len(buckets) == 1, executions
    for statement in buckets:
        assert statement.count(part) <= 1 << (2 * measures - 1).bit_length()
    # the stalled thresholds' (the trailing 90 days, ended before the settle): at the ranks
    values = [(s, p) for s, _c, p in executions if "deal_durations.ms" in s and "LIMIT" in s]
    assert len(values) == 1, executions
    for statement, params in values:
        if "unnest(" in statement:  # PostgreSQL: arrays of (measure, bucket, offset, limit)
            limits = list(params[3])
        elif isinstance(params, tuple | list):  # SQLite: positions; parts end LIMIT ? OFFSET ?
            limits = _limits_of_positions(statement, tuple(params))
        else:
            limits = [v for k, v in params.items() if k.startswith("limit_")]
        assert 0 < sum(limits) <= 2 * measures, limits


def _limits_of_positions(statement: str, params: tuple) -> list[int]:
    """The LIMIT values of a qmark statement whose parts end `LIMIT ? OFFSET ?`."""
    marks = [i for i, ch in enumerate(statement) if ch == "?"]
    return [params[n] for n, at in enumerate(marks)
            if statement[:at].rstrip().upper().endswith("LIMIT")]

"""event_duration_counts always equals a recomputation from `events`, whatever wrote them (chat
logs, bulk records, undo, a deferred import, a CSV import, a rep link, SQL by hand: the
triggers of migration 0021 keep it, not the code), and the migration fills it for an existing
database. `event_durations` over long periods reads it (and only the edges and a few buckets
of events) and gives exactly the distribution of the durations themselves, for the team and
per user, in several zones; short periods read their durations as before."""

from __future__ import annotations

import bisect
import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from storage import event_durations, migrate
from storage.engine import Database
from storage.event_durations import BOUNDS, bucket_of, histograms_serve, seconds_in
from storage.event_queries import find_by_idempotency_key
from storage.facts import SqlFacts
from storage.models import DurationBucket, Event, EventDurationCount, Workspace
from storage.recording import NewEvent, record_event, record_events, void_event
from storage.reps import link_rep
from storage.upkeep import Deferred, apply_deferred
from storage.workspaces import ensure_user, ensure_workspace
from tests.storage.deal_tables import trigger_names
from tests.support.statements import executed

WS = "slack:TEVDUR"
OTHER = "slack:TEVDUROTHER"
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
DAY = timedelta(days=1)
RESPONDED = "inbound-responded"
USERS = ("U1", "U2", "rep:jane-doe")
SPAN_START = datetime(2024, 10, 20, tzinfo=UTC)
SPAN_DAYS = 760


def _expected(session) -> dict:
    """(workspace, kind, user or "", UTC month, bucket) -> (events, seconds), from events."""
    rows: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for ws, kind, user, at, seconds in session.execute(sa.select(
            Event.workspace_id, Event.kind, Event.user_id, Event.occurred_at,
            Event.duration_seconds).where(Event.duration_seconds.is_not(None),
                                          Event.voided_at.is_(None))):
        at = at.astimezone(UTC)
        for who in ("", user):
            row = rows[(ws, kind, who, at.year * 12 + at.month - 1, bucket_of(seconds))]
            row[0] += 1
            row[1] += seconds
    return {key: tuple(value) for key, value in rows.items()}


def _stored(session) -> dict:
    c = EventDurationCount.__table__.c
    return {(ws, kind, user, month, bucket): (n, total) for ws, kind, user, month, bucket, n,
            total in session.execute(sa.select(c.workspace_id, c.kind, c.user_id, c.month,
                                               c.bucket, c.events, c.total_seconds))
            if (n, total) != (0, 0)}


def _assert_in_step(database, step: str) -> int:
    """Asserts the histograms equal the recomputation; returns how many events they hold."""
    with database.read() as session:
        expected = _expected(session)
        assert _stored(session) == expected, step
    return sum(n for (_ws, _k, user, _m, _b), (n, _t) in expected.items() if user == "")


def _setup(database, timezone: str = "Europe/Oslo") -> None:
    with database.write() as session:
        for workspace in (WS, OTHER):
            ensure_workspace(session=session, workspace_id=workspace, platform="slack",
                             timezone=timezone, now=NOW - 900 * DAY)
            for user in USERS:
                ensure_user(session=session, workspace_id=workspace, user_id=user)


def _random_events(seed: int, n: int, *, start: datetime = SPAN_START,
                   days: int = SPAN_DAYS) -> list[NewEvent]:
    """Responses (ties, zero and huge durations, durations on bucket edges), requests and
    calls, by three users, at random instants (microseconds too) over `days` days."""
    rng = random.Random(seed)
    edges = [s for s in (seconds_in(b)[0] for b in BOUNDS[2:60]) if s > 0]
    events = []
    for i in range(n):
        at = start + timedelta(seconds=rng.randrange(days * 86_400),
                               microseconds=rng.randrange(1_000_000))
        kind = rng.choice((RESPONDED, RESPONDED, RESPONDED, "inbound-request", "call"))
        seconds = None
        if kind == RESPONDED:
            seconds = rng.choice((rng.randint(0, 600), rng.randint(20, 90_000),
                                  rng.choice(edges), rng.choice(edges) - 1, 180, 181, 0,
                                  10 ** 8))
        events.append(NewEvent(kind=kind, user_id=rng.choice(USERS), logged_by="U1",
                               occurred_at=at, idempotency_key=f"e{seed}-{i}",
                               duration_seconds=seconds))
    return events


def _import(database, tmp_path, rows: list[str]) -> None:
    """A CSV import (the importer's deferred upkeep) with a duration_seconds column."""
    path = tmp_path / f"import-{uuid.uuid4().hex}.csv"
    header = ",".join((*CANONICAL_COLUMNS, "duration_seconds"))
    path.write_text(header + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW,
                        options=ImportOptions(workspace_id=WS))
    assert result.problems == [] and result.stored, result.problems


def test_the_buckets_are_those_of_the_table(database):
    with database.read() as session:
        assert sorted(session.execute(sa.select(DurationBucket.lo_ms)).scalars()) == BOUNDS
    for bucket in BOUNDS:
        low, high = seconds_in(bucket)
        assert all(bucket_of(s) == bucket for s in (low, high - 1) if low < high)
        assert bucket_of(high) != bucket or bucket == BOUNDS[-1]  # the last is open-ended


def test_every_write_path_keeps_the_histograms(database, tmp_path):
    _setup(database)
    history = _random_events(1, 160)
    with database.write() as session:  # bulk (generated history, imports without defer)
        record_events(session=session, workspace=session.get(Workspace, WS),
                      new_events=history[:60], now=NOW)
        record_events(session=session, workspace=session.get(Workspace, OTHER),
                      new_events=_random_events(2, 20), now=NOW)
    assert _assert_in_step(database, "bulk") > 30

    with database.write() as session:  # /kpi log, one at a time
        for new in history[60:90]:
            record_event(session=session, workspace=session.get(Workspace, WS), new=new,
                         now=NOW)
    _assert_in_step(database, "log")

    with database.write() as session:  # /kpi undo, and an undo of an undone event
        workspace = session.get(Workspace, WS)
        for new in history[:90:4]:
            event = find_by_idempotency_key(session=session, workspace_id=WS,
                                            key=new.idempotency_key)
            void_event(session=session, workspace=workspace, event_id=event.id,
                       voided_by="U1", now=NOW)
            void_event(session=session, workspace=workspace, event_id=event.id,
                       voided_by="U1", now=NOW)
    _assert_in_step(database, "undo")

    with database.write() as session:  # the deferred path of an import, with a void in it
        workspace = session.get(Workspace, WS)
        deferred = Deferred()
        record_events(session=session, workspace=workspace, new_events=history[90:],
                      now=NOW, defer=deferred)
        event = find_by_idempotency_key(session=session, workspace_id=WS,
                                        key=history[95].idempotency_key)
        void_event(session=session, workspace=workspace, event_id=event.id, voided_by="U1",
                   now=NOW, defer=deferred)
        apply_deferred(session=session, workspace=workspace, deferred=deferred)
    _assert_in_step(database, "deferred import")

    _import(database, tmp_path, [
        f"2026-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00Z,inbound-responded,,,,,,Jane Doe,,,,"
        f"{i * 37 % 500}" for i in range(30)])
    imported = _assert_in_step(database, "CSV import")

    with database.write() as session:  # the named rep's events move onto U2
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U2")
    assert _assert_in_step(database, "rep link") == imported

    events = Event.__table__
    responded = events.c.kind == RESPONDED

    def change(statement, step: str) -> int:
        with database.write() as session:
            session.execute(statement)
        return _assert_in_step(database, step)

    # SQL by hand: moved across months, durations edited, a kind changed, void and unvoid,
    # moved to another workspace and user, deleted.
    change(sa.update(events).where(responded, events.c.id % 3 == 0).values(
        occurred_at=datetime(2025, 7, 31, 23, 59, 59, 500_000, tzinfo=UTC)), "moved")
    change(sa.update(events).where(responded, events.c.id % 6 == 0).values(
        occurred_at=datetime(2025, 8, 1, tzinfo=UTC)), "moved over a month's edge")
    change(sa.update(events).where(responded, events.c.id % 4 == 1).values(
        duration_seconds=events.c.duration_seconds * 7 + 1), "durations edited")
    change(sa.update(events).where(events.c.kind == "call").values(duration_seconds=42),
           "a duration on another kind")
    change(sa.update(events).where(responded, events.c.id % 5 == 2).values(
        duration_seconds=None), "a duration taken away")
    change(sa.update(events).where(events.c.voided_at.is_not(None)).values(voided_at=None),
           "unvoided")
    change(sa.update(events).where(events.c.id % 6 == 0).values(voided_at=NOW), "voided")
    change(sa.update(events).where(responded, events.c.id % 7 == 3).values(
        workspace_id=OTHER, user_id="U1"), "moved workspace")
    change(sa.update(events).values(note="renamed"), "no change")
    change(sa.delete(events).where(events.c.id % 2 == 0), "delete")
    assert change(sa.delete(events), "delete all") == 0


def test_the_triggers_exist_at_head(database):
    """SQLite drops a table's triggers with it: a migration that rebuilds `events` must create
    them again."""
    assert {"event_duration_counts_insert", "event_duration_counts_delete",
            "event_duration_counts_update"} <= trigger_names(database, ("events",))


# ----------------------------------------------------------------- exact distributions

ZONES = ("Europe/Oslo", "Asia/Kolkata", "America/St_Johns", "UTC")


def _windows(tz: str, rng: random.Random) -> list[tuple[datetime, datetime]]:
    """Long periods: whole local years and quarters, from a month's start, random instants."""
    zone = ZoneInfo(tz)

    def local(y, m, d=1, h=0):
        return datetime(y, m, d, h, tzinfo=zone).astimezone(UTC)

    windows = [(local(2025, 1), local(2026, 1)), (local(2024, 1), local(2027, 1)),
               (local(2025, 4), local(2025, 12, 17, 13)), (SPAN_START, NOW),
               (local(2025, 2, 14, 9), local(2026, 9, 3))]
    for _ in range(8):
        a = SPAN_START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
        windows.append((a, a + timedelta(seconds=rng.randrange(190 * 86_400,
                                                                SPAN_DAYS * 86_400))))
    return windows


def _brute(values: list[int], within: float | None) -> tuple:
    """n, median, mean, p90, total and the count <= within of `values` (the definition)."""
    if not values:
        return 0, None, None, None, 0.0, 0
    values = sorted(values)
    n = len(values)

    def percentile(p10: int) -> float:
        low, remainder = divmod((n - 1) * p10, 10)
        value = float(values[low])
        return value + (values[low + 1] - value) * remainder / 10 if remainder else value

    inside = bisect.bisect_right(values, within) if within is not None else 0
    return n, percentile(5), float(sum(values)) / n, percentile(9), float(sum(values)), inside


@pytest.mark.parametrize("tz", ZONES)
def test_long_periods_give_the_durations_exact_distribution(database, tz):
    _setup(database, tz)
    history = _random_events(7, 700)
    with database.write() as session:
        record_events(session=session, workspace=session.get(Workspace, WS),
                      new_events=history, now=NOW)
        for new in history[::9]:
            event = find_by_idempotency_key(session=session, workspace_id=WS,
                                            key=new.idempotency_key)
            void_event(session=session, workspace=session.get(Workspace, WS),
                       event_id=event.id, voided_by="U1", now=NOW)
    rng = random.Random(tz)
    served = 0
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        rows = session.execute(sa.select(Event.occurred_at, Event.user_id,
                                         Event.duration_seconds).where(
            Event.workspace_id == WS, Event.kind == RESPONDED, Event.voided_at.is_(None),
            Event.duration_seconds.is_not(None))).all()
        for start, end in _windows(tz, rng):
            for user in (None, "U1", "rep:jane-doe", "nobody"):
                within = rng.choice((None, 180.0, 180.5, 279, 0.0, -1.0, 1e12))
                served += histograms_serve(start, end, user, within)
                values = [s for at, who, s in rows if start <= at.astimezone(UTC) < end
                          and user in (None, who)]
                dist, inside = facts.event_durations(RESPONDED, start, end, user=user,
                                                     within=within)
                got = (dist.n, dist.median, dist.mean, dist.p90, dist.total, inside)
                assert got == _brute(values, within), (start, end, user, within)
    assert served > 20  # many of these periods read the histograms


def _statements(database, call) -> list[str]:
    with executed(database.engine) as seen:
        call()
    return [statement for statement, _parameters in seen]


def test_a_long_period_reads_the_histograms_and_a_short_one_its_durations(database):
    _setup(database, "UTC")
    with database.write() as session:
        record_events(session=session, workspace=session.get(Workspace, WS),
                      new_events=_random_events(3, 300), now=NOW)

    def durations(start: datetime, end: datetime) -> list[str]:
        def call() -> None:
            with database.read() as session:
                facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
                facts.event_durations(RESPONDED, start, end, within=180.0)
        return [s for s in _statements(database, call) if "duration_seconds" in s
                or "event_duration_counts" in s]

    years = durations(datetime(2024, 12, 20, 5, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert len(years) == 2 and "FROM event_duration_counts" in years[0]
    assert "ORDER BY events.duration_seconds" in years[1]
    week = durations(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    assert len(week) == 1 and "event_duration_counts" not in week[0]


def _plans(session, statement: str, params: list) -> list[str]:
    raw = session.connection().connection.dbapi_connection
    return [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", params)]


@pytest.mark.parametrize("statistics", ["none", "analyzed", "analyzed before 0021"])
def test_sqlite_reads_each_part_through_its_index(tmp_path, statistics):
    """Without planner statistics, with them, and with statistics gathered before 0021 (the
    benchmark's cache; the migration analyzes what it adds): the histogram months by the key,
    the period's and its edges' durations through ix_events_durations (not every duration of
    the history in the order of the other index), a bucket's values through
    ix_events_duration_values."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade(url, "0020" if statistics == "analyzed before 0021" else "head")
    database = Database.from_url(url)
    try:
        _setup(database, "UTC")
        with database.write() as session:
            record_events(session=session, workspace=session.get(Workspace, WS),
                          new_events=_random_events(5, 5000), now=NOW)
            if statistics != "none":
                session.execute(sa.text("ANALYZE"))
        database.engine.dispose()
        migrate.upgrade(url)
        seen = _statements(database, lambda: _durations_twice(database))
        with database.read() as session:
            kept = [s for s in seen if "duration_seconds" in s]
            plans = [" | ".join(_plans(session, s, _null_params(s))) for s in kept]
    finally:
        database.dispose()
    counts, values, period = plans
    assert "event_duration_counts USING PRIMARY KEY" in counts
    assert counts.count("ix_events_durations (workspace_id=? AND kind=? AND occurred_at>?") == 2
    assert "ix_events_duration_values (workspace_id=? AND kind=? AND duration_seconds>? AND " \
           "duration_seconds<?)" in values
    assert "ix_events_durations (workspace_id=? AND kind=? AND occurred_at>?" in period


def _durations_twice(database) -> None:
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        facts.event_durations(RESPONDED, datetime(2024, 12, 20, 5, tzinfo=UTC),
                              datetime(2026, 11, 3, tzinfo=UTC), within=180.0)
        facts.event_durations(RESPONDED, datetime(2026, 3, 2, tzinfo=UTC),
                              datetime(2026, 3, 9, tzinfo=UTC))


def _null_params(statement: str) -> list:
    """A NULL for each parameter: EXPLAIN needs values, SQLite's plan does not depend on them."""
    return [None] * statement.count("?")


def test_the_migration_fills_them_from_existing_events(database, database_url):
    from alembic import command

    _setup(database)
    database.engine.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0020")
    assert not trigger_names(database, ("events",)) & {"event_duration_counts_insert"}
    with database.write() as session:  # written at 0020: no triggers, no table
        assert not sa.inspect(session.connection()).has_table("event_duration_counts")
        history = _random_events(11, 200)
        record_events(session=session, workspace=session.get(Workspace, WS),
                      new_events=history, now=NOW)
        session.execute(sa.update(Event).where(Event.id % 5 == 0).values(voided_at=NOW))
    database.engine.dispose()
    migrate.upgrade(database_url)
    migrate.check(database_url)
    assert _assert_in_step(database, "backfill") > 80
    _log_one(database)
    _assert_in_step(database, "after the backfill")


def _log_one(database) -> None:
    with database.write() as session:
        record_event(session=session, workspace=session.get(Workspace, WS), new=NewEvent(
            kind=RESPONDED, user_id="U1", logged_by="U1", occurred_at=NOW,
            idempotency_key="one-more", duration_seconds=95), now=NOW)


def test_a_period_without_enough_whole_months_is_not_served():
    month = datetime(2026, 3, 1, tzinfo=UTC)
    assert not histograms_serve(month, month + 150 * DAY, None, None)
    assert histograms_serve(month, month + 200 * DAY, None, 180.0)
    assert not histograms_serve(month, month + 200 * DAY, "", None)  # no rows of its own
    assert not histograms_serve(month, month + 200 * DAY, None, math.inf)
    assert not histograms_serve(month, month + 200 * DAY, "U1", None)
    assert histograms_serve(month, month + 370 * DAY, "U1", None)
    assert (event_durations.MIN_MONTHS, event_durations.MIN_MONTHS_OF_A_USER) == (6, 12)


def test_a_write_between_the_two_statements_gives_the_history_before_or_after(database):
    """A read transaction keeps one snapshot on both databases (PostgreSQL's reads run at
    REPEATABLE READ, storage/engine.py `read`): a write committed between the histograms and
    the values is not seen. Never an error, never a mix."""
    _setup(database, "UTC")
    with database.write() as session:
        record_events(session=session, workspace=session.get(Workspace, WS),
                      new_events=_random_events(13, 400), now=NOW)
    start, end = datetime(2024, 12, 20, 5, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)

    def values(session) -> list[int]:
        return list(session.execute(sa.select(Event.duration_seconds).where(
            Event.workspace_id == WS, Event.kind == RESPONDED, Event.voided_at.is_(None),
            Event.duration_seconds.is_not(None), Event.occurred_at >= start,
            Event.occurred_at < end)).scalars())

    with database.read() as session:
        before = _brute(values(session), 180.0)
    done = []

    def write_between(_conn, _cursor, statement, *_args) -> None:
        if "ORDER BY events.duration_seconds" in statement and not done:
            done.append(True)
            with database.write() as writer:
                writer.execute(sa.delete(Event).where(Event.kind == RESPONDED,
                                                      Event.duration_seconds > 0))

    sa.event.listen(database.engine, "before_cursor_execute", write_between)
    try:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            dist, inside = facts.event_durations(RESPONDED, start, end, within=180.0)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", write_between)
    with database.read() as session:
        after = _brute(values(session), 180.0)
    got = (dist.n, dist.median, dist.mean, dist.p90, dist.total, inside)
    assert done and before != after
    assert got == before

"""Monthly rollups (storage/rollups.py, migration 0014), on SQLite and PostgreSQL.

- Every write path keeps `monthly_rollups` equal to a recomputation from the events, and
  `daily_rollups` with it: log, bulk record, undo, the deferred import path, rep link, rebuild
  after a time zone change.
- Event sums and the mrr-change balance over long periods (read from whole months, edge days
  and edge hours) equal the sums over the events themselves, across month, DST and fiscal-year
  edges, in time zones with whole-, half- and quarter-hour offsets.
- Upgrading to 0014 fills the table from the daily rollups already stored.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from storage import migrate
from storage.event_queries import find_by_idempotency_key
from storage.facts import SqlFacts
from storage.models import DailyRollup, Event, MonthlyRollup, Workspace
from storage.recording import NewEvent, record_event, record_events, void_event
from storage.reps import link_rep
from storage.rollups import rebuild_rollups, rollup_spans
from storage.upkeep import Deferred, apply_deferred
from storage.workspaces import ensure_user, ensure_workspace

WS = "slack:TMONTHS"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
KINDS = ("call", "email-sent", "deal-won", "mrr-change", "inbound-responded")
SOURCES = (None, "web", "referral")
USERS = ("U1", "U2", "rep:jane-doe")


def _history(seed: int, n: int, start: datetime, days: int) -> list[NewEvent]:
    """`n` events spread over `days` days from `start`, several of them on the hours around
    local midnights and DST changes (whole random minutes and seconds)."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        at = start + timedelta(seconds=rng.randrange(days * 86_400))
        kind = rng.choice(KINDS)
        events.append(NewEvent(
            kind=kind, user_id=rng.choice(USERS), logged_by="U1", occurred_at=at,
            idempotency_key=f"h{seed}-{i}", count=rng.randint(1, 5),
            amount_minor=rng.randint(-5_000, 90_000) if kind in ("mrr-change", "deal-won")
            else None,
            duration_seconds=rng.randint(1, 4_000) if kind == "inbound-responded" else None,
            source=rng.choice(SOURCES)))
    return events


def _workspace(session, tz: str, fiscal_year_start: int = 1) -> Workspace:
    return ensure_workspace(session=session, workspace_id=WS, platform="slack", timezone=tz,
                            currency="EUR", fiscal_year_start=fiscal_year_start, now=NOW)


def _record_voiding(database, tz: str, fiscal: int, events: list[NewEvent],
                    voided: set[str]) -> None:
    """Record `events` in the workspace (zone `tz`), then void those whose keys are in
    `voided`, each in its own void."""
    with database.write() as s:
        workspace = _workspace(s, tz, fiscal)
        record_events(session=s, workspace=workspace, new_events=events, now=NOW)
        for key in sorted(voided):
            event = find_by_idempotency_key(session=s, workspace_id=WS, key=key)
            void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1",
                       now=NOW)


def _recomputed(session, tz: str) -> tuple[dict, dict]:
    """(daily, monthly) sums from the non-void events, computed here in Python."""
    zone = ZoneInfo(tz)
    days: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    months: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in session.scalars(select(Event).where(Event.workspace_id == WS,
                                              Event.voided_at.is_(None))):
        day = e.occurred_at.astimezone(zone).date()
        for table, key in ((days, day), (months, day.replace(day=1))):
            row = table[(key, e.kind, e.user_id, e.source or "")]
            for i, value in enumerate((1, e.count, e.amount_minor or 0,
                                       e.duration_seconds or 0)):
                row[i] += value
    return ({k: tuple(v) for k, v in days.items()}, {k: tuple(v) for k, v in months.items()})


def _stored(session, model) -> dict:
    period = model.day if model is DailyRollup else model.month
    rows = session.execute(sa.select(period, model.kind, model.user_id, model.source,
                                     model.events, model.count_sum, model.amount_sum,
                                     model.duration_sum).where(model.workspace_id == WS))
    return {(p, k, u, s): (e, c, a, d) for p, k, u, s, e, c, a, d in rows
            if (e, c, a, d) != (0, 0, 0, 0)}


def _assert_rollups_recomputed(database, tz: str, step: str) -> None:
    with database.read() as s:
        days, months = _recomputed(s, tz)
        assert _stored(s, DailyRollup) == days, step
        assert _stored(s, MonthlyRollup) == months, step


def test_every_write_keeps_monthly_rollups_equal_to_a_recomputation(database):
    tz = "Europe/Oslo"
    history = _history(1, 120, datetime(2026, 1, 25, tzinfo=UTC), 120)
    with database.write() as s:
        workspace = _workspace(s, tz)
        ensure_user(session=s, workspace_id=WS, user_id="rep:jane-doe", now=NOW)
        record_events(session=s, workspace=workspace, new_events=history[:60], now=NOW)
    _assert_rollups_recomputed(database, tz, "bulk record")

    with database.write() as s:  # /kpi log, one at a time
        workspace = _workspace(s, tz)
        for new in history[60:80]:
            record_event(session=s, workspace=workspace, new=new, now=NOW)
    _assert_rollups_recomputed(database, tz, "log")

    with database.write() as s:  # /kpi undo of events in several months
        workspace = _workspace(s, tz)
        for new in history[::7]:
            event = find_by_idempotency_key(session=s, workspace_id=WS, key=new.idempotency_key)
            if event is not None:
                void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1",
                           now=NOW)
    _assert_rollups_recomputed(database, tz, "undo")

    with database.write() as s:  # an import: deferred upkeep, applied once
        workspace = _workspace(s, tz)
        deferred = Deferred()
        record_events(session=s, workspace=workspace, new_events=history[80:], now=NOW,
                      defer=deferred)
        event = find_by_idempotency_key(session=s, workspace_id=WS,
                                        key=history[61].idempotency_key)
        void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1", now=NOW,
                   defer=deferred)
        apply_deferred(session=s, workspace=workspace, deferred=deferred)
    _assert_rollups_recomputed(database, tz, "import")

    with database.write() as s:  # the named rep's rows move onto U2 (adding to U2's)
        link_rep(session=s, workspace_id=WS, rep_id="rep:jane-doe", user_id="U2", now=NOW)
    _assert_rollups_recomputed(database, tz, "rep link")

    with database.write() as s:  # a time zone change moves events across month edges
        workspace = _workspace(s, tz)
        workspace.timezone = "Pacific/Chatham"
        s.add(workspace)
        s.flush()
        rebuild_rollups(session=s, workspace=workspace)
    _assert_rollups_recomputed(database, "Pacific/Chatham", "rebuild")


def _truth(events: list[NewEvent], voided: set[str], start: datetime, end: datetime,
           kinds: tuple[str, ...], by: str | None) -> dict[str, tuple[int, int, int, int]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in events:
        if e.idempotency_key in voided or e.kind not in kinds:
            continue
        if not start <= e.occurred_at < end:
            continue
        key = {None: e.kind, "user": e.user_id, "source": e.source or "other"}[by]
        for i, value in enumerate((1, e.count, e.amount_minor or 0, e.duration_seconds or 0)):
            totals[key][i] += value
    return {k: tuple(v) for k, v in totals.items() if v[0]}


def _windows(tz: str, fiscal_year_start: int) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(tz)

    def local(y, m, d, h=0, minute=0):
        return datetime(y, m, d, h, minute, tzinfo=zone).astimezone(UTC)

    rng = random.Random(tz)
    windows = [
        (local(2020, 1, 1), local(2027, 1, 1)),  # the whole history
        (local(2025, 1, 1), local(2026, 1, 1)),  # a calendar year
        (local(2025, fiscal_year_start, 1), local(2026, fiscal_year_start, 1)),  # fiscal year
        (local(2025, 3, 30), local(2025, 10, 26)),  # DST change days at both ends (Europe)
        (local(2025, 3, 9), local(2025, 11, 2)),  # DST change days at both ends (America)
        (local(2025, 1, 31, 23, 30), local(2025, 4, 1, 0, 30)),  # off midnight, month edges
        (local(2025, 2, 1), local(2025, 3, 1)),  # exactly one month
        (local(2025, 2, 3), local(2025, 2, 27)),  # inside one month
        (local(2025, 5, 1, 6), local(2025, 5, 1, 18)),  # inside one day
        (local(2024, 12, 31, 23, 59), local(2026, 12, 1, 0, 1)),
    ]
    for _ in range(6):
        a = local(2024, 11, 1) + timedelta(minutes=rng.randrange(800 * 24 * 60))
        windows.append((a, a + timedelta(minutes=rng.randrange(1, 500 * 24 * 60))))
    return windows


@pytest.mark.parametrize("tz,fiscal", [("Europe/Oslo", 1), ("America/New_York", 4),
                                       ("Asia/Kolkata", 7), ("Asia/Kathmandu", 10)])
def test_long_period_sums_equal_the_events(database, tz, fiscal):
    events = _history(2, 700, datetime(2024, 11, 1, tzinfo=UTC), 800)
    # a few events on the very edges: local midnights of month starts and DST days
    zone = ZoneInfo(tz)
    for i, (y, m, d) in enumerate([(2025, 2, 1), (2025, 3, 1), (2025, 3, 30), (2025, 11, 2),
                                   (2026, 1, 1), (2025, 10, 26)]):
        for j, minutes in enumerate((-1, 0, 1)):
            at = (datetime(y, m, d, tzinfo=zone) + timedelta(minutes=minutes)).astimezone(UTC)
            events.append(NewEvent(kind="call", user_id="U1", logged_by="U1", occurred_at=at,
                                   idempotency_key=f"edge{i}-{j}", count=10 ** j,
                                   source="web"))
    voided = {e.idempotency_key for e in events[::11]}
    _record_voiding(database, tz, fiscal, events, voided)
    with database.read() as s:
        facts = SqlFacts(session=s, workspace=s.get(Workspace, WS))
        for start, end in _windows(tz, fiscal):
            for kinds in (KINDS, ("call",), ("mrr-change", "deal-won")):
                for by in (None, "user", "source"):
                    got = {k: (v.events, v.count, v.amount, v.duration)
                           for k, v in facts.event_sums(kinds, start, end, by=by).items()}
                    assert got == _truth(events, voided, start, end, kinds, by), \
                        (start, end, kinds, by)
            balance = sum(e.amount_minor or 0 for e in events
                          if e.kind == "mrr-change" and e.idempotency_key not in voided
                          and e.occurred_at < end)
            assert facts.mrr_at(end) == balance, end


def test_a_year_reads_whole_months_and_only_edge_days():
    """The read plan: whole months from monthly_rollups, the rest of the days from
    daily_rollups (never more than the two partial months' days)."""
    spans = rollup_spans(date(2025, 1, 15), date(2026, 1, 10))
    assert spans == [(DailyRollup, date(2025, 1, 15), date(2025, 2, 1)),
                     (MonthlyRollup, date(2025, 2, 1), date(2026, 1, 1)),
                     (DailyRollup, date(2026, 1, 1), date(2026, 1, 10))]
    assert rollup_spans(date(2025, 1, 1), date(2026, 1, 1)) == [
        (MonthlyRollup, date(2025, 1, 1), date(2026, 1, 1))]
    assert rollup_spans(date(2025, 12, 3), date(2026, 1, 20)) == [
        (DailyRollup, date(2025, 12, 3), date(2026, 1, 20))]  # no whole month inside
    assert rollup_spans(date(2025, 12, 3), date(2025, 12, 20)) == [
        (DailyRollup, date(2025, 12, 3), date(2025, 12, 20))]


def test_upgrading_to_0014_fills_monthly_rollups_from_the_daily_ones(database_url):
    from alembic import command

    from storage.engine import Database

    tz = "America/New_York"
    database = Database.from_url(database_url)
    try:
        with database.write() as s:
            workspace = _workspace(s, tz)
            record_events(session=s, workspace=workspace,
                          new_events=_history(3, 200, datetime(2025, 10, 20, tzinfo=UTC), 90),
                          now=NOW)
        database.dispose()
        command.downgrade(migrate.alembic_config(database_url), "0013")
        assert "monthly_rollups" not in sa.inspect(database.engine).get_table_names()
        database.dispose()
        migrate.upgrade(database_url)
        migrate.check(database_url)
        _assert_rollups_recomputed(database, tz, "backfill")
    finally:
        database.dispose()

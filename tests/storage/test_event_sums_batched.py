"""Event KPIs read each window in one statement (issue 18: long periods), on both backends.

- `SqlFacts.event_sums_by_kind` (one statement grouped by kind and user) returns exactly its
  definition in reports/kpis/facts.py (the single `event_sums` calls) and the sums over the
  events themselves, over windows across month, DST and fiscal-year edges, in zones with
  whole-, half- and quarter-hour offsets, for the team and for one rep.
- The whole months come from a covering index (SQLite's query plan).
- The event KPIs (rates, counts, meetings, activities, inbound response time, activity quotas)
  run one event statement per window they compute: over a running period, three windows (the
  period, its elapsed part and the previous one's) — not one per kind and grouping.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from reports.kpis.comparing import compute_compared
from reports.kpis.compute import compute_kpi
from reports.kpis.facts import Facts
from reports.periods import parse_period
from sampledata import seed_workspace
from storage.event_durations import histograms_serve
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.quotas import set_quota
from storage.recording import NewEvent, record_events
from tests.storage.query_plans import _captured, _plans
from tests.storage.test_monthly_rollups import (
    KINDS,
    NOW,
    USERS,
    WS,
    _history,
    _record_voiding,
    _windows,
    _workspace,
)


def _sums(events: list[NewEvent], voided: set[str], start: datetime, end: datetime,
          kinds: tuple[str, ...], user: str | None) -> tuple[dict, dict]:
    """(per kind, per kind and user) sums of the non-void events, computed here."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    per_user: dict[str, dict[str, list[int]]] = {kind: defaultdict(lambda: [0, 0, 0, 0])
                                                 for kind in kinds}
    for e in events:
        if e.idempotency_key in voided or e.kind not in kinds:
            continue
        if not start <= e.occurred_at < end or user not in (None, e.user_id):
            continue
        for row in (totals[e.kind], per_user[e.kind][e.user_id]):
            for i, value in enumerate((1, e.count, e.amount_minor or 0,
                                       e.duration_seconds or 0)):
                row[i] += value
    return ({k: tuple(v) for k, v in totals.items() if v[0]},
            {kind: {u: tuple(v) for u, v in reps.items() if v[0]}
             for kind, reps in per_user.items()})


def _plain(found: tuple[dict, dict]) -> tuple[dict, dict]:
    totals, users = found
    def four(s):
        return (s.events, s.count, s.amount, s.duration)
    return ({k: four(s) for k, s in totals.items()},
            {kind: {u: four(s) for u, s in reps.items()} for kind, reps in users.items()})


@pytest.mark.parametrize("tz,fiscal", [("Europe/Oslo", 1), ("America/New_York", 4),
                                       ("Asia/Kolkata", 7), ("Asia/Kathmandu", 10)])
def test_event_sums_by_kind_equal_the_single_calls_and_the_events(database, tz, fiscal):
    events = _history(3, 600, datetime(2024, 11, 1, tzinfo=UTC), 800)
    voided = {e.idempotency_key for e in events[::13]}
    _record_voiding(database, tz, fiscal, events, voided)
    checked = 0
    with database.read() as s:
        facts = SqlFacts(session=s, workspace=s.get(Workspace, WS))
        for start, end in _windows(tz, fiscal):
            for kinds in (KINDS, ("call", "email-sent"), ("inbound-responded",)):
                for user in (None, USERS[2]):
                    for per_user in (False, True):
                        got = facts.event_sums_by_kind(kinds, start, end, user=user,
                                                       per_user=per_user)
                        assert got == Facts.event_sums_by_kind(
                            facts, kinds, start, end, user=user, per_user=per_user), \
                            (start, end, kinds, user)
                        totals, users = _sums(events, voided, start, end, kinds, user)
                        assert _plain(got) == (totals, users if per_user else {}), \
                            (start, end, kinds, user)
                        checked += bool(totals)
    assert checked > 100  # most windows hold events


@pytest.fixture
def history(database):
    events = _history(4, 900, datetime(2024, 11, 1, tzinfo=UTC), 760)
    events += [NewEvent(kind=kind, user_id=user, logged_by="U1", occurred_at=at,
                        idempotency_key=f"k{i}-{j}-{kind}", count=1 + j,
                        duration_seconds=60 * (i + 1) if kind == "inbound-responded" else None)
               for i, at in enumerate(datetime(2025, m, 3, 9, tzinfo=UTC) for m in range(1, 13))
               for j, user in enumerate(USERS)
               for kind in ("email-delivered", "email-opened", "meeting-booked",
                            "meeting-held", "demo-held", "demo-booked", "website-visit",
                            "inbound-request", "inbound-responded")]
    with database.write() as s:
        workspace = _workspace(s, "Asia/Kolkata")
        record_events(session=s, workspace=workspace, new_events=events, now=NOW)
        for user in USERS:
            set_quota(session=s, workspace_id=WS, user_id=user, metric="demo-booked",
                      cadence="monthly", target=3, set_by="U1", now=NOW,
                      effective_from=date(2024, 1, 1))
    return database


def _event_statements(database, call) -> tuple[list[str], object]:
    """The statements reading events or rollups while `call(facts)` runs, and its result."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if ("rollups" in statement or "FROM events" in statement
                or "event_duration_counts" in statement):
            statements.append(statement)

    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        sa.event.listen(database.engine, "before_cursor_execute", record)
        try:
            result = call(facts)
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", record)
    return statements, result


# KPI → event statements per window: the sums, and for the response time its durations
# (over half a year or more two: their histograms, then a few buckets; `_durations_extra`).
EVENT_KPIS = {"open-rate": 1, "website-visits": 1, "meetings": 1, "activities": 1,
              "inbound-response-time": 2, "quota-attainment": 1, "reps-at-quota": 1}
QUOTAS_FROM = datetime(2024, 1, 1, tzinfo=UTC)  # a window before has no quota: no counts


def _durations_extra(name: str, span, user: str | None) -> int:
    """1 when `name` reads a window's durations from their histograms (a second statement)."""
    return int(name == "inbound-response-time"
               and histograms_serve(span.start, span.end, user, None))


@pytest.mark.parametrize("name", sorted(EVENT_KPIS))
def test_an_event_kpi_reads_each_window_in_one_statement(history, name):
    now = datetime(2025, 12, 5, 20, tzinfo=UTC)
    for text in ("this-year", "2020-01-01..2027-01-01", "last-month"):
        period = parse_period(text, now=now, tz="Asia/Kolkata")
        statements, compared = _event_statements(history, lambda facts, p=period: (
            compute_compared(name, facts=facts, period=p, now=now)))
        spans = [period, compared.spans.previous]
        spans += [compared.spans.current] if compared.spans.partial else []
        if "quota" in name:
            spans = [span for span in spans if span.end > QUOTAS_FROM]
        assert len(statements) == EVENT_KPIS[name] * len(spans) + sum(
            _durations_extra(name, span, None) for span in spans), (text, statements)
        for user in (None, USERS[0]):
            statements, _result = _event_statements(history, lambda facts, p=period, u=user: (
                compute_kpi(name, facts=facts, period=p, now=now, user=u)))
            assert len(statements) == EVENT_KPIS[name] + _durations_extra(name, period, user), (
                text, user)
        assert compared.result.value is not None, text  # the history has these events


def test_activity_quotas_read_every_metric_in_one_statement(history):
    """Quotas on two activity metrics: one statement for both."""
    with history.write() as s:
        set_quota(session=s, workspace_id=WS, user_id=USERS[1], metric="meeting-held",
                  cadence="monthly", target=2, set_by="U1", now=NOW,
                  effective_from=date(2024, 1, 1))
    now = datetime(2025, 12, 5, 20, tzinfo=UTC)
    period = parse_period("this-year", now=now, tz="Asia/Kolkata")
    statements, result = _event_statements(history, lambda facts: compute_kpi(
        "quota-attainment", facts=facts, period=period, now=now))
    assert len(statements) == 1
    assert {row.extra["metric"] for row in result.rows} == {"demo-booked", "meeting-held"}


def test_long_period_sums_read_the_monthly_rollups_index_alone_on_sqlite(history):
    """The whole months come from the covering index ix_monthly_rollups_kind (migration
    0018: no table lookup per month, kind, rep and source); the edges through indexes."""
    if history.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    zone = ZoneInfo("Asia/Kolkata")
    start = datetime(2024, 11, 3, 7, 30, tzinfo=zone)  # edge hours, days, then whole months
    end = datetime(2025, 12, 5, 20, 15, tzinfo=zone)

    def run() -> None:
        with history.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            facts.event_sums_by_kind(("call", "email-sent"), start, end, per_user=True)

    text = _plans(history, _captured(history, run), "event_sums_by_kind")
    assert "monthly_rollups USING COVERING INDEX ix_monthly_rollups_kind" in text, text
    assert "ix_events_workspace_occurred" in text and "daily_rollups" in text, text


def test_won_amounts_equal_closed_deals_wins_for_the_team_and_each_rep(database):
    """Quota attainment's revenue per rep (`won_amounts`, the wins alone) is what its
    definition over closed_deals says, over windows across month edges and the history."""
    ws = "slack:TWON"
    seed_workspace(database=database, workspace_id=ws, target_events=3_000, end=NOW, seed=9,
                   timezone="Asia/Kathmandu")
    windows = [(datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
               (datetime(2026, 9, 14, 18, 15, tzinfo=UTC), datetime(2026, 11, 2, 3, tzinfo=UTC)),
               (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))]
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, ws))
        owners = sorted(k for k in facts.closed_deals(*windows[0], by="user"))
        wins = 0
        for start, end in windows:
            for user in (None, *owners[:2]):
                for by in (None, "user"):
                    got = facts.won_amounts(start, end, user=user, by=by)
                    assert got == Facts.won_amounts(facts, start, end, user=user, by=by), \
                        (start, user, by)
                    wins += len(got)
        assert wins > 5 and len(owners) > 2  # the windows hold wins of several reps

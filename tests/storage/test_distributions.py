"""Distributions (`SqlFacts._distribution`: values read by SQL, ranked in Python) equal the
percentile definition of storage/facts.py on many values, odd and even counts, ties, voided
events and a `within` bound, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from storage.event_queries import find_by_idempotency_key
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_events, void_event
from storage.workspaces import ensure_workspace

WS = "slack:TDIST"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
START = datetime(2025, 1, 1, tzinfo=UTC)


def _percentile(values: list[int], p: float) -> float:
    rank = (len(values) - 1) * p
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@pytest.mark.parametrize("n", [1, 2, 7, 400, 401])
def test_response_time_distribution_is_the_defined_percentiles(database, n):
    rng = random.Random(n)
    events = [NewEvent(kind="inbound-responded", user_id=rng.choice(("U1", "U2")),
                       logged_by="U1", occurred_at=START + timedelta(minutes=rng.randrange(
                           600_000)), idempotency_key=f"d{i}",
                       duration_seconds=rng.choice((rng.randint(1, 900), 60, 180)))
              for i in range(n + 3)]
    voided = events[-3:]
    with database.write() as s:
        workspace = ensure_workspace(session=s, workspace_id=WS, platform="slack",
                                     timezone="Europe/Oslo", now=NOW)
        record_events(session=s, workspace=workspace, new_events=events, now=NOW)
        for new in voided:
            event = find_by_idempotency_key(session=s, workspace_id=WS, key=new.idempotency_key)
            void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1",
                       now=NOW)
    end = START + timedelta(days=500)
    kept = [e for e in events[:-3] if e.occurred_at < end]
    with database.read() as s:
        facts = SqlFacts(session=s, workspace=s.get(Workspace, WS))
        for user in (None, "U1"):
            values = sorted(e.duration_seconds for e in kept if user in (None, e.user_id))
            dist, within = facts.event_durations("inbound-responded", START, end, user=user,
                                                 within=180)
            assert dist.n == len(values)
            assert dist.total == sum(values)
            assert dist.mean == pytest.approx(sum(values) / len(values), rel=1e-12)
            assert dist.median == pytest.approx(_percentile(values, 0.5), rel=1e-12)
            assert dist.p90 == pytest.approx(_percentile(values, 0.9), rel=1e-12)
            assert within == sum(1 for v in values if v <= 180)

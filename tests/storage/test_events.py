"""Recording, voiding, idempotency, rollups and deal upkeep, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.event_queries import find_last_logged, list_events
from storage.models import DailyRollup, Deal, Event
from storage.recording import NewEvent, record_event, record_events, void_event
from storage.rollups import rebuild_rollups
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def _workspace(session, wid="slack:T1", tz="Europe/Oslo"):
    return ensure_workspace(session=session, workspace_id=wid, platform="slack", timezone=tz,
                            now=NOW)


def _new(kind="call", key="k1", **kw) -> NewEvent:
    kw.setdefault("user_id", "U1")
    kw.setdefault("logged_by", kw["user_id"])
    kw.setdefault("occurred_at", NOW)
    return NewEvent(kind=kind, idempotency_key=key, **kw)


def _rollups(session, wid="slack:T1"):
    return session.scalars(select(DailyRollup).where(DailyRollup.workspace_id == wid)).all()


def test_record_stores_once_per_idempotency_key(database):
    with database.write() as s:
        ws = _workspace(s)
        first = record_event(session=s, workspace=ws, new=_new(count=12))
        again = record_event(session=s, workspace=ws, new=_new(count=99))
    assert not first.duplicate and again.duplicate
    assert again.event.id == first.event.id and again.event.count == 12
    with database.read() as s:
        assert len(list_events(session=s, workspace_id="slack:T1")) == 1
        (rollup,) = _rollups(s)
    assert (rollup.events, rollup.count_sum, rollup.day) == (1, 12, date(2026, 11, 18))


def test_rollup_day_is_the_workspace_local_day(database):
    late = datetime(2026, 11, 18, 23, 30, tzinfo=UTC)  # 00:30 on the 19th in Oslo
    with database.write() as s:
        record_event(session=s, workspace=_workspace(s), new=_new(occurred_at=late))
    with database.read() as s:
        assert [r.day for r in _rollups(s)] == [date(2026, 11, 19)]


def test_void_keeps_the_row_and_takes_it_out_of_rollups_and_deals(database):
    with database.write() as s:
        ws = _workspace(s)
        lead = record_event(session=s, workspace=ws, new=_new("lead", "a", deal_key="acme",
                                                             deal_name="Acme", source="referral"))
        won = record_event(session=s, workspace=ws, new=_new(
            "deal-won", "b", deal_key="acme", deal_name="Acme", amount_minor=500_00,
            currency="USD", occurred_at=NOW + timedelta(hours=1)))
    with database.read() as s:
        deal = s.scalars(select(Deal)).one()
        assert deal.outcome == "won" and deal.amount_minor == 500_00 and deal.source == "referral"
    with database.write() as s:
        void_event(session=s, workspace=_workspace(s), event_id=won.event.id, voided_by="U1",
                   now=NOW)
    with database.read() as s:
        deal = s.scalars(select(Deal)).one()
        assert deal.outcome == "open" and deal.stage == "lead" and deal.amount_minor is None
        won_rollup = [r for r in _rollups(s) if r.kind == "deal-won"]
        assert won_rollup[0].events == 0 and won_rollup[0].amount_sum == 0
        stored = s.get(Event, won.event.id)
        assert stored.voided_at is not None and stored.voided_by == "U1"
        assert find_last_logged(session=s, workspace_id="slack:T1", logged_by="U1").id \
            == lead.event.id
    with database.write() as s:
        void_event(session=s, workspace=_workspace(s), event_id=lead.event.id, voided_by="U1",
                   now=NOW)
    with database.read() as s:
        assert s.scalars(select(Deal)).all() == []


def test_workspaces_never_see_each_others_events(database):
    with database.write() as s:
        record_event(session=s, workspace=_workspace(s, "slack:T1"), new=_new(key="same"))
        other = record_event(session=s, workspace=_workspace(s, "slack:T2"), new=_new(key="same"))
    assert not other.duplicate  # the idempotency key is scoped to the workspace
    with database.read() as s:
        assert len(list_events(session=s, workspace_id="slack:T1")) == 1
        assert len(list_events(session=s, workspace_id="slack:T2")) == 1
        assert find_last_logged(session=s, workspace_id="slack:T3", logged_by="U1") is None


def test_bulk_record_skips_known_keys_and_matches_single_records(database):
    batch = [_new("call", f"k{i}", count=i + 1, occurred_at=NOW - timedelta(days=i % 3))
             for i in range(30)]
    with database.write() as s:
        ws = _workspace(s)
        assert record_events(session=s, workspace=ws, new_events=batch) == 30
        assert record_events(session=s, workspace=ws, new_events=batch[:10]) == 0
    with database.read() as s:
        total = sum(r.count_sum for r in _rollups(s))
    assert total == sum(range(1, 31))
    with database.write() as s:
        rebuild_rollups(session=s, workspace=_workspace(s))
    with database.read() as s:
        assert sum(r.count_sum for r in _rollups(s)) == total


def test_concurrent_identical_requests_store_one_event(database):
    with database.write() as s:
        _workspace(s)
    results = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        with database.write() as s:
            results.append(record_event(session=s, workspace=_workspace(s),
                                        new=_new(key="slack:trigger-1")).duplicate)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] + [True] * 7
    with database.read() as s:
        assert len(list_events(session=s, workspace_id="slack:T1")) == 1


def test_naive_timestamps_are_refused(database):
    with pytest.raises(ValueError, match="tz-aware"), database.write() as s:
        record_event(session=s, workspace=_workspace(s),
                     new=_new(occurred_at=datetime(2026, 1, 1)))
    with database.read() as s:
        assert list_events(session=s, workspace_id="slack:T1") == []

"""Schedules and the delivery ledger on SQLite and PostgreSQL: one claim per slot."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from storage import digests as ledger
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def _schedule(database, channel="C1", workspace="slack:T1"):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=workspace, platform="slack", now=NOW)
        return ledger.save_schedule(session=session, workspace_id=workspace, platform="slack",
                                    channel_id=channel, owner_id="U1", now=NOW,
                                    fields=ledger.ScheduleFields(timezone="Europe/Oslo"))


def _claim(database, schedule, worker, now=NOW):
    with database.write() as session:
        return ledger.claim_slot(session=session, schedule=schedule, slot_at=SLOT,
                                 worker=worker, now=now, lease=LEASE)


def test_save_schedule_replaces_the_channel_row(database):
    first = _schedule(database)
    with database.write() as session:
        again = ledger.save_schedule(session=session, workspace_id="slack:T1",
                                     platform="slack", channel_id="C1", owner_id="U2",
                                     now=NOW + timedelta(hours=1),
                                     fields=ledger.ScheduleFields(cadence="monthly", day=-1,
                                                                  hour=8, language="nb"))
    assert again.id == first.id
    with database.read() as session:
        rows = ledger.list_schedules(session=session, workspace_id="slack:T1")
    assert [(r.cadence, r.day, r.hour, r.language, r.owner_id) for r in rows] == \
        [("monthly", -1, 8, "nb", "U2")]


def test_disable_and_version_changes(database):
    schedule = _schedule(database)
    with database.read() as session:
        before = ledger.schedules_version(session=session)
    with database.write() as session:
        assert ledger.disable_schedule(session=session, workspace_id="slack:T1",
                                       platform="slack", channel_id="C1",
                                       now=NOW + timedelta(seconds=1)) is not None
        assert ledger.disable_schedule(session=session, workspace_id="slack:T1",
                                       platform="slack", channel_id="C1",
                                       now=NOW + timedelta(seconds=2)) is None
    with database.read() as session:
        assert ledger.schedules_version(session=session) != before
        assert ledger.list_schedules(session=session, enabled_only=True) == []
        assert ledger.get_schedule(session=session, workspace_id="slack:T1", platform="slack",
                                   channel_id="C1").id == schedule.id


def test_a_slot_is_claimed_once(database):
    schedule = _schedule(database)
    claim = _claim(database, schedule, "a")
    assert claim is not None and claim.claimed_by == "a" and claim.status == "claimed"
    assert _claim(database, schedule, "b") is None


def test_concurrent_claims_have_exactly_one_winner(database):
    schedule = _schedule(database)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _claim(database, schedule, f"w{i}"), range(8)))
    assert sum(r is not None for r in results) == 1
    with database.read() as session:
        assert len(ledger.list_deliveries(session=session)) == 1


def test_expired_lease_is_taken_over_by_one_process_and_finished_slots_never(database):
    schedule = _schedule(database)
    dead = _claim(database, schedule, "dead")
    assert _claim(database, schedule, "b", now=NOW + LEASE - timedelta(seconds=1)) is None
    later = NOW + LEASE + timedelta(seconds=1)
    with database.read() as session:
        assert ledger.known_slots(session=session, schedule_id=schedule.id, since=SLOT,
                                  now=later) == {SLOT: "expired"}
    taken = _claim(database, schedule, "b", now=later)
    assert taken is not None and taken.id == dead.id and taken.claimed_by == "b"
    assert _claim(database, schedule, "c", now=later) is None
    with database.write() as session:  # the dead process cannot finish any more
        assert not ledger.finish_delivery(session=session, delivery_id=dead.id, worker="dead",
                                          status="sent", now=later, attempts=1)
        assert ledger.finish_delivery(session=session, delivery_id=taken.id, worker="b",
                                      status="sent", now=later, attempts=1, message_id="1.2")
    assert _claim(database, schedule, "d", now=later + 2 * LEASE) is None
    with database.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert (row.status, row.message_id, row.attempts, row.lease_expires_at) == \
        ("sent", "1.2", 1, None)


def test_a_released_claim_is_taken_over_at_once_and_its_old_holder_writes_nothing(database):
    """A stopping process hands its claim back (release_claim): the next process takes it
    over right away, not after the lease, with its attempts (so it looks in the channel
    before posting); the old holder can neither renew, finish nor release it again."""
    schedule = _schedule(database)
    claim = _claim(database, schedule, "stopping")
    with database.write() as session:
        assert ledger.renew_claim(session=session, delivery_id=claim.id, worker="stopping",
                                  now=NOW, lease=LEASE, attempts=1)
    released_at = NOW + timedelta(seconds=5)
    with database.write() as session:
        assert ledger.release_claim(session=session, delivery_id=claim.id, worker="stopping",
                                    now=released_at)
        assert not ledger.release_claim(session=session, delivery_id=claim.id,
                                        worker="stopping", now=released_at)
    next_moment = released_at + timedelta(microseconds=1)
    with database.read() as session:
        assert [r.id for r in ledger.expired_claims(session=session, now=next_moment)] == \
            [claim.id]
    with database.write() as session:
        assert not ledger.renew_claim(session=session, delivery_id=claim.id, worker="stopping",
                                      now=next_moment, lease=LEASE, attempts=2)
        assert not ledger.finish_delivery(session=session, delivery_id=claim.id,
                                          worker="stopping", status="sent", now=next_moment,
                                          attempts=2)
    taken = _claim(database, schedule, "next", now=next_moment)
    assert taken is not None and (taken.id, taken.attempts) == (claim.id, 1)
    assert taken.claimed_by == "next" and taken.status == "claimed"


def test_a_finished_delivery_is_not_released(database):
    schedule = _schedule(database)
    claim = _claim(database, schedule, "a")
    with database.write() as session:
        assert ledger.finish_delivery(session=session, delivery_id=claim.id, worker="a",
                                      status="sent", now=NOW, attempts=1, message_id="1.2")
        assert not ledger.release_claim(session=session, delivery_id=claim.id, worker="a",
                                        now=NOW)
    with database.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert (row.status, row.claimed_by, row.lease_expires_at) == ("sent", "a", None)


def test_skipped_slot_is_recorded_once_and_blocks_claims(database):
    schedule = _schedule(database)
    with database.write() as session:
        assert ledger.record_skipped(session=session, schedule=schedule, slot_at=SLOT,
                                     now=NOW, reason="missed")
        assert not ledger.record_skipped(session=session, schedule=schedule, slot_at=SLOT,
                                         now=NOW, reason="missed")
    assert _claim(database, schedule, "a", now=NOW + timedelta(days=1)) is None


def test_ledger_is_scoped_by_workspace(database):
    one = _schedule(database, workspace="slack:T1")
    two = _schedule(database, workspace="slack:T2")
    _claim(database, one, "a")
    _claim(database, two, "a")
    with database.read() as session:
        rows = ledger.list_deliveries(session=session, workspace_id="slack:T2")
    assert [r.schedule_id for r in rows] == [two.id]

"""Claim-then-post against the local Slack stand-in, on SQLite and PostgreSQL.

Time is injected (a FixedClock, a recording sleep): nothing here waits for a real schedule.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.channels import SlackChannel
from bot.digests.compose import compose_for_schedule
from bot.digests.delivery import FOUND_NOTE, DeliveryPolicy, DigestDeliverer, slot_key_of
from bot.digests.scheduler import build_trigger
from sampledata import seed_workspace
from storage import digests as ledger

WORKSPACE = "slack:T1"
CHANNEL = "C_SALES"
OWNER = "U_OWNER"
SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
OSLO = ZoneInfo("Europe/Oslo")
pytestmark = pytest.mark.reliability  # the digest fault cases of the reliability suite


class Sleeps:
    """A recording sleep that is also the deliverer's monotonic clock: time moves only when
    the code under test sleeps, however long the machine takes between two posts."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.elapsed = 0.0

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.elapsed += seconds

    def monotonic(self) -> float:
        return self.elapsed


@pytest.fixture
def seeded(database):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=400,
                   end=SLOT - timedelta(hours=1), timezone="Europe/Oslo", platform="slack")
    return database


def _schedule(database, *, channel=CHANNEL, created=SLOT - timedelta(days=3), **fields):
    with database.write() as session:
        return ledger.save_schedule(
            session=session, workspace_id=WORKSPACE, platform="slack", channel_id=channel,
            owner_id=OWNER, now=created,
            fields=ledger.ScheduleFields(timezone="Europe/Oslo", **fields))


def _deliverer(database, slack_api, clock, sleeps, **policy) -> DigestDeliverer:
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
    return DigestDeliverer(database=database, channels={"slack": SlackChannel(client)},
                           clock=clock, policy=DeliveryPolicy(**policy), worker="test-worker",
                           sleep=sleeps, monotonic=sleeps.monotonic)


def _posts(slack_api, channel=CHANNEL):
    return [c for c in slack_api.calls_to("chat.postMessage")
            if c.channel == channel and c.status == 200 and c.response.get("ok")]


def _ledger(database):
    with database.read() as session:
        return ledger.list_deliveries(session=session, limit=100)


def test_a_due_schedule_is_posted_exactly_once_with_its_chart(seeded, slack_api, clock):
    _schedule(seeded)
    clock.now = SLOT
    deliverer = _deliverer(seeded, slack_api, clock, Sleeps())
    first = asyncio.run(deliverer.catch_up())
    again = asyncio.run(deliverer.catch_up())
    assert [o.status for o in first] == ["sent"] and again == []
    (post,) = _posts(slack_api)
    blocks = post.json_field("blocks")
    assert 0 < len(blocks) <= 50 and post.body["text"]
    assert slack_api.calls_to("files.completeUploadExternal"), "chart not uploaded"
    (row,) = _ledger(seeded)
    assert (row.status, row.attempts, row.slot_at, row.message_id) == \
        ("sent", 1, SLOT, post.response["ts"])


def test_429_with_retry_after_is_retried_and_lands_once(seeded, slack_api, clock):
    schedule = _schedule(seeded)
    slack_api.fail_next("chat.postMessage", status=429, retry_after=7)
    sleeps = Sleeps()
    outcome = asyncio.run(_deliverer(seeded, slack_api, clock, sleeps)
                          .deliver_slot(schedule, SLOT))
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert 7 in sleeps.delays
    assert len(_posts(slack_api)) == 1
    assert len(slack_api.calls_to("chat.postMessage")) == 2
    (row,) = _ledger(seeded)
    assert (row.status, row.attempts) == ("sent", 2)


def test_5xx_backs_off_then_gives_up_and_tells_the_owner_once(seeded, slack_api, clock):
    schedule = _schedule(seeded)
    slack_api.fail_next("chat.postMessage", status=500, times=3, channel=CHANNEL)
    sleeps = Sleeps()
    outcome = asyncio.run(_deliverer(seeded, slack_api, clock, sleeps, max_attempts=3,
                                     backoff=2.0).deliver_slot(schedule, SLOT))
    assert (outcome.status, outcome.attempts) == ("failed", 3)
    assert [d for d in sleeps.delays if d >= 2] == [2.0, 4.0]  # backoff doubles
    dm = slack_api.dm_channel_for(OWNER)
    assert len(_posts(slack_api, dm)) == 1
    assert _posts(slack_api) == []


def test_channel_not_found_is_not_retried_and_the_owner_gets_one_dm(seeded, slack_api, clock):
    schedule = _schedule(seeded)
    slack_api.set_channel_error(CHANNEL, "channel_not_found")
    outcome = asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps())
                          .deliver_slot(schedule, SLOT))
    assert (outcome.status, outcome.attempts) == ("failed", 1)
    assert len([c for c in slack_api.calls_to("chat.postMessage") if c.channel == CHANNEL]) == 1
    dm_posts = _posts(slack_api, slack_api.dm_channel_for(OWNER))
    assert len(dm_posts) == 1 and "channel_not_found" in dm_posts[0].body["text"]
    (row,) = _ledger(seeded)
    assert row.status == "failed" and "channel_not_found" in row.error
    # the failed slot is not retried by the next catch-up either
    clock.now = SLOT + timedelta(minutes=5)
    assert asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps()).catch_up()) == []
    assert len(_posts(slack_api, slack_api.dm_channel_for(OWNER))) == 1


def test_a_process_killed_between_claim_and_post_leads_to_one_post_after_the_lease(
        seeded, slack_api, clock):
    schedule = _schedule(seeded)
    with seeded.write() as session:  # the dead process got this far
        assert ledger.claim_slot(session=session, schedule=schedule, slot_at=SLOT,
                                 worker="dead:1", now=SLOT, lease=timedelta(minutes=10))
    clock.now = SLOT + timedelta(minutes=5)
    deliverer = _deliverer(seeded, slack_api, clock, Sleeps())
    assert asyncio.run(deliverer.catch_up()) == []  # lease still held
    assert _posts(slack_api) == []
    clock.now = SLOT + timedelta(minutes=11)
    assert [o.status for o in asyncio.run(deliverer.catch_up())] == ["sent"]
    assert [o.status for o in asyncio.run(deliverer.catch_up())] == []
    assert len(_posts(slack_api)) == 1
    (row,) = _ledger(seeded)
    assert row.status == "sent" and row.claimed_by.startswith("test-worker/")  # one per claim
    assert row.note is None  # nothing had been posted: no look-up, no note


def test_missed_slot_is_sent_once_within_grace_and_skipped_after(seeded, slack_api, clock):
    _schedule(seeded, channel="C_WITHIN")
    clock.now = SLOT + timedelta(hours=3)  # the bot was down at 09:00, back at 12:00
    deliverer = _deliverer(seeded, slack_api, clock, Sleeps())
    assert [o.status for o in asyncio.run(deliverer.catch_up())] == ["sent"]
    assert len(_posts(slack_api, "C_WITHIN")) == 1
    (row,) = _ledger(seeded)
    assert (row.trigger, row.slot_at) == ("catch-up", SLOT)

    _schedule(seeded, channel="C_LATE")
    clock.now = SLOT + timedelta(hours=13)  # back after the 12 h grace window
    assert asyncio.run(deliverer.catch_up()) == []
    assert _posts(slack_api, "C_LATE") == []
    late = [r for r in _ledger(seeded) if r.status == "skipped"]
    assert len(late) == 1 and "grace" in late[0].error
    assert len(_posts(slack_api, "C_WITHIN")) == 1  # still one


def test_a_schedule_created_after_its_slot_does_not_fire_for_it(seeded, slack_api, clock):
    _schedule(seeded, created=SLOT + timedelta(minutes=30))
    clock.now = SLOT + timedelta(hours=1)
    assert asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps()).catch_up()) == []
    assert _ledger(seeded) == []


@pytest.mark.parametrize("monday", ["2026-03-23", "2026-03-30", "2026-10-19", "2026-10-26"])
def test_monday_0900_oslo_fires_at_0900_local_around_dst(seeded, slack_api, clock, monday):
    created = datetime.fromisoformat(monday).replace(tzinfo=UTC) - timedelta(days=3)
    schedule = _schedule(seeded, created=created)
    nine = datetime.fromisoformat(f"{monday}T09:00").replace(tzinfo=OSLO).astimezone(UTC)
    trigger = build_trigger(schedule)  # APScheduler's own idea of the next run agrees
    assert trigger.get_next_fire_time(None, created).astimezone(UTC) == nine
    deliverer = _deliverer(seeded, slack_api, clock, Sleeps())
    clock.now = nine - timedelta(minutes=1)
    assert asyncio.run(deliverer.catch_up()) == []
    clock.now = nine
    assert [o.status for o in asyncio.run(deliverer.catch_up())] == ["sent"]
    (row,) = _ledger(seeded)
    local = row.slot_at.astimezone(OSLO)
    assert (local.date().isoformat(), local.hour, local.minute) == (monday, 9, 0)
    assert len(_posts(slack_api)) == 1


def test_posts_to_one_channel_are_paced(seeded, slack_api, clock):
    schedule = _schedule(seeded)
    sleeps = Sleeps()
    deliverer = _deliverer(seeded, slack_api, clock, sleeps)

    async def two():
        await deliverer.deliver_slot(schedule, SLOT, trigger="manual")
        await deliverer.deliver_slot(schedule, SLOT + timedelta(seconds=1), trigger="manual")

    asyncio.run(two())
    assert len(_posts(slack_api)) == 2
    assert DeliveryPolicy().channel_interval in sleeps.delays  # the second post waited


# ---------------------------------------------------------------- interrupted attempts (issue 14)
DEAD = "dead:1"
LEASE = timedelta(minutes=10)


@pytest.fixture
def slack_on_the_test_clock(slack_api, clock):
    """Slack's message timestamps follow the injected clock (no wall clock in the test)."""
    slack_api.clock = lambda: clock.now.timestamp()
    return slack_api


def _interrupted(database, schedule, slot, *, trigger="scheduled"):
    """What a process killed mid-post leaves: a claim that counted one attempt."""
    with database.write() as session:
        claim = ledger.claim_slot(session=session, schedule=schedule, slot_at=slot, worker=DEAD,
                                  now=slot, lease=LEASE, trigger=trigger)
        assert ledger.renew_claim(session=session, delivery_id=claim.id, worker=DEAD, now=slot,
                                  lease=LEASE, attempts=1)
    return claim


def _post_as_the_dead_process(database, slack_api, schedule, slot) -> str:
    digest = compose_for_schedule(database=database, schedule=schedule, now=slot)
    channel = SlackChannel(AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url))
    return asyncio.run(channel.post(schedule, digest, slot_key=slot_key_of(schedule, slot)))


def test_an_interrupted_post_found_in_the_channel_is_not_posted_again(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    clock.now = SLOT
    _interrupted(seeded, schedule, SLOT)
    ts = _post_as_the_dead_process(seeded, slack_api, schedule, SLOT)
    for i in range(3):  # other traffic after the digest, so the look-up has to page
        clock.advance(seconds=30)
        asyncio.run(AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
                    .chat_postMessage(channel=CHANNEL, text=f"chatter {i}"))
    clock.now = SLOT + LEASE + timedelta(minutes=1)
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
    deliverer = DigestDeliverer(database=seeded,
                                channels={"slack": SlackChannel(client, history_page=2)},
                                clock=clock, worker="test-worker", sleep=Sleeps())
    (outcome,) = asyncio.run(deliverer.catch_up())
    assert (outcome.status, outcome.message_id, outcome.note) == ("sent", ts, FOUND_NOTE)
    assert asyncio.run(deliverer.catch_up()) == []
    digests = [m for m in slack_api.messages_in(CHANNEL) if m.get("metadata")]
    assert [m["ts"] for m in digests] == [ts]  # the dead process's post, and no other
    assert len(slack_api.calls_to("conversations.history")) == 2  # newest first: 2 pages
    (row,) = _ledger(seeded)
    assert (row.status, row.message_id, row.note, row.attempts) == ("sent", ts, FOUND_NOTE, 1)
    (history,) = {c.body.get("include_all_metadata") for c in
                  slack_api.calls_to("conversations.history")}
    assert history in ("1", "true", True)
    (upload,) = slack_api.calls_to("files.completeUploadExternal")
    assert upload.body.get("thread_ts") == ts  # the chart the crash kept back, added now


def test_an_interrupted_attempt_that_never_reached_slack_is_posted_once(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    _interrupted(seeded, schedule, SLOT)
    clock.now = SLOT + timedelta(minutes=5)
    deliverer = _deliverer(seeded, slack_api, clock, Sleeps())
    assert asyncio.run(deliverer.catch_up()) == []  # the lease is still held
    assert slack_api.calls_to("conversations.history") == []
    clock.now = SLOT + LEASE + timedelta(minutes=1)
    (outcome,) = asyncio.run(deliverer.catch_up())
    assert (outcome.status, outcome.attempts, outcome.note) == ("sent", 2, None)
    assert len(slack_api.calls_to("conversations.history")) == 1
    (post,) = _posts(slack_api)
    assert post.json_field("metadata") == {"event_type": "kpibot_digest",
                                           "event_payload": {"slot": slot_key_of(schedule,
                                                                                 SLOT)}}


def test_a_post_whose_answer_never_came_is_looked_up_not_retried_blindly(
        seeded, slack_on_the_test_clock, clock):
    """Slack stored the message but the answer timed out: the retry finds it instead."""
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    held = slack_api.hold("chat.postMessage", channel=CHANNEL)
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url, timeout=1)
    deliverer = DigestDeliverer(database=seeded, channels={"slack": SlackChannel(client)},
                                clock=clock, policy=DeliveryPolicy(), worker="test-worker",
                                sleep=Sleeps())
    try:
        outcome = asyncio.run(deliverer.deliver_slot(schedule, SLOT))
    finally:
        held.release()
    assert (outcome.status, outcome.attempts, outcome.note) == ("sent", 1, FOUND_NOTE)
    assert len(slack_api.messages_in(CHANNEL)) == 1
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    (row,) = _ledger(seeded)
    assert row.message_id == slack_api.messages_in(CHANNEL)[0]["ts"]


def test_an_interrupted_slot_is_not_reposted_when_the_channel_cannot_be_checked(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    _interrupted(seeded, schedule, SLOT)
    slack_api.fail_next("conversations.history", error="missing_scope")
    clock.now = SLOT + LEASE + timedelta(minutes=1)
    (outcome,) = asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps()).catch_up())
    assert outcome.status == "failed" and "missing_scope" in outcome.error
    assert _posts(slack_api) == []
    (row,) = _ledger(seeded)
    assert row.status == "failed" and "not posted again" in row.error
    dm = _posts(slack_api, slack_api.dm_channel_for(OWNER))
    assert len(dm) == 1 and "missing_scope" in dm[0].body["text"]


def test_a_manual_send_is_recorded_before_posting_and_recovered_by_another_process(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    clock.now = SLOT + timedelta(days=2, hours=3, seconds=0.5)  # not a scheduled slot
    crashed = _deliverer(seeded, slack_api, clock, Sleeps(), lease=LEASE)
    claim = crashed.claim_manual(schedule)  # then the process died before posting
    (row,) = _ledger(seeded)
    assert (row.status, row.trigger, row.attempts) == ("claimed", "manual", 0)
    other = _deliverer(seeded, slack_api, clock, Sleeps(), lease=LEASE)
    assert asyncio.run(other.catch_up()) == []  # its lease still runs
    clock.advance(minutes=11)
    (outcome,) = asyncio.run(other.catch_up())
    assert outcome.status == "sent"
    assert asyncio.run(other.catch_up()) == []
    (post,) = _posts(slack_api)
    assert post.json_field("metadata")["event_payload"]["slot"] == \
        slot_key_of(schedule, claim.slot_at)
    (row,) = [r for r in _ledger(seeded) if r.trigger == "manual"]
    assert (row.status, row.slot_at) == ("sent", claim.slot_at)
    assert [r.status for r in _ledger(seeded) if r.trigger != "manual"] == ["skipped"]


def test_a_manual_send_interrupted_mid_post_is_found_not_doubled(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    schedule = _schedule(seeded)
    manual_at = SLOT + timedelta(days=1, minutes=17)
    clock.now = manual_at
    _interrupted(seeded, schedule, manual_at, trigger="manual")
    ts = _post_as_the_dead_process(seeded, slack_api, schedule, manual_at)
    clock.advance(minutes=11)
    (outcome,) = asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps()).catch_up())
    assert (outcome.status, outcome.message_id) == ("sent", ts)
    assert len(_posts(slack_api)) == 1
    (row,) = [r for r in _ledger(seeded) if r.trigger == "manual"]
    assert (row.status, row.note) == ("sent", FOUND_NOTE)


def test_an_interrupted_claim_past_the_grace_window_is_closed_never_left_claimed(
        seeded, slack_on_the_test_clock, clock):
    slack_api = slack_on_the_test_clock
    posted = _schedule(seeded, channel="C_POSTED")
    lost = _schedule(seeded, channel="C_LOST")
    clock.now = SLOT
    _interrupted(seeded, posted, SLOT)
    _interrupted(seeded, lost, SLOT)
    ts = _post_as_the_dead_process(seeded, slack_api, posted, SLOT)
    clock.now = SLOT + timedelta(hours=13)  # back after the 12 h grace window
    outcomes = asyncio.run(_deliverer(seeded, slack_api, clock, Sleeps()).catch_up())
    assert sorted(o.status for o in outcomes) == ["sent", "skipped"]
    rows = {r.schedule_id: r for r in _ledger(seeded)}
    assert (rows[posted.id].status, rows[posted.id].message_id) == ("sent", ts)
    assert rows[lost.id].status == "skipped" and "grace" in rows[lost.id].error
    assert _posts(slack_api, "C_LOST") == [] and len(_posts(slack_api, "C_POSTED")) == 1

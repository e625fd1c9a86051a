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
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.scheduler import build_trigger
from storage import digests as ledger
from storage.generate import seed_workspace

WORKSPACE = "slack:T1"
CHANNEL = "C_SALES"
OWNER = "U_OWNER"
SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
OSLO = ZoneInfo("Europe/Oslo")
pytestmark = pytest.mark.reliability  # the digest fault cases of the reliability suite


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


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
                           sleep=sleeps)


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
    assert any(0 < d <= 1.0 for d in sleeps.delays)

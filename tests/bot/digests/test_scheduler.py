"""The APScheduler wiring: jobs follow the schedule rows; a slot is posted once however
many ways it comes due (start-up catch-up, the minute tick, the cron job)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.channels import SlackChannel
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.scheduler import DigestScheduler, SchedulerHandle
from storage import digests as ledger
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 23, 8, 0, 30, tzinfo=UTC)  # Monday 09:00:30 Europe/Oslo


def _save(database, channel, **fields):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:T1", platform="slack",
                         now=NOW - timedelta(days=5))
        return ledger.save_schedule(session=session, workspace_id="slack:T1", platform="slack",
                                    channel_id=channel, owner_id="U1",
                                    now=NOW - timedelta(days=5),
                                    fields=ledger.ScheduleFields(timezone="Europe/Oslo",
                                                                 **fields))


def test_jobs_are_rebuilt_from_the_rows_and_a_fired_job_posts_once(database, slack_api):
    async def scenario():
        client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
        deliverer = DigestDeliverer(database=database, channels={"slack": SlackChannel(client)},
                                    clock=lambda: NOW,
                                    policy=DeliveryPolicy(grace=timedelta(hours=1)))
        scheduler = DigestScheduler(deliverer)
        handle = SchedulerHandle()
        handle.attach(scheduler)
        await scheduler.start()
        try:
            assert await scheduler.startup_catch_up == []  # nothing was due
            assert scheduler.jobs() == []
            first = _save(database, "C_ONE")
            second = _save(database, "C_TWO", cadence="monthly", day=-1, hour=8)
            await scheduler.tick()  # another process changed the rows: seen within a tick
            assert scheduler.jobs() == sorted([f"digest-{first.id}", f"digest-{second.id}"])
            job = scheduler.scheduler.get_job(f"digest-{first.id}")
            assert str(job.trigger.timezone) == "Europe/Oslo"
            with database.write() as session:
                ledger.disable_schedule(session=session, workspace_id="slack:T1",
                                        platform="slack", channel_id="C_TWO", now=NOW)
            handle.schedules_changed()  # this process changed them: rebuilt at once
            for _ in range(50):
                await asyncio.sleep(0.02)
                if scheduler.jobs() == [f"digest-{first.id}"]:
                    break
            assert scheduler.jobs() == [f"digest-{first.id}"]
            # the tick's catch-up already posted the 09:00 slot; the cron firing finds it taken
            assert (await scheduler.fire(first.id)).status == "taken"
            assert await scheduler.fire(second.id) is None  # disabled
        finally:
            await scheduler.stop()

    asyncio.run(scenario())
    posts = [c for c in slack_api.calls_to("chat.postMessage") if c.channel == "C_ONE"]
    assert len(posts) == 1
    with database.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert row.slot_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

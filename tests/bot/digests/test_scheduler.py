"""The APScheduler wiring: jobs follow the schedule rows; a slot is posted once however
many ways it comes due (start-up catch-up, the minute tick, the cron job)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.channels import SlackChannel
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.handle import SchedulerHandle
from bot.digests.scheduler import DigestScheduler
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


def test_a_digest_sent_while_the_scheduler_starts_waits_for_it(database, slack_api):
    """`kpibot serve` listens before its scheduler runs (bot/cli/serve.py): `/kpi digest now`
    in that moment is posted once the scheduler runs, not refused as if none ran here."""
    import threading

    schedule = _save(database, "C_NOW", hour=15)  # not due: only the manual send posts
    handle = SchedulerHandle()
    handle.expect()  # as serve does before it listens
    sent: list[bool] = []
    asking = threading.Event()

    def command() -> None:  # a chat command's worker thread
        asking.set()
        sent.append(handle.send_now(schedule))

    async def scenario():
        client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
        deliverer = DigestDeliverer(database=database, channels={"slack": SlackChannel(client)},
                                    clock=lambda: NOW,
                                    policy=DeliveryPolicy(grace=timedelta(hours=1)))
        worker = threading.Thread(target=command)
        worker.start()
        await asyncio.to_thread(asking.wait)
        scheduler = DigestScheduler(deliverer)
        handle.attach(scheduler)
        try:
            await scheduler.start()
            handle.settled()
            await asyncio.to_thread(worker.join)
            for _ in range(100):  # the manual send runs on the loop
                if [c for c in slack_api.calls_to("chat.postMessage") if c.channel == "C_NOW"]:
                    break
                await asyncio.sleep(0.02)
        finally:
            await scheduler.stop()

    asyncio.run(scenario())
    assert sent == [True]
    posts = [c for c in slack_api.calls_to("chat.postMessage") if c.channel == "C_NOW"]
    assert len(posts) == 1


def test_without_a_scheduler_coming_a_digest_is_refused_at_once():
    """`kpibot serve --no-scheduler`, `kpibot console`: nothing to wait for."""
    assert SchedulerHandle().send_now(None) is False

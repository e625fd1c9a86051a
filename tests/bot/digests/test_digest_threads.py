"""A fan-out's database work runs on the digests' own few threads (bot/digests/threads.py), so
it holds no more database connections than that: each SQLite connection carries its parsed
schema and prepared statements (~1.7 MB). Against the local Slack stand-in, on SQLite and
PostgreSQL; no timing: threads and connections are counted."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.channels import SlackChannel
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.scheduler import DigestScheduler
from bot.digests.shared import SharedDigests
from bot.digests.threads import DATABASE_THREADS
from sampledata import seed_workspace
from storage import digests as ledger

SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
WORKSPACES = ("slack:T1", "slack:T2", "slack:T3")


class Checkouts:
    """The threads and DBAPI connections of every pool checkout while listening."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.threads, self.connections = engine, set(), set()

    def _record(self, dbapi_connection, _record, _proxy) -> None:
        self.threads.add(threading.current_thread().name)
        self.connections.add(id(dbapi_connection))

    def __enter__(self) -> Checkouts:
        sa.event.listen(self.engine, "checkout", self._record)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(self.engine, "checkout", self._record)


def test_a_fan_out_reads_and_writes_on_the_digest_threads_only(database, slack_api):
    for workspace in WORKSPACES:
        seed_workspace(database=database, workspace_id=workspace, target_events=200,
                       end=SLOT - timedelta(hours=1), timezone="Europe/Oslo", platform="slack")
    with database.write() as session:
        schedules = [ledger.save_schedule(
            session=session, workspace_id=workspace, platform="slack",
            channel_id=f"C{w}_{i}", owner_id="U_OWNER", now=SLOT - timedelta(days=3),
            fields=ledger.ScheduleFields(timezone="Europe/Oslo", language=language))
            for w, workspace in enumerate(WORKSPACES) for i, language in
            enumerate(("en", "en", "nb", "sv", "en", "nb"))]
    shared = SharedDigests()
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
    deliverer = DigestDeliverer(database=database,
                                channels={"slack": SlackChannel(client, shared=shared)},
                                clock=lambda: SLOT + timedelta(seconds=5),
                                policy=DeliveryPolicy(channel_interval=0, concurrency=16),
                                worker="test", shared=shared)
    scheduler = DigestScheduler(deliverer)

    async def fan_out():
        # as the cron jobs do: all of the minute's schedules fire at once
        return await asyncio.gather(*(scheduler.fire(s.id) for s in schedules))

    with Checkouts(database.engine) as checkouts:
        outcomes = asyncio.run(fan_out())
    assert [o.status for o in outcomes] == ["sent"] * len(schedules)
    posted = sorted(c.channel for c in slack_api.calls_to("chat.postMessage"))
    assert posted == sorted(s.channel_id for s in schedules)  # every channel once
    assert checkouts.threads and all(name.startswith("kpibot-digest-db")
                                     for name in checkouts.threads), checkouts.threads
    assert len(checkouts.threads) <= DATABASE_THREADS
    assert len(checkouts.connections) <= DATABASE_THREADS


def test_a_cancelled_caller_waits_for_its_database_work_to_end():
    """A stopping server cancels the deliveries past the grace time, then hands their claims
    back: the cancellation reaches the caller only once the work on the database thread has
    ended (committed or rolled back), never while it is in flight."""
    from bot.digests.threads import in_database_thread

    started, release, ended = threading.Event(), threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait()
        ended.set()
        return "committed"

    async def scenario() -> None:
        caller = asyncio.ensure_future(in_database_thread(work))
        await asyncio.to_thread(started.wait)  # the database thread holds the work
        caller.cancel()
        for _ in range(20):
            await asyncio.sleep(0)
        assert not caller.done()  # still waiting for the thread
        release.set()
        try:
            await caller
        except asyncio.CancelledError:
            assert ended.is_set()
        else:
            raise AssertionError("the cancellation was lost")

    try:
        asyncio.run(scenario())
    finally:
        release.set()  # never leave the thread waiting

"""The digest scheduler: APScheduler 3.x as wiring only; the schedule rows are the truth.

One cron job per enabled schedule (its day, hour and minute in its own IANA time zone, so
09:00 Europe/Oslo stays 09:00 across daylight-saving changes), rebuilt whenever the rows
change — at once when this process changed them, within a minute when another did. A
one-minute tick runs `catch_up`: slots missed while down (within the grace window) and claims
left by a crashed process (manual sends included). Firing only claims and posts; the ledger,
and a look in the channel after an interrupted attempt, prevent doubles.

Every delivery runs as a task of this scheduler (a job's work too, shielded from APScheduler,
which cancels its running jobs when it shuts down), so that `drain` can let them finish when
the process stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.digests.delivery import DigestDeliverer, Outcome, rule_of
from bot.digests.threads import in_database_thread
from storage import digests as ledger
from storage.models import DigestSchedule

log = logging.getLogger(__name__)
TICK_SECONDS = 60
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def build_trigger(schedule: DigestSchedule) -> CronTrigger:
    """The cron trigger of a schedule, in the schedule's own time zone."""
    zone = ZoneInfo(schedule.timezone)
    if schedule.cadence == "weekly":
        return CronTrigger(day_of_week=_CRON_DAYS[schedule.day], hour=schedule.hour,
                           minute=schedule.minute, timezone=zone)
    day = "last" if schedule.day == -1 else str(schedule.day)
    return CronTrigger(day=day, hour=schedule.hour, minute=schedule.minute, timezone=zone)


class DigestScheduler:
    def __init__(self, deliverer: DigestDeliverer, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.deliverer = deliverer
        self.database = deliverer.database
        self.clock = clock or deliverer.clock
        self.scheduler: AsyncIOScheduler | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._version: tuple | None = None
        self._tasks: set[asyncio.Task] = set()
        self.startup_catch_up: asyncio.Future | None = None  # slots missed while down

    # ---------------------------------------------------------------- lifecycle
    async def start(self, *, jobs: bool = True) -> None:
        """Build the jobs from the rows, catch up on missed slots, start firing.

        `jobs=False`: delivery only (`send_now`), no cron jobs, tick or catch-up — the other
        workers of `kpibot serve --workers N`, whose worker 0 runs the jobs."""
        self.loop = asyncio.get_running_loop()
        if not jobs:
            log.info("digest delivery ready (the scheduled jobs run in another worker)")
            return
        self.scheduler = AsyncIOScheduler(event_loop=self.loop, timezone="UTC")
        self.scheduler.add_job(self.tick, "interval", seconds=TICK_SECONDS, id="kpibot-tick",
                               coalesce=True, max_instances=1)
        await self.rebuild()
        self.scheduler.start()
        self.startup_catch_up = self._spawn(self.deliverer.catch_up())
        log.info("digest scheduler started (%d schedule job(s))", len(self.jobs()))

    def pause(self) -> None:
        """Fire no job any more (the running ones go on): the first step of a stop."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()

    async def drain(self, grace: float, *,
                    monotonic: Callable[[], float] = time.monotonic) -> tuple[int, int]:
        """Stop on purpose (a stopping server): fire nothing more, claim nothing more, give the
        deliveries in flight (and a `send_now` still arriving) up to `grace` seconds to
        finish, cancel the rest and hand their claims back (`DigestDeliverer.release_claims`),
        then `stop`. Returns (its tasks that finished meanwhile, claims handed back)."""
        self.pause()
        self.deliverer.stop_claiming()
        deadline = monotonic() + grace
        finished = 0
        while self._tasks:
            pending = set(self._tasks)
            done, _rest = await asyncio.wait(pending, timeout=max(0.0, deadline - monotonic()))
            finished += len(done)
            if not done:
                break  # the grace time is over
        cut_short = list(self._tasks)
        for task in cut_short:
            task.cancel()
        await asyncio.gather(*cut_short, return_exceptions=True)
        released = await self.deliverer.release_claims()
        await self.stop()
        return finished, released

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        for channel in self.deliverer.channels.values():
            close = getattr(channel, "close", None)  # the Slack channel's HTTP session
            if close is not None:
                await close()
        await self.deliverer.shared.close()  # the chart process (bot/digests/chart_process.py)

    def jobs(self) -> list[str]:
        if self.scheduler is None:
            return []
        return sorted(job.id for job in self.scheduler.get_jobs() if job.id != "kpibot-tick")

    # ---------------------------------------------------------------- jobs
    async def rebuild(self) -> None:
        if self.scheduler is None:
            return  # delivery only: the process running the jobs sees the change by its tick

        def load():
            with self.database.read() as session:
                return (ledger.schedules_version(session=session),
                        ledger.list_schedules(session=session, enabled_only=True))

        version, schedules = await in_database_thread(load)
        self._version = version
        for job_id in self.jobs():
            self.scheduler.remove_job(job_id)
        for schedule in schedules:
            try:
                trigger = build_trigger(schedule)
            except (ValueError, KeyError) as error:
                log.error("digest schedule %s has an unusable time: %s", schedule.id, error)
                continue
            self.scheduler.add_job(self.fire, trigger, args=[schedule.id],
                                   id=f"digest-{schedule.id}", coalesce=True,
                                   max_instances=3,
                                   misfire_grace_time=max(1, int(
                                       self.deliverer.policy.grace.total_seconds())))
        log.info("digest jobs rebuilt: %d schedule(s)", len(schedules))

    async def tick(self) -> None:
        await asyncio.shield(self._spawn(self._tick()))

    async def _tick(self) -> None:
        def version():
            with self.database.read() as session:
                return ledger.schedules_version(session=session)

        if await in_database_thread(version) != self._version:
            await self.rebuild()
        await self.deliverer.catch_up()

    async def fire(self, schedule_id: int) -> Outcome | None:
        """A cron job fired: deliver the slot that just came due."""
        return await asyncio.shield(self._spawn(self._fire(schedule_id)))

    async def _fire(self, schedule_id: int) -> Outcome | None:
        def load():
            with self.database.read() as session:
                return session.get(DigestSchedule, schedule_id)

        schedule = await in_database_thread(load)
        if schedule is None or not schedule.enabled:
            return None
        now = self.clock()
        slot = rule_of(schedule).latest_slot(now + timedelta(seconds=1))
        return await self.deliverer.deliver_slot(schedule, slot)

    # ---------------------------------------------------------------- from handlers
    def schedules_changed(self) -> None:
        """Thread-safe: rebuild the jobs soon (called by /kpi digest here|off)."""
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(lambda: self._spawn(self.rebuild()))

    def send_now(self, schedule: DigestSchedule) -> bool:
        """Post this schedule's digest now. Call from a worker thread (it writes the ledger):
        the manual slot is recorded before this returns, so a crash before or during the post
        leaves a claim that `catch_up` in any process finishes. False if not running here."""
        if self.loop is None or not self.loop.is_running():
            return False
        claim = self.deliverer.claim_manual(schedule)
        if claim is None:
            return True  # the same manual slot (same second) is already being sent
        self.loop.call_soon_threadsafe(lambda: self._spawn(
            self.deliverer.deliver_claim(schedule, claim)))
        return True

    def _spawn(self, coroutine) -> asyncio.Future:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("digest task failed: %r", task.exception())

"""Claim-then-post: each slot of each schedule is posted once, across processes and crashes.

`deliver_slot` claims `(schedule, slot)` in the ledger (its own committed transaction), builds
the digest, posts it with retries (Retry-After honoured, else exponential backoff; permanent
errors not retried), and finishes the ledger row as sent (with the message id) or failed (with
the error) — on final failure the schedule's owner gets one direct message. Posts to one
channel are paced to about one per second. A manual send (`/kpi digest now`, `kpibot digest
send`) is claimed the same way before anything is posted (`claim_manual`).

Each attempt is counted in the ledger before it posts. A process that dies leaves a claim
whose lease expires; `catch_up` (run on start and every minute, in any process) takes it over
— scheduled, catch-up or manual alike — as it does for slots missed while the bot was down.
An attempt whose outcome is unknown (the claim had attempts, or a post timed out or got a 5xx)
is first looked up in the channel by its slot key: found, the row is closed as sent with that
message and a note; absent, it is posted. Where the platform cannot be asked (Teams), it is
posted again and the note says so (at least once). An interrupted claim older than the grace
window is only looked up, never re-posted.

A process stopping on purpose (`kpibot serve` on SIGTERM, bot/cli/shutdown.py) first stops
claiming (`stop_claiming`), lets the deliveries in flight finish, and hands back the claims of
those it had to cut short (`release_claims`): their lease ends at once, so the next process
takes them over at its next catch-up, looking them up in the channel first like any other
interrupted attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.digests.channels import DeliveryFailure, DigestChannel
from bot.digests.shared import SharedDigests
from bot.digests.status import rule_of
from bot.digests.threads import in_database_thread
from storage import digests as ledger
from storage.engine import Database
from storage.models import DigestDelivery, DigestSchedule

log = logging.getLogger(__name__)

FOUND_NOTE = "found in channel after an interrupted attempt"
REPOSTED_NOTE = ("posted again after an interrupted attempt: {platform} cannot be checked, "
                 "so the channel may show it twice")
# A post's Slack timestamp comes from Slack's clock, the claim time from ours: look a little
# further back than the claim so that a few minutes of skew cannot hide an earlier post.
CLOCK_SKEW = timedelta(minutes=5)


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff: float = 2.0  # seconds before the 2nd attempt; doubled each time
    max_backoff: float = 120.0
    lease: timedelta = timedelta(minutes=10)
    grace: timedelta = timedelta(hours=12)
    channel_interval: float = 1.0  # seconds between posts to one channel
    # Deliveries in flight at once in one process. A thousand schedules due at the same
    # minute otherwise hold a thousand posts, uploads and HTTP sessions open together: the
    # memory grows and the slowest time out.
    concurrency: int = 8


@dataclass(frozen=True)
class Outcome:
    # sent | failed | skipped | taken (another process has it) | lost (taken over) |
    # stopped (not claimed: this process is stopping)
    status: str
    attempts: int = 0
    error: str | None = None
    message_id: str | None = None
    note: str | None = None  # what recovery found (FOUND_NOTE, REPOSTED_NOTE)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def slot_key_of(schedule: DigestSchedule, slot_at: datetime) -> str:
    """The key a digest post carries (Slack message metadata) to be found again."""
    return f"{schedule.id}:{slot_at.isoformat()}"


class ChannelPacer:
    """About one message per second per channel, across concurrent deliveries."""

    def __init__(self, interval: float, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.interval, self.monotonic, self.sleep = interval, monotonic, sleep
        self._last: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, channel: str) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            last = self._last.get(channel)
            if last is not None:
                pause = self.interval - (self.monotonic() - last)
                if pause > 0:
                    await self.sleep(pause)
            self._last[channel] = self.monotonic()


class DigestDeliverer:
    def __init__(self, *, database: Database, channels: Mapping[str, DigestChannel],
                 clock: Callable[[], datetime], policy: DeliveryPolicy = DeliveryPolicy(),
                 worker: str | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 shared: SharedDigests | None = None) -> None:
        self.database, self.channels, self.clock = database, channels, clock
        # Channels due together with the same digest share one composition (and chart).
        self.shared = shared or SharedDigests()
        self.policy, self.sleep = policy, sleep
        self.worker = worker or default_worker_id()
        self.pacer = ChannelPacer(policy.channel_interval, monotonic=monotonic, sleep=sleep)
        # Ledger rows this process is delivering now → their holder; a delivery cancelled by
        # a stopping server stays here until `release_claims` hands it back.
        self._in_flight: dict[int, str] = {}
        self.closing = False  # stopping: nothing more is claimed (`stop_claiming`)
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._charts: dict[int, Callable[[], Awaitable[None]]] = {}  # by ledger row, to attach

    def _turn(self) -> asyncio.Semaphore:
        """The semaphore bounding deliveries in flight (one per event loop)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(max(1, self.policy.concurrency)))
        return self._slots[1]

    async def _db(self, fn, /, **kwargs):
        def run():
            with self.database.write() as session:
                return fn(session=session, **kwargs)
        return await in_database_thread(run)

    def _holder(self) -> str:
        # One holder per claim, so that a take-over inside this very process is noticed too.
        return f"{self.worker}/{uuid.uuid4().hex[:8]}"

    def _claim(self, session, schedule: DigestSchedule, slot_at: datetime,
               trigger: str) -> DigestDelivery | None:
        claim = ledger.claim_slot(session=session, schedule=schedule, slot_at=slot_at,
                                  worker=self._holder(), now=self.clock(),
                                  lease=self.policy.lease, trigger=trigger)
        if claim is not None:
            self._in_flight[claim.id] = claim.claimed_by
        return claim

    def stop_claiming(self) -> None:
        """The process is stopping: claim no more slots (a delivery not yet claimed ends as
        `stopped`; a catch-up stops at its next slot). Deliveries in flight go on."""
        self.closing = True

    async def release_claims(self) -> int:
        """Hand back the claims of the deliveries cut short (cancelled) by a stopping process,
        once their tasks have ended (ledger.release_claim); how many were still ours."""
        held, self._in_flight = self._in_flight, {}

        def release() -> int:
            with self.database.write() as session:
                return sum(ledger.release_claim(session=session, delivery_id=delivery_id,
                                                worker=holder, now=self.clock())
                           for delivery_id, holder in held.items())

        released = await in_database_thread(release) if held else 0
        if released:
            log.warning("%d digest delivery(ies) cut short by the shutdown: handed back to "
                        "the next process (looked up in the channel before any new post)",
                        released)
        return released

    async def _delivering(self, schedule: DigestSchedule, claim: DigestDelivery,
                          repost: bool) -> Outcome:
        """`_deliver`, then the claim leaves `_in_flight`; when cancelled (a stopping
        process) it stays there for `release_claims`."""
        try:
            outcome = await self._deliver(schedule, claim, repost)
        except asyncio.CancelledError:
            raise
        except BaseException:
            self._in_flight.pop(claim.id, None)
            raise
        self._in_flight.pop(claim.id, None)
        return outcome

    def claim_manual(self, schedule: DigestSchedule) -> DigestDelivery | None:
        """Record a manual send as a slot (now, to the second), committed before anything is
        posted, so a crash cannot lose it. Blocking: call from a worker thread. None if this
        very slot is already being sent."""
        with self.database.write() as session:
            return self._claim(session, schedule, self.clock().replace(microsecond=0),
                               "manual")

    async def deliver_slot(self, schedule: DigestSchedule, slot_at: datetime, *,
                           trigger: str = "scheduled", repost: bool = True) -> Outcome:
        """Claim the slot (or take over an expired claim) and deliver it."""
        def claim():
            with self.database.write() as session:
                return self._claim(session, schedule, slot_at, trigger)

        with self.shared.holding(schedule):  # before the turn: all of a minute's at once
            async with self._turn():  # claimed only when it can be delivered at once
                if self.closing:
                    return Outcome("stopped")
                row = await in_database_thread(claim)
                if row is None:
                    log.info("digest slot %s of schedule %s: already claimed or done", slot_at,
                             schedule.id)
                    return Outcome("taken")
                outcome = await self._delivering(schedule, row, repost)
            await self._charts.pop(row.id, _nothing)()
            return outcome

    async def deliver_claim(self, schedule: DigestSchedule, claim: DigestDelivery, *,
                            repost: bool = True) -> Outcome:
        """Deliver a slot this process claimed. `repost=False`: only find out whether an
        interrupted attempt reached the channel; never post."""
        self._in_flight[claim.id] = claim.claimed_by
        with self.shared.holding(schedule):
            try:
                async with self._turn():
                    outcome = await self._delivering(schedule, claim, repost)
            except asyncio.CancelledError:
                raise  # still ours: `release_claims` hands it back
            except BaseException:
                self._in_flight.pop(claim.id, None)
                raise
            await self._charts.pop(claim.id, _nothing)()
            return outcome

    async def _deliver(self, schedule: DigestSchedule, claim: DigestDelivery,
                       repost: bool) -> Outcome:
        channel = self.channels.get(schedule.platform)
        attempts = claim.attempts
        if channel is None:
            return await self._fail(schedule, claim, attempts,
                                    DeliveryFailure(f"no {schedule.platform} connection is "
                                                    "configured", code="not_configured",
                                                    transient=False))
        slot_key = slot_key_of(schedule, claim.slot_at)
        unknown = attempts > 0  # an earlier attempt counted itself and recorded no result
        note = digest = None
        while True:
            if unknown and channel.looks_back:
                try:
                    found = await self._find_earlier(schedule, claim, channel, slot_key, attempts)
                except DeliveryFailure as failure:
                    return await self._fail(schedule, claim, attempts, DeliveryFailure(
                        f"could not check the channel for an interrupted attempt ({failure}); "
                        "not posted again, to avoid a duplicate", code=failure.code,
                        transient=False))
                if found is not None:
                    return await self._found(schedule, claim, attempts, found)
            elif unknown:
                note = REPOSTED_NOTE.format(platform=schedule.platform.capitalize())
            if not repost:
                reason = (f"interrupted, and older than the grace window "
                          f"({self.policy.grace}): not posted again")
                if unknown and not channel.looks_back:
                    reason += f" ({schedule.platform.capitalize()} cannot be checked)"
                await self._db(ledger.finish_delivery, delivery_id=claim.id,
                               worker=claim.claimed_by, status=ledger.SKIPPED, now=self.clock(),
                               attempts=attempts, error=reason)
                log.warning("digest slot %s of schedule %s: %s", claim.slot_at.isoformat(),
                            schedule.id, reason)
                return Outcome("skipped", attempts, error=reason)
            if digest is None:
                digest = await self.shared.digest(self.database, schedule, claim.slot_at)
            attempts += 1
            if not await self._renew(schedule, claim, attempts):
                return Outcome("lost", attempts)
            await self.pacer.wait(f"{schedule.platform}:{schedule.channel_id}")
            try:
                message_id = await channel.post(schedule, digest, slot_key=slot_key)
            except DeliveryFailure as failure:
                if failure.transient and attempts < self.policy.max_attempts:
                    delay = self._delay(failure, attempts)
                    log.warning("digest for schedule %s (attempt %d) failed: %s; retrying in "
                                "%.1f s", schedule.id, attempts, failure, delay)
                    await self.sleep(delay)
                    unknown = failure.maybe_delivered
                    continue
                return await self._fail(schedule, claim, attempts, failure)
            break
        if not await self._db(ledger.finish_delivery, delivery_id=claim.id,
                              worker=claim.claimed_by, status=ledger.SENT, now=self.clock(),
                              attempts=attempts, message_id=message_id or None, note=note):
            log.warning("digest slot %s of schedule %s: posted, but the claim was taken over "
                        "meanwhile (its new holder finds the post)", claim.slot_at, schedule.id)
            return Outcome("lost", attempts, message_id=message_id)
        log.info("digest for schedule %s posted (slot %s, %d attempt(s))", schedule.id,
                 claim.slot_at.isoformat(), attempts)
        await self._attach_chart(schedule, claim, channel, digest, message_id)
        return Outcome("sent", attempts, message_id=message_id, note=note)

    def _delay(self, failure: DeliveryFailure, attempts: int) -> float:
        if failure.retry_after is not None:
            return failure.retry_after
        return min(self.policy.max_backoff, self.policy.backoff * 2 ** (attempts - 1))

    async def _renew(self, schedule: DigestSchedule, claim: DigestDelivery,
                     attempts: int) -> bool:
        if await self._db(ledger.renew_claim, delivery_id=claim.id, worker=claim.claimed_by,
                          now=self.clock(), lease=self.policy.lease, attempts=attempts):
            return True
        log.warning("digest slot %s of schedule %s: claim taken over", claim.slot_at,
                    schedule.id)
        return False

    async def _find_earlier(self, schedule: DigestSchedule, claim: DigestDelivery,
                            channel: DigestChannel, slot_key: str, attempts: int) -> str | None:
        """The message an interrupted attempt posted, or None; transient look-up failures
        are retried like posts."""
        since = claim.claimed_at - CLOCK_SKEW
        tries = 0
        while True:
            tries += 1
            if not await self._renew(schedule, claim, attempts):
                raise DeliveryFailure("claim taken over", code="lost", transient=False)
            try:
                return await channel.find(schedule, slot_key=slot_key, since=since)
            except DeliveryFailure as failure:
                if not failure.transient or tries >= self.policy.max_attempts:
                    raise
                await self.sleep(self._delay(failure, tries))

    async def _found(self, schedule: DigestSchedule, claim: DigestDelivery, attempts: int,
                     message_id: str) -> Outcome:
        if not await self._db(ledger.finish_delivery, delivery_id=claim.id,
                              worker=claim.claimed_by, status=ledger.SENT, now=self.clock(),
                              attempts=attempts, message_id=message_id or None,
                              note=FOUND_NOTE):
            return Outcome("lost", attempts)
        log.info("digest slot %s of schedule %s: %s (message %s), not posted again",
                 claim.slot_at.isoformat(), schedule.id, FOUND_NOTE, message_id)
        # The crash came before the chart (it follows the ledger update): add it now.
        digest = await self.shared.digest(self.database, schedule, claim.slot_at)
        await self._attach_chart(schedule, claim, self.channels[schedule.platform], digest,
                                 message_id)
        return Outcome("sent", attempts, message_id=message_id, note=FOUND_NOTE)

    async def _attach_chart(self, schedule: DigestSchedule, claim: DigestDelivery,
                            channel: DigestChannel, digest, message_id: str) -> None:
        """Attach the chart once this delivery has left its turn: charts are drawn one at a
        time (SharedDigests), and the posts of the channels after it need not wait for them."""
        async def attach() -> None:
            await self._upload_chart(schedule, claim, channel, digest, message_id)

        self._charts[claim.id] = attach

    async def _upload_chart(self, schedule: DigestSchedule, claim: DigestDelivery,
                            channel: DigestChannel, digest, message_id: str) -> None:
        try:
            await channel.attach_chart(schedule, digest, message_id)
        except DeliveryFailure as failure:
            log.warning("digest chart for schedule %s not attached: %s", schedule.id, failure)
            await self._db(ledger.note_delivery, delivery_id=claim.id,
                           error=f"chart not attached: {failure}")

    async def _fail(self, schedule: DigestSchedule, claim: DigestDelivery, attempts: int,
                    failure: DeliveryFailure) -> Outcome:
        error = str(failure)
        if not await self._db(ledger.finish_delivery, delivery_id=claim.id,
                              worker=claim.claimed_by, status=ledger.FAILED, now=self.clock(),
                              attempts=attempts, error=error):
            return Outcome("lost", attempts, error=error)
        log.error("digest for schedule %s failed after %d attempt(s): %s", schedule.id,
                  attempts, error)
        channel = self.channels.get(schedule.platform)
        if channel is not None:
            where = schedule.where
            text = (f"The kpibot digest for {where} could not be posted: {failure.code}. "
                    "Invite the bot to the channel or change it with /kpi digest here, "
                    "then /kpi digest now to send it.")
            try:
                await channel.notify_owner(schedule, text)
            except DeliveryFailure as notice_failure:
                log.error("could not tell the owner of schedule %s: %s", schedule.id,
                          notice_failure)
        return Outcome("failed", attempts, error=error)

    async def catch_up(self, now: datetime | None = None) -> list[Outcome]:
        """Finish what no process is doing: claims whose process died (any trigger, manual
        sends included; past the grace window they are only looked up), then the slots due
        within the grace window that nobody claimed (missed while down); older missed slots
        are noted as skipped."""
        now = now or self.clock()
        grace = self.policy.grace
        self.shared.expire()
        await self.shared.rest()  # the chart process stops once idle

        def due():
            # Read first, in one short read session (one statement for every schedule's
            # ledger rows): a fan-out's deliveries must not wait behind a long write
            # transaction. Only slots to note as skipped need a write.
            work, missed, interrupted = [], [], []
            with self.database.read() as session:
                for row in ledger.expired_claims(session=session, now=now):
                    if row.id not in self._in_flight:
                        interrupted.append((session.get(DigestSchedule, row.schedule_id),
                                            row.slot_at, row.trigger, now - row.slot_at <= grace))
                due_slots = {}
                for schedule in ledger.list_schedules(session=session, enabled_only=True):
                    since = max(schedule.updated_at, now - timedelta(days=40))
                    slots = rule_of(schedule).slots_between(since, now)
                    if slots:
                        due_slots[schedule.id] = (schedule, slots)
                known = ledger.known_slots_of(
                    session=session, schedule_ids=list(due_slots), now=now,
                    since=min((slots[0] for _s, slots in due_slots.values()), default=now))
            for schedule_id, (schedule, slots) in due_slots.items():
                for slot in slots:
                    if slot in known[schedule_id]:
                        continue
                    (work if now - slot <= grace else missed).append((schedule, slot))
            skipped = []
            if missed:
                with self.database.write() as session:
                    for schedule, slot in missed:
                        if ledger.record_skipped(
                                session=session, schedule=schedule, slot_at=slot, now=now,
                                reason=f"missed by more than the grace window ({grace})"):
                            skipped.append((schedule.id, slot))
            return work, skipped, interrupted

        work, skipped, interrupted = await in_database_thread(due)
        for schedule_id, slot in skipped:
            log.warning("digest slot %s of schedule %s missed beyond the grace window: "
                        "skipped", slot.isoformat(), schedule_id)
        outcomes = []
        # One after the other: each digest is held from the start, so that the channels
        # after the first still share it (SharedDigests.hold).
        with self.shared.holding(*(schedule for schedule, *_rest in interrupted + work)):
            for schedule, slot, trigger, within_grace in interrupted:
                outcomes.append(await self.deliver_slot(schedule, slot, trigger=trigger,
                                                        repost=within_grace))
            for schedule, slot in work:
                if self.closing:
                    break
                outcomes.append(await self.deliver_slot(schedule, slot, trigger="catch-up"))
        return outcomes

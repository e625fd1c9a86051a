"""Claim-then-post: each slot of each schedule is posted at most once, across processes.

`deliver_slot` claims `(schedule, slot)` in the ledger (its own committed transaction), builds
the digest, posts it with retries (Retry-After honoured, else exponential backoff; permanent
errors not retried), and finishes the ledger row as sent (with the message id) or failed (with
the error) — on final failure the schedule's owner gets one direct message. Posts to one
channel are paced to about one per second. A process that dies after claiming leaves a claim
whose lease expires; `catch_up` (run on start and every minute) then hands the slot to one
other process, as it does for slots missed while the bot was down, within the grace window.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.digests.channels import DeliveryFailure, DigestChannel
from bot.digests.compose import compose_for_schedule
from reports.digest.slots import SlotRule
from storage import digests as ledger
from storage.engine import Database
from storage.models import DigestSchedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff: float = 2.0  # seconds before the 2nd attempt; doubled each time
    max_backoff: float = 120.0
    lease: timedelta = timedelta(minutes=10)
    grace: timedelta = timedelta(hours=12)
    channel_interval: float = 1.0  # seconds between posts to one channel


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | failed | taken (another process has it) | lost (claim taken over)
    attempts: int = 0
    error: str | None = None
    message_id: str | None = None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def rule_of(schedule: DigestSchedule) -> SlotRule:
    return SlotRule(schedule.cadence, schedule.day, schedule.hour, schedule.minute,
                    schedule.timezone)


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
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.database, self.channels, self.clock = database, channels, clock
        self.policy, self.sleep = policy, sleep
        self.worker = worker or default_worker_id()
        self.pacer = ChannelPacer(policy.channel_interval, monotonic=monotonic, sleep=sleep)

    async def _db(self, fn, /, **kwargs):
        def run():
            with self.database.write() as session:
                return fn(session=session, **kwargs)
        return await asyncio.to_thread(run)

    async def deliver_slot(self, schedule: DigestSchedule, slot_at: datetime, *,
                           trigger: str = "scheduled") -> Outcome:
        channel = self.channels.get(schedule.platform)
        policy = self.policy
        claim = await self._db(ledger.claim_slot, schedule=schedule, slot_at=slot_at,
                               worker=self.worker, now=self.clock(), lease=policy.lease,
                               trigger=trigger)
        if claim is None:
            log.info("digest slot %s of schedule %s: already claimed or done", slot_at,
                     schedule.id)
            return Outcome("taken")
        attempts = claim.attempts
        if channel is None:
            return await self._fail(schedule, claim.id, attempts,
                                    DeliveryFailure(f"no {schedule.platform} connection is "
                                                    "configured", code="not_configured",
                                                    transient=False))
        digest = await asyncio.to_thread(compose_for_schedule, database=self.database,
                                         schedule=schedule, now=slot_at)
        slot_key = f"{schedule.id}:{slot_at.isoformat()}"
        while True:
            attempts += 1
            still_ours = await self._db(ledger.renew_claim, delivery_id=claim.id,
                                        worker=self.worker, now=self.clock(),
                                        lease=policy.lease, attempts=attempts)
            if not still_ours:
                log.warning("digest slot %s of schedule %s: claim taken over", slot_at,
                            schedule.id)
                return Outcome("lost", attempts)
            await self.pacer.wait(f"{schedule.platform}:{schedule.channel_id}")
            try:
                message_id = await channel.post(schedule, digest, slot_key=slot_key)
            except DeliveryFailure as failure:
                if failure.transient and attempts < policy.max_attempts:
                    delay = failure.retry_after if failure.retry_after is not None else min(
                        policy.max_backoff, policy.backoff * 2 ** (attempts - 1))
                    log.warning("digest for schedule %s (attempt %d) failed: %s; retrying in "
                                "%.1f s", schedule.id, attempts, failure, delay)
                    await self.sleep(delay)
                    continue
                return await self._fail(schedule, claim.id, attempts, failure)
            break
        await self._db(ledger.finish_delivery, delivery_id=claim.id, worker=self.worker,
                       status=ledger.SENT, now=self.clock(), attempts=attempts,
                       message_id=message_id or None)
        log.info("digest for schedule %s posted (slot %s, %d attempt(s))", schedule.id,
                 slot_at.isoformat(), attempts)
        try:
            await channel.attach_chart(schedule, digest, message_id)
        except DeliveryFailure as failure:
            log.warning("digest chart for schedule %s not attached: %s", schedule.id, failure)
            await self._db(ledger.note_delivery, delivery_id=claim.id,
                           error=f"chart not attached: {failure}")
        return Outcome("sent", attempts, message_id=message_id)

    async def _fail(self, schedule: DigestSchedule, delivery_id: int, attempts: int,
                    failure: DeliveryFailure) -> Outcome:
        error = str(failure)
        await self._db(ledger.finish_delivery, delivery_id=delivery_id, worker=self.worker,
                       status=ledger.FAILED, now=self.clock(), attempts=attempts, error=error)
        log.error("digest for schedule %s failed after %d attempt(s): %s", schedule.id,
                  attempts, error)
        channel = self.channels.get(schedule.platform)
        if channel is not None:
            where = schedule.channel_name or schedule.channel_id
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
        """Send the slots due within the grace window that no process has finished (missed
        while down, or claimed by a process that died); note older missed ones as skipped."""
        now = now or self.clock()
        grace = self.policy.grace

        def due():
            work, skipped = [], []
            with self.database.write() as session:
                for schedule in ledger.list_schedules(session=session, enabled_only=True):
                    rule = rule_of(schedule)
                    since = max(schedule.updated_at, now - timedelta(days=40))
                    slots = rule.slots_between(since, now)
                    if not slots:
                        continue
                    known = ledger.known_slots(session=session, schedule_id=schedule.id,
                                               since=slots[0], now=now)
                    for slot in slots:
                        if now - slot > grace:
                            if slot not in known and ledger.record_skipped(
                                    session=session, schedule=schedule, slot_at=slot, now=now,
                                    reason=f"missed by more than the grace window "
                                           f"({grace})"):
                                skipped.append((schedule.id, slot))
                        elif slot not in known or known[slot] == "expired":
                            work.append((schedule, slot))
            return work, skipped

        work, skipped = await asyncio.to_thread(due)
        for schedule_id, slot in skipped:
            log.warning("digest slot %s of schedule %s missed beyond the grace window: "
                        "skipped", slot.isoformat(), schedule_id)
        outcomes = []
        for schedule, slot in work:
            outcomes.append(await self.deliver_slot(schedule, slot, trigger="catch-up"))
        return outcomes

"""Digest schedules and the delivery ledger.

A slot `(schedule, scheduled UTC instant)` is claimed with an INSERT that the unique constraint
`(schedule_id, slot_at)` lets only one process win; the winner holds a lease until
`lease_expires_at` and must finish (sent / failed) or renew it. A claim whose lease expired
(its process crashed) can be taken over by one other process with a conditional UPDATE; it
keeps its first `claimed_at` and its `attempts`, so the new holder knows that an earlier
attempt may have posted (attempts > 0) and since when to look for it in the channel.
Manual sends (`/kpi digest now`, `kpibot digest send`) are slots too: claimed before anything
is posted, recovered like any other (`expired_claims`).

Every function takes the caller's session; each claim or finish is meant to be its own short
write transaction (`Database.write()`), committed before anything is posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.engine import dialect_insert
from storage.models import DigestDelivery, DigestSchedule

CLAIMED, SENT, FAILED, SKIPPED = "claimed", "sent", "failed", "skipped"
ERROR_LIMIT = 500


@dataclass(frozen=True)
class ScheduleFields:
    """What `/kpi digest here` (or the CLI) sets on a channel's schedule."""

    cadence: str = "weekly"
    day: int = 0
    hour: int = 9
    minute: int = 0
    timezone: str = "UTC"
    language: str = "en"


def save_schedule(*, session: Session, workspace_id: str, platform: str, channel_id: str,
                  owner_id: str, fields: ScheduleFields, now: datetime,
                  channel_name: str | None = None,
                  webhook_url: str | None = None) -> DigestSchedule:
    """Create or replace the schedule of one channel, enabled (the channel's one row)."""
    schedule = get_schedule(session=session, workspace_id=workspace_id, platform=platform,
                            channel_id=channel_id)
    if schedule is None:
        schedule = DigestSchedule(workspace_id=workspace_id, platform=platform,
                                  channel_id=channel_id, owner_id=owner_id, created_at=now,
                                  updated_at=now)
    schedule.cadence, schedule.day = fields.cadence, fields.day
    schedule.hour, schedule.minute = fields.hour, fields.minute
    schedule.timezone, schedule.language = fields.timezone, fields.language
    schedule.owner_id, schedule.enabled, schedule.updated_at = owner_id, True, now
    if channel_name:
        schedule.channel_name = channel_name
    if webhook_url is not None:
        schedule.webhook_url = webhook_url or None
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(*, session: Session, workspace_id: str, platform: str,
                 channel_id: str) -> DigestSchedule | None:
    return session.scalars(select(DigestSchedule).where(
        DigestSchedule.workspace_id == workspace_id, DigestSchedule.platform == platform,
        DigestSchedule.channel_id == channel_id)).first()


def disable_schedule(*, session: Session, workspace_id: str, platform: str, channel_id: str,
                     now: datetime) -> DigestSchedule | None:
    """Turn a channel's digest off (the row and its ledger are kept). None if it had none."""
    schedule = get_schedule(session=session, workspace_id=workspace_id, platform=platform,
                            channel_id=channel_id)
    if schedule is None or not schedule.enabled:
        return None
    schedule.enabled, schedule.updated_at = False, now
    session.add(schedule)
    session.flush()
    return schedule


def list_schedules(*, session: Session, workspace_id: str | None = None,
                   enabled_only: bool = False) -> list[DigestSchedule]:
    query = select(DigestSchedule)
    if workspace_id is not None:
        query = query.where(DigestSchedule.workspace_id == workspace_id)
    if enabled_only:
        query = query.where(DigestSchedule.enabled.is_(True))
    return list(session.scalars(query.order_by(DigestSchedule.workspace_id,
                                            DigestSchedule.channel_id)).all())


def schedules_version(*, session: Session) -> tuple:
    """Changes whenever a schedule is added, changed or removed (the scheduler's rebuild cue)."""
    row = session.execute(sa.select(sa.func.count(DigestSchedule.id),
                                    sa.func.max(DigestSchedule.updated_at),
                                    sa.func.max(DigestSchedule.id))).one()
    return tuple(row)


# ------------------------------------------------------------------------------- ledger

def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    return dialect_insert(dialect)(DigestDelivery)


def claim_slot(*, session: Session, schedule: DigestSchedule, slot_at: datetime, worker: str,
               now: datetime, lease: timedelta, trigger: str = "scheduled"
               ) -> DigestDelivery | None:
    """Claim `(schedule, slot_at)` for `worker`; None when another process holds or finished it.

    A claim left by a crashed process (status claimed, lease expired) is taken over."""
    values = dict(schedule_id=schedule.id, workspace_id=schedule.workspace_id, slot_at=slot_at,
                  trigger=trigger, status=CLAIMED, attempts=0, claimed_by=worker,
                  claimed_at=now, lease_expires_at=now + lease)
    inserted = session.execute(
        _insert(session).values(**values).on_conflict_do_nothing(
            index_elements=["schedule_id", "slot_at"]).returning(DigestDelivery.id)).first()
    if inserted is None:
        taken = session.execute(
            sa.update(DigestDelivery)
            .where(DigestDelivery.schedule_id == schedule.id, DigestDelivery.slot_at == slot_at,
                   DigestDelivery.status == CLAIMED, DigestDelivery.lease_expires_at < now)
            .values(claimed_by=worker, lease_expires_at=now + lease))
        if taken.rowcount != 1:
            return None
    return session.scalars(select(DigestDelivery).where(
        DigestDelivery.schedule_id == schedule.id, DigestDelivery.slot_at == slot_at)).one()


def expired_claims(*, session: Session, now: datetime) -> list[DigestDelivery]:
    """Claims whose lease ran out before `now` (their process died), any trigger, oldest
    first: each is taken over (`claim_slot`) and resolved, never left claimed."""
    return list(session.scalars(select(DigestDelivery).where(
        DigestDelivery.status == CLAIMED, DigestDelivery.lease_expires_at < now)
        .order_by(DigestDelivery.slot_at, DigestDelivery.id)).all())


def record_skipped(*, session: Session, schedule: DigestSchedule, slot_at: datetime,
                   now: datetime, reason: str) -> bool:
    """Note a slot that will not be sent (missed beyond the grace window). False if known."""
    inserted = session.execute(
        _insert(session).values(
            schedule_id=schedule.id, workspace_id=schedule.workspace_id, slot_at=slot_at,
            trigger="scheduled", status=SKIPPED, attempts=0, claimed_at=now, finished_at=now,
            error=reason[:ERROR_LIMIT]).on_conflict_do_nothing(
            index_elements=["schedule_id", "slot_at"]).returning(DigestDelivery.id)).first()
    return inserted is not None


def renew_claim(*, session: Session, delivery_id: int, worker: str, now: datetime,
                lease: timedelta, attempts: int) -> bool:
    """Record an attempt and extend the lease; False if the claim is no longer ours."""
    result = session.execute(
        sa.update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.claimed_by == worker,
               DigestDelivery.status == CLAIMED)
        .values(attempts=attempts, lease_expires_at=now + lease))
    return result.rowcount == 1


RELEASED = " (released)"  # appended to the holder of a claim handed back (release_claim)


def release_claim(*, session: Session, delivery_id: int, worker: str, now: datetime) -> bool:
    """Hand our claim back (the process is stopping before it could finish): its lease ends
    at `now`, so the next catch-up of any process takes it over at once instead of after the
    lease. `attempts` is kept: an attempt that may have reached the channel is first looked up
    there by its slot key, never posted twice. The holder is renamed, so that anything the
    old holder still writes (a renewal, a finish) no longer matches. False if it was not ours
    any more (finished meanwhile)."""
    result = session.execute(
        sa.update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.claimed_by == worker,
               DigestDelivery.status == CLAIMED)
        .values(claimed_by=worker + RELEASED, lease_expires_at=now))
    return result.rowcount == 1


def finish_delivery(*, session: Session, delivery_id: int, worker: str, status: str,
                    now: datetime, attempts: int, error: str | None = None,
                    message_id: str | None = None, note: str | None = None) -> bool:
    """Close our claim as sent, failed or skipped; False if it was not ours any more.
    `note` says what recovery found (a copy already in the channel, ...)."""
    if status not in (SENT, FAILED, SKIPPED):
        raise ValueError(f"a delivery finishes as {SENT}, {FAILED} or {SKIPPED}, "
                         f"not {status!r}")
    result = session.execute(
        sa.update(DigestDelivery)
        .where(DigestDelivery.id == delivery_id, DigestDelivery.claimed_by == worker,
               DigestDelivery.status == CLAIMED)
        .values(status=status, finished_at=now, attempts=attempts,
                error=error[:ERROR_LIMIT] if error else None, message_id=message_id,
                note=note[:ERROR_LIMIT] if note else None, lease_expires_at=None))
    return result.rowcount == 1


def note_delivery(*, session: Session, delivery_id: int, error: str) -> None:
    """Add a remark to a finished delivery (a chart that could not be attached)."""
    session.execute(sa.update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(error=error[:ERROR_LIMIT]))


def known_slots(*, session: Session, schedule_id: int, since: datetime,
                now: datetime | None = None) -> dict[datetime, str]:
    """Slots of a schedule already in the ledger from `since` on → their status, with
    "expired" for a claim whose lease ran out before `now` (its process died)."""
    rows = session.execute(sa.select(DigestDelivery.slot_at, DigestDelivery.status,
                                     DigestDelivery.lease_expires_at).where(
        DigestDelivery.schedule_id == schedule_id, DigestDelivery.slot_at >= since)).all()
    return {slot: ("expired" if status == CLAIMED and now is not None and lease is not None
                   and lease < now else status) for slot, status, lease in rows}


def known_slots_of(*, session: Session, schedule_ids: Sequence[int], since: datetime,
                   now: datetime | None = None) -> dict[int, dict[datetime, str]]:
    """`known_slots` of many schedules in one statement: schedule id → slot → status."""
    known: dict[int, dict[datetime, str]] = {schedule_id: {} for schedule_id in schedule_ids}
    if not schedule_ids:
        return known
    rows = session.execute(sa.select(DigestDelivery.schedule_id, DigestDelivery.slot_at,
                                     DigestDelivery.status, DigestDelivery.lease_expires_at)
                           .where(DigestDelivery.schedule_id.in_(list(schedule_ids)),
                                  DigestDelivery.slot_at >= since)).all()
    for schedule_id, slot, status, lease in rows:
        known[schedule_id][slot] = ("expired" if status == CLAIMED and now is not None
                                    and lease is not None and lease < now else status)
    return known


def list_deliveries(*, session: Session, workspace_id: str | None = None,
                    schedule_ids: Sequence[int] | None = None,
                    limit: int = 20) -> list[DigestDelivery]:
    """The most recent ledger rows, newest slot first."""
    query = select(DigestDelivery)
    if workspace_id is not None:
        query = query.where(DigestDelivery.workspace_id == workspace_id)
    if schedule_ids is not None:
        query = query.where(DigestDelivery.schedule_id.in_(list(schedule_ids)))
    return list(session.scalars(query.order_by(DigestDelivery.slot_at.desc(),
                                            DigestDelivery.id.desc()).limit(limit)).all())

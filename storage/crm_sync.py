"""A workspace's CRM sync state (the `crm_syncs` row) and the events a sync wrote.

The row holds the cursor a run resumes from, what the last run did, the workspace's stage and
source mappings, and a lease: `claim` gives the run to one process at a time (a lease left by a
crashed process expires and may be taken over). Every function takes the caller's session and
runs inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.engine import dialect_insert
from storage.models import CrmSync, Event


class SyncBusy(RuntimeError):
    """Another process holds the sync's lease; str(error) says until when."""


def _insert_for(session: Session):
    return dialect_insert(session.get_bind().dialect.name)


def sync_row(session: Session, workspace_id: str, crm: str, *, lock: bool = False) -> CrmSync:
    """The workspace's sync row, created on first sight (race-safe); `lock` holds it
    (PostgreSQL: SELECT ... FOR UPDATE; SQLite writers are serialized already)."""
    session.execute(_insert_for(session)(CrmSync.__table__).values(
        workspace_id=workspace_id, crm=crm, status="never", deals_read=0, events_added=0,
        events_voided=0, deals_left_out=0).on_conflict_do_nothing())
    query = select(CrmSync).where(CrmSync.workspace_id == workspace_id, CrmSync.crm == crm)
    if lock:
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one()


def find_syncs(session: Session, workspace_id: str | None = None) -> list[CrmSync]:
    query = select(CrmSync).order_by(CrmSync.workspace_id, CrmSync.crm)
    if workspace_id is not None:
        query = query.where(CrmSync.workspace_id == workspace_id)
    return list(session.scalars(query).all())


def claim(session: Session, *, workspace_id: str, crm: str, owner: str, now: datetime,
          lease: timedelta) -> CrmSync:
    """Take the run: the lease for `owner` until now + lease, the run's counts reset.
    Raises SyncBusy while another owner's lease is live."""
    row = sync_row(session, workspace_id, crm, lock=True)
    if row.lease_owner and row.lease_owner != owner and row.lease_expires_at is not None \
            and row.lease_expires_at > now:
        raise SyncBusy(f"a {crm} sync of {workspace_id} is already running (started "
                       f"{row.started_at:%Y-%m-%d %H:%M} UTC)")
    row.lease_owner, row.lease_expires_at = owner, now + lease
    row.status, row.started_at, row.finished_at, row.error = "running", now, None, None
    row.deals_read = row.events_added = row.events_voided = row.deals_left_out = 0
    row.unmapped = None
    session.add(row)
    session.flush()
    return row


def holds_lease(row: CrmSync, owner: str, now: datetime) -> bool:
    return row.lease_owner == owner and row.lease_expires_at is not None \
        and row.lease_expires_at > now


def read_map(text: str | None) -> dict[str, str]:
    return dict(json.loads(text)) if text else {}


def write_map(mapping: dict[str, str]) -> str | None:
    return json.dumps(dict(sorted(mapping.items()))) if mapping else None


@dataclass(frozen=True)
class SyncedEvent:
    id: int
    key: str
    voided: bool


def synced_events(session: Session, *, workspace_id: str, logged_by: str,
                  deal_keys: Sequence[str]) -> dict[str, list[SyncedEvent]]:
    """deal key → the events a sync (`logged_by`) wrote for it, void ones included."""
    found: dict[str, list[SyncedEvent]] = {key: [] for key in deal_keys}
    keys = sorted(set(deal_keys))
    for start in range(0, len(keys), 500):
        rows = session.execute(select(Event.deal_key, Event.id, Event.idempotency_key,
                                      Event.voided_at).where(
            Event.workspace_id == workspace_id, Event.logged_by == logged_by,
            Event.deal_key.in_(keys[start:start + 500])))
        for deal_key, event_id, key, voided_at in rows:
            found[deal_key].append(SyncedEvent(event_id, key, voided_at is not None))
    return found

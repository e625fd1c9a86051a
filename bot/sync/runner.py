"""One HubSpot sync of one workspace: pipelines and owners, then deals changed since the cursor,
page by page, then deleted deals.

Each page is one transaction: its deals' events are written (new keys recorded, the sync's
events a deal no longer implies voided as `hubspot:changed`, deals merged into it voided as
`hubspot:merged`), the derived rows brought up to date, and the cursor moved to the page's
last modification time. A run that stops (a crash, HubSpot failing) therefore resumes from
its last page: the next run asks again for deals modified since the cursor (less
CURSOR_OVERLAP, for HubSpot's search index lagging behind its writes), and what it already
stored is recognised by its keys. Deleted deals (HubSpot's archived list) have the sync's
events voided as `hubspot:deleted`. The run holds the sync's lease (storage.crm_sync), so two
processes never sync one workspace at once.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.sync.hubspot import Deal, HubSpotClient, HubSpotError, parse_instant
from bot.sync.mapping import LOGGED_BY, DealMapper, StageMap, Unmapped, map_stages, stage_label
from storage.crm_sync import SyncBusy, claim, holds_lease, read_map, sync_row, synced_events
from storage.engine import Database
from storage.models import Workspace
from storage.recording import NewEvent, record_events, void_event
from storage.reps import RepDirectory, prune_unused_named_reps
from storage.upkeep import Deferred, apply_deferred
from storage.workspaces import ensure_workspace, lock_derived_rows

CRM = "hubspot"
LEASE = timedelta(minutes=10)
CURSOR_OVERLAP = timedelta(minutes=5)


class SyncFailed(RuntimeError):
    """The run stopped; str(error) says why. What it stored stays, and the cursor with it."""


@dataclass
class SyncReport:
    workspace_id: str
    deals_read: int = 0
    events_added: int = 0
    events_voided: int = 0
    voided_by_reason: Counter = field(default_factory=Counter)  # changed | deleted | merged
    deals_left_out: int = 0
    left_out: Counter = field(default_factory=Counter)  # 'deal stage "X"' → deals
    hints: dict[str, str] = field(default_factory=dict)  # the same labels → what to do
    unmapped_stages: list[str] = field(default_factory=list)  # stages no deal may sit in
    cursor: datetime | None = None
    requests: int = 0


def ensure_sync_workspace(database: Database, workspace_id: str, *, timezone: str,
                          currency: str, fiscal_year_start: int, now: datetime) -> bool:
    """Create the workspace a sync writes to when it is new (the settings' defaults, as
    `kpibot token create` does); True when it was created."""
    with database.write() as session:
        if session.get(Workspace, workspace_id) is not None:
            return False
        platform = workspace_id.partition(":")[0]
        ensure_workspace(session=session, workspace_id=workspace_id,
                         platform=platform if platform in ("slack", "teams") else "api",
                         timezone=timezone, currency=currency,
                         fiscal_year_start=fiscal_year_start, now=now)
        return True


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def sync_hubspot(*, database: Database, workspace_id: str, client: HubSpotClient,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 owner: str | None = None, full: bool = False) -> SyncReport:
    """Run one sync of the workspace (which must exist). Raises SyncBusy when another process
    runs it, SyncFailed when it stops (the report so far is in the sync row)."""
    owner = owner or process_name()
    report = SyncReport(workspace_id)
    with database.write() as session:
        if session.get(Workspace, workspace_id) is None:
            raise SyncFailed(f"no workspace {workspace_id} in the database")
        row = claim(session, workspace_id=workspace_id, crm=CRM, owner=owner, now=clock(),
                    lease=LEASE)
        stage_overrides, source_map = read_map(row.stage_map), read_map(row.source_map)
        cursor = None if full else row.cursor_at
    report.cursor = cursor
    try:
        stage_map = map_stages(client.stages(), stage_overrides)
        report.unmapped_stages = [stage_label(s) for s in stage_map.unmapped]
        owners = client.owners()
        since = cursor - CURSOR_OVERLAP if cursor is not None else None
        for page in client.changed_deals(since, stage_map.properties()):
            with database.write() as session:
                _store_page(session, workspace_id, page, stage_map, owners, source_map,
                            report, clock())
                _progress(session, report, owner, clock(), cursor_from=page)
        for deleted in client.archived_deals():
            with database.write() as session:
                _void_deals(session, workspace_id, deleted, "hubspot:deleted", "deleted",
                            report, clock())
                _progress(session, report, owner, clock())
    except (HubSpotError, SyncBusy) as error:
        report.requests = client.requests
        _finish(database, report, owner, clock(), error=str(error))
        raise SyncFailed(str(error)) from None
    except BaseException as error:
        report.requests = client.requests
        _finish(database, report, owner, clock(), error=f"stopped: {type(error).__name__}")
        raise
    report.requests = client.requests
    _finish(database, report, owner, clock())
    return report


def _store_page(session: Session, workspace_id: str, page: Sequence[Deal], stage_map: StageMap,
                owners, source_map: dict[str, str], report: SyncReport, now: datetime) -> None:
    lock_derived_rows(session, workspace_id)
    workspace = session.get(Workspace, workspace_id)
    directory = RepDirectory.load(session, workspace_id)
    mapper = DealMapper(stage_map=stage_map, owners=owners, directory=directory,
                        currency=workspace.currency, source_map=source_map)
    wanted: dict[str, list[NewEvent]] = {}
    merged: dict[str, str] = {}  # deal key merged away → the deal it went into
    for deal in page:
        report.deals_read += 1
        for other in (deal.get("hs_merged_object_ids") or "").split(";"):
            if other.strip() and other.strip() != deal.id:
                merged[other.strip().casefold()] = deal.id
        try:
            wanted[deal.id.casefold()] = mapper.events(deal)
        except Unmapped as problem:
            report.deals_left_out += 1
            report.left_out[str(problem)] += 1
            report.hints.setdefault(str(problem), problem.hint)
    stored = synced_events(session, workspace_id=workspace_id, logged_by=LOGGED_BY,
                           deal_keys=[*wanted, *merged])
    deferred = Deferred()
    fresh: list[NewEvent] = []
    for deal_key, events in wanted.items():
        known = {e.key: e for e in stored[deal_key]}
        keep: set[str] = set()
        for event in events:
            key, generation = event.idempotency_key, 1
            while key in known and known[key].voided:  # voided before, wanted again
                generation += 1
                key = f"{event.idempotency_key}:r{generation}"
            keep.add(key)
            if key not in known:
                fresh.append(replace(event, idempotency_key=key))
        for old in known.values():
            if not old.voided and old.key not in keep:
                _void(session, workspace, old.id, "hubspot:changed", "changed", report, now,
                      deferred)
    for deal_key, into in merged.items():
        for old in stored[deal_key]:
            if not old.voided:
                _void(session, workspace, old.id, f"hubspot:merged into {into}"[:80], "merged",
                      report, now, deferred)
    directory.create_pending(session, now=now)
    report.events_added += record_events(session=session, workspace=workspace,
                                         new_events=fresh, now=now, defer=deferred)
    apply_deferred(session=session, workspace=workspace, deferred=deferred)
    prune_unused_named_reps(session=session, workspace_id=workspace_id,
                            ids=[uid for uid, _ in directory.created])


def _void_deals(session: Session, workspace_id: str, deal_ids: Sequence[str], voided_by: str,
                reason: str, report: SyncReport, now: datetime) -> None:
    stored = synced_events(session, workspace_id=workspace_id, logged_by=LOGGED_BY,
                           deal_keys=[d.casefold() for d in deal_ids])
    live = [e for events in stored.values() for e in events if not e.voided]
    if not live:
        return
    lock_derived_rows(session, workspace_id)
    workspace = session.get(Workspace, workspace_id)
    deferred = Deferred()
    for event in live:
        _void(session, workspace, event.id, voided_by, reason, report, now, deferred)
    apply_deferred(session=session, workspace=workspace, deferred=deferred)


def _void(session: Session, workspace: Workspace, event_id: int, voided_by: str, reason: str,
          report: SyncReport, now: datetime, deferred: Deferred) -> None:
    void_event(session=session, workspace=workspace, event_id=event_id, voided_by=voided_by,
               now=now, defer=deferred)
    report.events_voided += 1
    report.voided_by_reason[reason] += 1


def _progress(session: Session, report: SyncReport, owner: str, now: datetime, *,
              cursor_from: Sequence[Deal] = ()) -> None:
    """The run's counts and cursor, in the page's transaction; the lease renewed. A run that
    lost its lease (it stalled past it and another process took over) stops here."""
    row = sync_row(session, report.workspace_id, CRM, lock=True)
    if not holds_lease(row, owner, now):
        raise SyncBusy("another process took the sync over (this run stalled past its lease)")
    last = max((parse_instant(d.get("hs_lastmodifieddate")) for d in cursor_from),
               default=None, key=lambda at: at or datetime.min.replace(tzinfo=UTC))
    if last is not None and (row.cursor_at is None or last > row.cursor_at):
        row.cursor_at = last
    report.cursor = row.cursor_at
    _counts(row, report)
    row.lease_expires_at = now + LEASE
    session.add(row)


def _counts(row, report: SyncReport) -> None:
    row.deals_read, row.events_added = report.deals_read, report.events_added
    row.events_voided, row.deals_left_out = report.events_voided, report.deals_left_out
    row.unmapped = describe_unmapped(report)[:2000] or None


def describe_unmapped(report: SyncReport) -> str:
    """What the run could not map, in words: left-out deals by cause, then unmapped stages."""
    parts = [f"{label} ({count} deal{'s' if count != 1 else ''} left out: {report.hints[label]})"
             for label, count in report.left_out.most_common()]
    idle = [s for s in report.unmapped_stages if f'deal stage "{s}"' not in report.left_out]
    if idle:
        parts.append("unmapped stages without deals now: " + ", ".join(idle))
    return "; ".join(parts)


def _finish(database: Database, report: SyncReport, owner: str, now: datetime,
            error: str | None = None) -> None:
    with database.write() as session:
        row = sync_row(session, report.workspace_id, CRM, lock=True)
        if row.lease_owner != owner:
            return  # another process took over: its run reports
        _counts(row, report)
        row.status = "failed" if error else "ok"
        row.error = error[:500] if error else None
        row.finished_at = now
        row.lease_owner = row.lease_expires_at = None
        session.add(row)

"""Keeping derived rows (deals, accounts, rollups) in step with events, now or deferred.

Every function takes the caller's session and runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.accounts import ACCOUNT_KINDS, refresh_accounts, refresh_accounts_bulk
from storage.bulk import chunks
from storage.deals import account_view, refresh_deals, refresh_deals_bulk
from storage.models import Account, Deal, Event, Workspace
from storage.rollups import RollupKey, upsert_rollups
from storage.workspaces import lock_derived_rows, note_history_change

if TYPE_CHECKING:
    from storage.recording import NewEvent


@dataclass
class Deferred:
    """Derived-row upkeep put off by a bulk writer until `apply_deferred` (an import).

    record_events and void_event given one only add to it: the rollup totals, and the deals
    and accounts their events touch. `apply_deferred`, in the same transaction, then upserts
    each rollup row once and rewrites each deal and account once, however many chunks
    touched them, with the same rules as the immediate path.
    """

    deal_keys: set[str] = field(default_factory=set)
    account_keys: set[str] = field(default_factory=set)
    rollups: dict[RollupKey, list[int]] = field(default_factory=dict)

    def touch(self, events: Iterable[Event | NewEvent]) -> None:
        for e in events:
            if e.deal_key:
                self.deal_keys.add(e.deal_key)
            if e.account_key or e.deal_key:
                self.account_keys.add(e.account_key or e.deal_key)


def refresh_touched(session: Session, workspace_id: str,
                     events: Sequence[Event | NewEvent], *, now: datetime | None = None,
                     zone: ZoneInfo | None = None,
                     read: tuple[list[tuple], list[tuple]] | None = None) -> None:
    """Bring the deals and accounts these events touch up to date (nothing to do, and no
    statement, for events that name neither). `zone`: the workspace's, when the caller has
    it (else read from its row). `read`: the one deal's rows, read already
    (`refresh_deals`)."""
    deal_keys = sorted({e.deal_key for e in events if e.deal_key})
    if not deal_keys and not any(e.account_key for e in events):
        return
    before: dict[str, tuple] = {}  # refresh_deals (or refresh_accounts) takes the lock
    refreshed = refresh_deals(session=session, workspace_id=workspace_id, deal_keys=deal_keys,
                              now=now, zone=zone, before=before, read=read)
    if not any(e.kind in ACCOUNT_KINDS for e in events) and all(
            before.get(key, (None, None))[1] == account_view(refreshed[key])
            for key in deal_keys):
        return  # accounts read only wins and churn/MRR events: none of theirs changed
    accounts = {account for account, _view in before.values() if account}  # before
    accounts.update(d["account_key"] for d in refreshed.values() if d and d["account_key"])
    accounts.update(e.account_key or e.deal_key for e in events if e.account_key or e.deal_key)
    refresh_accounts(session=session, workspace_id=workspace_id, account_keys=sorted(accounts))


def apply_deferred(*, session: Session, workspace: Workspace, deferred: Deferred) -> None:
    """Bring rollups, deals and accounts up to date for everything noted in `deferred`.

    The same result as the immediate path of record_events/void_event, in a few statements per
    500 deals: rows are read and written with Core, without ORM objects. Deal and account
    objects already in the session are expired, so they reload what was written.
    """
    upsert_rollups(session, workspace, deferred.rollups)
    deferred.rollups = {}
    deal_keys = sorted(deferred.deal_keys)
    if deal_keys or deferred.account_keys:
        lock_derived_rows(session, workspace.id)
    session.flush()
    accounts = set(deferred.account_keys)
    for chunk in chunks(deal_keys):  # the accounts the deals belonged to before
        accounts.update(k for (k,) in session.execute(select(Deal.account_key).where(
            Deal.workspace_id == workspace.id, Deal.key.in_(chunk))) if k)
    accounts.update(refresh_deals_bulk(session, workspace.id, deal_keys))
    if deal_keys:  # an import: history, as good as always
        note_history_change(session=session, workspace_id=workspace.id)
    refresh_accounts_bulk(session, workspace.id, sorted(accounts))
    deferred.deal_keys, deferred.account_keys = set(), set()
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Deal | Account):
            session.expire(instance)

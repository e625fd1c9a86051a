"""Account rows, rewritten from their won deals and their churn and MRR events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.bulk import chunks
from storage.models import Account, Deal, Event
from storage.workspaces import lock_derived_rows


def refresh_account(*, session: Session, workspace_id: str, account_key: str) -> Account | None:
    """Rewrite one account; see refresh_accounts."""
    return refresh_accounts(session=session, workspace_id=workspace_id,
                            account_keys=[account_key])[account_key]


ACCOUNT_KINDS = ("churned", "mrr-change")  # events that name an account, not only a deal


def refresh_accounts(*, session: Session, workspace_id: str, account_keys: Sequence[str]
                     ) -> dict[str, Account | None]:
    """Rewrite accounts from their won deals and their non-void churn and MRR events.

    customer_since: the first win; churned_at: the last `churned` event if it came after the
    last win; MRR: won deals' MRR plus MRR changes, zero once churned. The churned MRR is the
    churn event's `mrr=` or, without one, the account's MRR just before it churned.
    """
    keys = sorted(set(account_keys))
    if keys:
        lock_derived_rows(session, workspace_id)
    won: dict[str, list[tuple[datetime | None, int | None, str | None]]] = {k: [] for k in keys}
    account_events: dict[str, list[Event]] = {k: [] for k in keys}
    existing: dict[str, Account] = {}
    for chunk in chunks(keys):
        _collect_won_deals(session, workspace_id, chunk, won)
        # coalesce(account_key, deal_key) in chunk, as two index searches
        # (ix_events_workspace_account, ix_events_workspace_deal): SQLite answers the same
        # condition written as one OR with a scan of the workspace's whole history. The
        # second search leaves `account_key IS NULL` to Python: in SQL, SQLite would read it
        # from ix_events_workspace_account, every event without an account, once per chunk.
        for by_deal in (False, True):
            for event in session.scalars(select(Event).where(
                    Event.workspace_id == workspace_id,
                    Event.deal_key.in_(chunk) if by_deal else Event.account_key.in_(chunk),
                    Event.kind.in_(ACCOUNT_KINDS), Event.voided_at.is_(None))):
                if not (by_deal and event.account_key is not None):
                    account_events[event.account_key or event.deal_key].append(event)
        for account in session.scalars(select(Account).where(
                Account.workspace_id == workspace_id, Account.key.in_(chunk))):
            existing[account.key] = account
    now = datetime.now(UTC)
    result: dict[str, Account | None] = {}
    for key in keys:
        account = existing.get(key)
        if not won[key] and not account_events[key]:
            if account is not None:
                session.delete(account)
            result[key] = None
            continue
        if account is None:
            account = Account(workspace_id=workspace_id, key=key, updated_at=now)
        _apply_account(account, key, won[key], account_events[key], now)
        session.add(account)
        result[key] = account
    session.flush()
    return result


def _collect_won_deals(session: Session, workspace_id: str, keys: Sequence[str],
                       won: dict[str, list]) -> None:
    """Append (won_at, mrr, name) of each won deal of the accounts `keys` to won[key], in
    win order. The account's deals come through ix_deals_account; the outcome is checked
    here, since with `outcome = 'won'` in SQL, SQLite may pick ix_deals_open_stage and read
    every won deal of the workspace."""
    for won_at, mrr, name, key, outcome in session.execute(
            select(Deal.won_at, Deal.mrr_minor, Deal.name, Deal.account_key, Deal.outcome)
            .where(Deal.workspace_id == workspace_id, Deal.account_key.in_(keys))
            .order_by(Deal.won_at, Deal.key)):
        if outcome == "won":
            won[key].append((won_at, mrr, name))


def refresh_accounts_bulk(session: Session, workspace_id: str, keys: Sequence[str]) -> None:
    """refresh_accounts without ORM objects: the same queries, written with Core."""
    table = Account.__table__
    now = datetime.now(UTC)
    for chunk in chunks(keys):
        won: dict[str, list] = {k: [] for k in chunk}
        account_events: dict[str, list] = {k: [] for k in chunk}
        _collect_won_deals(session, workspace_id, chunk, won)
        for by_deal in (False, True):  # the same two searches as refresh_accounts
            for event in session.execute(select(
                    Event.id, Event.kind, Event.occurred_at, Event.amount_minor, Event.mrr_minor,
                    Event.deal_name, Event.account_key, Event.deal_key).where(
                    Event.workspace_id == workspace_id,
                    Event.deal_key.in_(chunk) if by_deal else Event.account_key.in_(chunk),
                    Event.kind.in_(ACCOUNT_KINDS), Event.voided_at.is_(None))):
                if not (by_deal and event.account_key is not None):
                    account_events[event.account_key or event.deal_key].append(event)
        existing = dict(session.execute(select(Account.key, Account.name).where(
            Account.workspace_id == workspace_id, Account.key.in_(chunk))).all())
        inserts, updates, deletes = [], [], []
        for key in chunk:
            if not won[key] and not account_events[key]:
                if key in existing:
                    deletes.append(key)
                continue
            values = _account_values(key, existing.get(key), won[key], account_events[key], now)
            if key in existing:
                updates.append({"account_key": key, **values})
            else:
                inserts.append({"workspace_id": workspace_id, "key": key, **values})
        if deletes:
            session.execute(sa.delete(table).where(table.c.workspace_id == workspace_id,
                                                   table.c.key.in_(deletes)))
        if updates:
            session.execute(sa.update(table).where(table.c.workspace_id == workspace_id,
                                                   table.c.key == sa.bindparam("account_key")),
                            updates)
        if inserts:
            session.execute(sa.insert(table), inserts)


def _apply_account(account: Account, key: str, won_deals, events: Sequence[Event],
                   now: datetime) -> None:
    for name, value in _account_values(key, account.name, won_deals, events, now).items():
        setattr(account, name, value)


def _account_values(key: str, name: str | None, won_deals, events, now: datetime) -> dict:
    """An account row's derived columns (the ORM and the bulk path share these).

    `events` are the account's non-void churn and MRR events (rows or Event objects).
    """
    events = sorted(events, key=lambda e: (e.occurred_at, e.id or 0))  # any query order
    won = [(w, m) for w, m, _name in won_deals]
    wins = [w for w, _m in won if w is not None]
    last_win = max(wins, default=None)
    churns = sorted((e for e in events if e.kind == "churned"),
                    key=lambda e: (e.occurred_at, e.id or 0))
    last_churn = churns[-1] if churns else None
    churned = last_churn is not None and (last_win is None or last_churn.occurred_at > last_win)

    def mrr_before(instant: datetime | None) -> int:
        base = sum(m or 0 for w, m in won if instant is None or (w is not None and w < instant))
        changes = sum(e.amount_minor or 0 for e in events if e.kind == "mrr-change"
                      and (instant is None or e.occurred_at < instant))
        return base + changes

    named = [n for _w, _m, n in won_deals if n] + [e.deal_name for e in events if e.deal_name]
    return {
        "name": named[0] if named else name or key,
        "customer_since": min(wins, default=None),
        "churned_at": last_churn.occurred_at if churned else None,
        "churned_mrr_minor": (
            (last_churn.mrr_minor if last_churn.mrr_minor is not None
             else max(0, mrr_before(last_churn.occurred_at))) if churned else 0),
        "mrr_minor": 0 if churned else mrr_before(None),
        "updated_at": now,
    }

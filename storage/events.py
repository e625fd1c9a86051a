"""Recording and voiding events, with the deal state and daily rollups kept in step.

Every function takes the caller's session and runs inside the caller's transaction, so an event,
its deal and its rollup row are written together or not at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from reports.deal_state import DealEvent, derive_deal_state
from reports.events import KINDS, Stage
from storage.models import Account, DailyRollup, Deal, Event, User, Workspace


class EventNotFound(LookupError):
    pass


@dataclass(frozen=True)
class NewEvent:
    """An event to record. `deal_key` is the case-folded deal name."""

    kind: str
    user_id: str
    logged_by: str
    occurred_at: datetime
    idempotency_key: str
    count: int = 1
    amount_minor: int | None = None
    currency: str | None = None
    duration_seconds: int | None = None
    mrr_minor: int | None = None
    deal_key: str | None = None
    deal_name: str | None = None
    account_key: str | None = None
    channel_id: str | None = None
    source: str | None = None
    source_raw: str | None = None
    reason: str | None = None
    competitor: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Recorded:
    event: Event
    duplicate: bool  # True when the idempotency key had been stored before


def ensure_workspace(
    *,
    session: Session,
    workspace_id: str,
    platform: str,
    timezone: str = "UTC",
    currency: str = "USD",
    fiscal_year_start: int = 1,
    name: str | None = None,
    now: datetime | None = None,
) -> Workspace:
    """The workspace row, created with the given defaults on first sight (race-safe)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is not None:
        return workspace
    _insert_if_missing(session, Workspace, {
        "id": workspace_id, "platform": platform, "name": name, "timezone": timezone,
        "currency": currency, "fiscal_year_start": fiscal_year_start,
        "created_at": now or datetime.now(UTC),
    })
    return session.get(Workspace, workspace_id, populate_existing=True)


def ensure_user(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> User:
    """The user row, created on first sight (race-safe); the display name kept current."""
    user = session.get(User, (workspace_id, user_id))
    if user is None:
        _insert_if_missing(session, User, {
            "workspace_id": workspace_id, "id": user_id, "display_name": display_name,
            "is_admin": False, "created_at": now or datetime.now(UTC),
        })
        user = session.get(User, (workspace_id, user_id), populate_existing=True)
    elif display_name and user.display_name != display_name:
        user.display_name = display_name
        session.add(user)
        session.flush()
    return user


def _insert_if_missing(session: Session, model: type, values: dict) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so two first requests at once both succeed."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model.__table__).values(**values).on_conflict_do_nothing())


def local_day(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def record_event(
    *, session: Session, workspace: Workspace, new: NewEvent, now: datetime | None = None
) -> Recorded:
    """Store `new` once. A repeated idempotency key returns the stored event, unchanged."""
    existing = find_by_idempotency_key(
        session=session, workspace_id=workspace.id, key=new.idempotency_key
    )
    if existing is not None:
        return Recorded(existing, duplicate=True)
    event = _event_row(workspace.id, new, now or datetime.now(UTC))
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race (PostgreSQL); return its event.
        existing = find_by_idempotency_key(
            session=session, workspace_id=workspace.id, key=new.idempotency_key
        )
        if existing is None:
            raise
        return Recorded(existing, duplicate=True)
    _apply_to_rollup(session, workspace, [event], sign=1)
    _refresh_touched(session, workspace.id, [event])
    return Recorded(event, duplicate=False)


def record_events(
    *, session: Session, workspace: Workspace, new_events: Iterable[NewEvent],
    now: datetime | None = None,
) -> int:
    """Bulk insert for imports and generated history; keys already stored are skipped.

    Returns how many events were added. Deals and rollups are brought up to date at the end.
    """
    now = now or datetime.now(UTC)
    batch = list(new_events)
    if not batch:
        return 0
    known: set[str] = set()
    keys = [n.idempotency_key for n in batch]
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        known.update(
            session.exec(
                select(Event.idempotency_key).where(
                    Event.workspace_id == workspace.id, Event.idempotency_key.in_(chunk)
                )
            ).all()
        )
    fresh: list[NewEvent] = []
    for new in batch:
        if new.idempotency_key in known:
            continue
        known.add(new.idempotency_key)
        _check(new)
        fresh.append(new)
    if not fresh:
        return 0
    # Core executemany: building ORM objects would cost more than the insert itself.
    session.flush()
    session.execute(sa.insert(Event.__table__), [
        {**{name: getattr(new, name) for name in _NEW_EVENT_FIELDS},
         "workspace_id": workspace.id, "logged_at": now} for new in fresh])
    _apply_to_rollup(session, workspace, fresh, sign=1)
    _refresh_touched(session, workspace.id, fresh)
    return len(fresh)


def void_event(
    *, session: Session, workspace: Workspace, event_id: int, voided_by: str, now: datetime
) -> Event:
    """Mark an event void (the row stays) and take it out of its deal and rollup."""
    event = get_event(session=session, workspace_id=workspace.id, event_id=event_id)
    if event.voided_at is not None:
        return event
    event.voided_at = now
    event.voided_by = voided_by
    session.add(event)
    session.flush()
    _apply_to_rollup(session, workspace, [event], sign=-1)
    _refresh_touched(session, workspace.id, [event])
    return event


def get_event(*, session: Session, workspace_id: str, event_id: int) -> Event:
    event = session.exec(
        select(Event).where(Event.workspace_id == workspace_id, Event.id == event_id)
    ).first()
    if event is None:
        raise EventNotFound(event_id)
    return event


def find_by_idempotency_key(*, session: Session, workspace_id: str, key: str) -> Event | None:
    return session.exec(
        select(Event).where(Event.workspace_id == workspace_id, Event.idempotency_key == key)
    ).first()


def find_last_logged(*, session: Session, workspace_id: str, logged_by: str) -> Event | None:
    """The caller's most recently logged event that is not void."""
    return session.exec(
        select(Event)
        .where(
            Event.workspace_id == workspace_id,
            Event.logged_by == logged_by,
            Event.voided_at.is_(None),
        )
        .order_by(Event.logged_at.desc(), Event.id.desc())
        .limit(1)
    ).first()


def in_window(query, *, workspace_id: str, start: datetime | None = None,
              end: datetime | None = None, include_void: bool = False):
    """`query` narrowed to a workspace's events in [start, end), oldest first."""
    query = query.where(Event.workspace_id == workspace_id)
    if start is not None:
        query = query.where(Event.occurred_at >= start)
    if end is not None:
        query = query.where(Event.occurred_at < end)
    if not include_void:
        query = query.where(Event.voided_at.is_(None))
    return query.order_by(Event.occurred_at, Event.id)


def list_events(
    *,
    session: Session,
    workspace_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    include_void: bool = False,
    limit: int | None = None,
) -> Sequence[Event]:
    query = in_window(select(Event), workspace_id=workspace_id, start=start, end=end,
                      include_void=include_void)
    if limit is not None:
        query = query.limit(limit)
    return session.exec(query).all()


def _chunks(items: Sequence[str], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def refresh_deal(*, session: Session, workspace_id: str, deal_key: str) -> Deal | None:
    """Rewrite the deal row from its non-void events (deleting it when none are left)."""
    return refresh_deals(session=session, workspace_id=workspace_id, deal_keys=[deal_key])[
        deal_key]


def refresh_deals(*, session: Session, workspace_id: str, deal_keys: Sequence[str]
                  ) -> dict[str, Deal | None]:
    """Rewrite many deal rows from their events, a few queries per 500 deals."""
    keys = sorted(set(deal_keys))
    if keys:
        lock_derived_rows(session, workspace_id)
    by_key: dict[str, list[Event]] = {k: [] for k in keys}
    existing: dict[str, Deal] = {}
    for chunk in _chunks(keys):
        # No ORDER BY: SQLite would trade ix_events_workspace_deal for a scan; sorted below.
        for event in session.exec(select(Event).where(
                Event.workspace_id == workspace_id, Event.deal_key.in_(chunk),
                Event.voided_at.is_(None))):
            by_key[event.deal_key].append(event)
        for deal in session.exec(select(Deal).where(Deal.workspace_id == workspace_id,
                                                    Deal.key.in_(chunk))):
            existing[deal.key] = deal
    now = datetime.now(UTC)
    result: dict[str, Deal | None] = {}
    for key in keys:
        events, deal = by_key[key], existing.get(key)
        events.sort(key=lambda e: (e.occurred_at, e.id or 0))
        if not events:
            if deal is not None:
                session.delete(deal)
            result[key] = None
            continue
        state = derive_deal_state([_deal_event(e) for e in events])
        if deal is None:
            deal = Deal(workspace_id=workspace_id, key=key, name=state.name or key,
                        updated_at=now)
        _apply_state(deal, state, key, fallback_owner=events[-1].user_id, now=now)
        session.add(deal)
        result[key] = deal
    session.flush()
    return result


def _apply_state(deal: Deal, state, key: str, *, fallback_owner: str, now: datetime) -> None:
    deal.name = state.name or key
    deal.account_key = state.account_key or key
    deal.owner_id = state.owner_id or fallback_owner
    deal.source = state.source
    deal.first_event_at = state.first_event_at
    deal.lead_at = state.stage_at.get(Stage.LEAD)
    deal.mql_at = state.stage_at.get(Stage.MQL)
    deal.sql_at = state.stage_at.get(Stage.SQL)
    deal.opportunity_at = state.stage_at.get(Stage.OPPORTUNITY)
    deal.demo_at = state.stage_at.get(Stage.DEMO)
    deal.won_at = state.won_at
    deal.lost_at = state.lost_at
    deal.closed_at = state.closed_at
    deal.outcome = state.outcome
    deal.stage = state.stage
    deal.stage_changed_at = state.stage_changed_at
    deal.amount_minor = state.amount_minor
    deal.currency = state.currency
    deal.mrr_minor = state.mrr_minor
    deal.reason = state.reason
    deal.competitor = state.competitor
    deal.updated_at = now


_DERIVED_ROWS_LOCK = 0x6B70_6431  # first key of the advisory lock (second: the workspace)


def lock_derived_rows(session: Session, workspace_id: str) -> None:
    """PostgreSQL: one writer at a time rewrites a workspace's deals and accounts.

    Without it two transactions logging on the same deal at once each read the events without
    the other's uncommitted one: both insert the new deal (a unique violation, so one command
    fails), or the later one overwrites the deal with a state that misses an event. Taken before
    the events are read and held to commit, the lock makes the second writer read the first
    one's event. SQLite needs nothing: BEGIN IMMEDIATE already serializes writers.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:workspace))"),
                    {"space": _DERIVED_ROWS_LOCK, "workspace": workspace_id})


def _refresh_touched(session: Session, workspace_id: str,
                     events: Sequence[Event | NewEvent]) -> None:
    """Bring the deals and accounts these events touch up to date."""
    deal_keys = sorted({e.deal_key for e in events if e.deal_key})
    lock_derived_rows(session, workspace_id)
    accounts: set[str] = set()
    for chunk in _chunks(deal_keys):
        accounts.update(k for (k,) in session.execute(select(Deal.account_key).where(
            Deal.workspace_id == workspace_id, Deal.key.in_(chunk))) if k)
    refreshed = refresh_deals(session=session, workspace_id=workspace_id, deal_keys=deal_keys)
    accounts.update(d.account_key for d in refreshed.values() if d is not None and d.account_key)
    accounts.update(e.account_key or e.deal_key for e in events if e.account_key or e.deal_key)
    refresh_accounts(session=session, workspace_id=workspace_id, account_keys=sorted(accounts))


def refresh_account(*, session: Session, workspace_id: str, account_key: str) -> Account | None:
    """Rewrite one account; see refresh_accounts."""
    return refresh_accounts(session=session, workspace_id=workspace_id,
                            account_keys=[account_key])[account_key]


_ACCOUNT_KINDS = ("churned", "mrr-change")  # events that name an account, not only a deal


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
    for chunk in _chunks(keys):
        # The account's deals through ix_deals_account; the outcome is checked here, since
        # with `outcome = 'won'` in SQL, SQLite may pick ix_deals_open_stage and read every
        # won deal of the workspace.
        for won_at, mrr, name, key, outcome in session.execute(
                select(Deal.won_at, Deal.mrr_minor, Deal.name, Deal.account_key, Deal.outcome)
                .where(Deal.workspace_id == workspace_id, Deal.account_key.in_(chunk))
                .order_by(Deal.won_at)):
            if outcome == "won":
                won[key].append((won_at, mrr, name))
        # coalesce(account_key, deal_key) in chunk, as two index searches
        # (ix_events_workspace_account, ix_events_workspace_deal): SQLite answers the same
        # condition written as one OR with a scan of the workspace's whole history.
        named_by = ((Event.account_key.in_(chunk),),
                    (Event.account_key.is_(None), Event.deal_key.in_(chunk)))
        for conditions in named_by:
            for event in session.exec(select(Event).where(
                    Event.workspace_id == workspace_id, *conditions,
                    Event.kind.in_(_ACCOUNT_KINDS), Event.voided_at.is_(None))):
                account_events[event.account_key or event.deal_key].append(event)
        for account in session.exec(select(Account).where(
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


def _apply_account(account: Account, key: str, won_deals, events: Sequence[Event],
                   now: datetime) -> None:
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
    account.name = named[0] if named else account.name or key
    account.customer_since = min(wins, default=None)
    account.churned_at = last_churn.occurred_at if churned else None
    account.churned_mrr_minor = (
        (last_churn.mrr_minor if last_churn.mrr_minor is not None
         else max(0, mrr_before(last_churn.occurred_at))) if churned else 0)
    account.mrr_minor = 0 if churned else mrr_before(None)
    account.updated_at = now


def _deal_event(e: Event) -> DealEvent:
    return DealEvent(
        id=e.id or 0,
        kind=e.kind,
        occurred_at=e.occurred_at,
        user_id=e.user_id,
        deal_name=e.deal_name,
        account_key=e.account_key,
        amount_minor=e.amount_minor,
        currency=e.currency,
        mrr_minor=e.mrr_minor,
        source=e.source,
        reason=e.reason,
        competitor=e.competitor,
    )


_NEW_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(NewEvent))


def _check(new: NewEvent) -> None:
    if new.kind not in KINDS:
        raise ValueError(f"unknown event kind {new.kind!r}")
    if new.occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be tz-aware")


def _event_row(workspace_id: str, new: NewEvent, now: datetime) -> Event:
    _check(new)
    return Event(
        workspace_id=workspace_id,
        kind=new.kind,
        count=new.count,
        amount_minor=new.amount_minor,
        currency=new.currency,
        duration_seconds=new.duration_seconds,
        mrr_minor=new.mrr_minor,
        deal_key=new.deal_key,
        deal_name=new.deal_name,
        account_key=new.account_key,
        user_id=new.user_id,
        logged_by=new.logged_by,
        channel_id=new.channel_id,
        source=new.source,
        source_raw=new.source_raw,
        reason=new.reason,
        competitor=new.competitor,
        note=new.note,
        occurred_at=new.occurred_at,
        logged_at=now,
        idempotency_key=new.idempotency_key,
    )


def _apply_to_rollup(
    session: Session, workspace: Workspace, events: Sequence[Event | NewEvent], *, sign: int
) -> None:
    totals: dict[tuple[date, str, str, str], list[int]] = {}
    for e in events:
        key = (local_day(e.occurred_at, workspace.timezone), e.kind, e.user_id, e.source or "")
        row = totals.setdefault(key, [0, 0, 0, 0])
        row[0] += sign
        row[1] += sign * e.count
        row[2] += sign * (e.amount_minor or 0)
        row[3] += sign * (e.duration_seconds or 0)
    if not totals:
        return
    values = [
        {
            "workspace_id": workspace.id,
            "day": day,
            "kind": kind,
            "user_id": user_id,
            "source": source,
            "events": t[0],
            "count_sum": t[1],
            "amount_sum": t[2],
            "duration_sum": t[3],
        }
        for (day, kind, user_id, source), t in totals.items()
    ]
    table = DailyRollup.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id", "day", "kind", "user_id", "source"],
        set_={
            name: getattr(table.c, name) + getattr(statement.excluded, name)
            for name in ("events", "count_sum", "amount_sum", "duration_sum")
        },
    )
    for chunk_start in range(0, len(values), 500):
        session.execute(statement, values[chunk_start : chunk_start + 500])


def rebuild_rollups(*, session: Session, workspace: Workspace) -> int:
    """Recompute a workspace's rollups from its events (after a time zone change)."""
    session.execute(sa.delete(DailyRollup).where(DailyRollup.workspace_id == workspace.id))
    events = list_events(session=session, workspace_id=workspace.id)
    _apply_to_rollup(session, workspace, events, sign=1)
    return len(events)

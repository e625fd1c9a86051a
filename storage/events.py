"""Recording and voiding events, with the deal state and daily rollups kept in step.

Every function takes the caller's session and runs inside the caller's transaction, so an event,
its deal and its rollup row are written together or not at all.
"""

from __future__ import annotations

import dataclasses
import operator
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from reports.deal_state import DealEvent, derive_deal_state
from reports.events import KINDS, Stage
from storage.models import Account, DailyRollup, Deal, Event, User, Workspace
from storage.types import UTCDateTime


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

    @classmethod
    def of(cls, **fields) -> NewEvent:
        """The same as NewEvent(**fields), four times faster, for parsers of big files.

        The frozen dataclass's __init__ sets each field through object.__setattr__ (4 µs an
        event, a sixth of an import's parsing); this fills the instance dict directly.
        """
        if not (fields.keys() <= _NEW_EVENT_DEFAULTS.keys()
                and fields.keys() >= _NEW_EVENT_REQUIRED):
            raise TypeError(f"NewEvent.of: fields {sorted(fields)}; required: "
                            f"{sorted(_NEW_EVENT_REQUIRED)}, known: {sorted(_NEW_EVENT_DEFAULTS)}")
        event = object.__new__(cls)
        values = event.__dict__
        values.update(_NEW_EVENT_DEFAULTS)
        values.update(fields)
        return event


_NEW_EVENT_DEFAULTS = {f.name: None if f.default is dataclasses.MISSING else f.default
                       for f in dataclasses.fields(NewEvent)}
_NEW_EVENT_REQUIRED = frozenset(f.name for f in dataclasses.fields(NewEvent)
                                if f.default is dataclasses.MISSING)


@dataclass(frozen=True)
class Recorded:
    event: Event
    duplicate: bool  # True when the idempotency key had been stored before


RollupKey = tuple[date, str, str, str]  # (local day, kind, user, source)


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
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """The user row, created on first sight (race-safe); name and email kept current."""
    user = session.get(User, (workspace_id, user_id))
    if user is None:
        _insert_if_missing(session, User, {
            "workspace_id": workspace_id, "id": user_id, "display_name": display_name,
            "email": email, "is_admin": False, "created_at": now or datetime.now(UTC),
        })
        user = session.get(User, (workspace_id, user_id), populate_existing=True)
    elif (display_name and user.display_name != display_name) or (
            email and user.email != email):
        user.display_name = display_name or user.display_name
        user.email = email or user.email
        session.add(user)
        session.flush()
    return user


def _insert_if_missing(session: Session, model: type, values: dict) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so two first requests at once both succeed."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model.__table__).values(**values).on_conflict_do_nothing())


def workspace_zone(session: Session, workspace_id: str) -> ZoneInfo:
    """The workspace's time zone, whose days order a deal's history (UTC when unknown)."""
    zone = session.execute(select(Workspace.timezone).where(
        Workspace.id == workspace_id)).scalar_one_or_none()
    return ZoneInfo(zone or "UTC")


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
    _refresh_touched(session, workspace.id, [event], now=event.logged_at)
    return Recorded(event, duplicate=False)


def record_events(
    *, session: Session, workspace: Workspace, new_events: Iterable[NewEvent],
    now: datetime | None = None, defer: Deferred | None = None,
) -> int:
    """Bulk insert for imports and generated history; keys already stored are skipped.

    Returns how many events were added. Deals and rollups are brought up to date at the end,
    or, given `defer`, only noted there for one `apply_deferred` call after the last batch.
    """
    now = now or datetime.now(UTC)
    batch = list(new_events)
    if not batch:
        return 0
    session.flush()
    known = stored_keys(session=session, workspace_id=workspace.id,
                        keys=[n.idempotency_key for n in batch])
    fresh: list[NewEvent] = []
    for new in batch:
        if new.idempotency_key in known:
            continue
        known.add(new.idempotency_key)
        _check(new)
        fresh.append(new)
    if not fresh:
        return 0
    _insert_events(session, workspace.id, fresh, now)
    if defer is not None:
        _add_rollup_totals(defer.rollups, workspace, fresh, sign=1)
        defer.touch(fresh)
        return len(fresh)
    _apply_to_rollup(session, workspace, fresh, sign=1)
    _refresh_touched(session, workspace.id, fresh, now=now)
    return len(fresh)


def stored_keys(*, session: Session, workspace_id: str, keys: Sequence[str]) -> set[str]:
    """Those of `keys` that are idempotency keys of stored events (void or not).

    SQLite: straight to the driver, 500 keys a query (SQLAlchemy's handling of the IN list
    doubles the cost of a million lookups).
    """
    found: set[str] = set()
    raw = session.get_bind().dialect.name == "sqlite"
    for chunk in _chunks(keys):
        if raw:
            found.update(k for (k,) in session.connection().exec_driver_sql(
                "SELECT idempotency_key FROM events WHERE workspace_id = ? AND idempotency_key "
                f"IN ({', '.join('?' * len(chunk))})", (workspace_id, *chunk)))
        else:
            found.update(session.exec(select(Event.idempotency_key).where(
                Event.workspace_id == workspace_id, Event.idempotency_key.in_(chunk))).all())
    return found


_EVENT_INSERT_FIELDS = ("kind", "count", "amount_minor", "currency", "duration_seconds",
                        "mrr_minor", "deal_key", "deal_name", "account_key", "user_id",
                        "logged_by", "channel_id", "source", "source_raw", "reason",
                        "competitor", "note")  # the NewEvent fields, in table order


def _insert_events(session: Session, workspace_id: str, fresh: Sequence[NewEvent],
                   now: datetime) -> None:
    """One executemany, without ORM objects (they would cost more than the insert itself)."""
    insert = _BulkInsert(session, Event.__table__, (
        "workspace_id", *_EVENT_INSERT_FIELDS, "occurred_at", "logged_at", "idempotency_key"))
    stamp = insert.converter("occurred_at")
    logged_at = stamp(now)
    get = operator.attrgetter(*_EVENT_INSERT_FIELDS)
    insert.run([(workspace_id, *get(new), stamp(new.occurred_at), logged_at,
                 new.idempotency_key) for new in fresh])


class _BulkInsert:
    """An INSERT (or upsert) executed once per row; rows are tuples in `columns` order.

    SQLite: the rows go straight to the driver, SQLAlchemy's per-row parameter handling would
    take as long as SQLite's insert itself. Values whose column type converts them
    (timestamps, dates) must go through `converter(column)` first, and `columns` must be in
    table order. Other databases: an ordinary Core executemany (converters are the identity).
    """

    def __init__(self, session: Session, table: sa.Table, columns: Sequence[str],
                 statement=None) -> None:
        self.session, self.table, self.columns = session, table, tuple(columns)
        self.statement = statement if statement is not None else sa.insert(table)
        self.dialect = session.get_bind().dialect
        self.raw = self.dialect.name == "sqlite"
        if self.raw:
            compiled = self.statement.compile(dialect=self.dialect,
                                              column_keys=list(self.columns))
            if tuple(compiled.positiontup) != self.columns:
                raise RuntimeError(f"{table.name}: the insert takes {compiled.positiontup}, "
                                   f"not {self.columns}")
            self.sql = compiled.string

    def converter(self, column: str):
        if not self.raw:
            return _same
        type_ = self.table.c[column].type
        processor = type_.dialect_impl(self.dialect).bind_processor(self.dialect) or _same
        if isinstance(type_, UTCDateTime):
            sample = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
            if _sqlite_utc_text(sample) == processor(sample) and processor(None) is None:
                return _sqlite_utc_text
        return processor

    def run(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        if self.raw:
            self.session.connection().exec_driver_sql(self.sql, rows)
        else:
            self.session.execute(self.statement, [dict(zip(self.columns, row, strict=True))
                                                  for row in rows])


def _same(value):
    return value


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """UTCDateTime's SQLite bind processor, ten times faster (checked against it in use)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a tz-aware UTC instant is required")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def void_event(
    *, session: Session, workspace: Workspace, event_id: int, voided_by: str, now: datetime,
    defer: Deferred | None = None,
) -> Event:
    """Mark an event void (the row stays) and take it out of its deal and rollup.

    Given `defer`, the rollup and deal upkeep is only noted there (see record_events).
    """
    event = get_event(session=session, workspace_id=workspace.id, event_id=event_id)
    if event.voided_at is not None:
        return event
    event.voided_at = now
    event.voided_by = voided_by
    session.add(event)
    session.flush()
    if defer is not None:
        _add_rollup_totals(defer.rollups, workspace, [event], sign=-1)
        defer.touch([event])
        return event
    _apply_to_rollup(session, workspace, [event], sign=-1)
    _refresh_touched(session, workspace.id, [event], now=now)
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


def find_deal(*, session: Session, workspace_id: str, deal_key: str) -> Deal | None:
    """The deal row of `deal_key` in the workspace (its state derived from its events)."""
    return session.exec(select(Deal).where(Deal.workspace_id == workspace_id,
                                           Deal.key == deal_key)).first()


def refresh_deal(*, session: Session, workspace_id: str, deal_key: str) -> Deal | None:
    """Rewrite the deal row from its non-void events (deleting it when none are left)."""
    return refresh_deals(session=session, workspace_id=workspace_id, deal_keys=[deal_key])[
        deal_key]


def refresh_deals(*, session: Session, workspace_id: str, deal_keys: Sequence[str],
                  now: datetime | None = None) -> dict[str, Deal | None]:
    """Rewrite many deal rows from their events, a few queries per 500 deals.

    `now` (default: the clock) decides which changes count as changing the past."""
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
    now = now or datetime.now(UTC)
    settled = now - HISTORY_SETTLE
    past_changed = False
    zone = workspace_zone(session, workspace_id)
    result: dict[str, Deal | None] = {}
    for key in keys:
        events, deal = by_key[key], existing.get(key)
        events.sort(key=lambda e: (e.occurred_at, e.id or 0))
        before = _history_of(deal) if deal is not None else None
        if not events:
            if deal is not None:
                session.delete(deal)
                past_changed = past_changed or _changes_past(before, None, settled)
            result[key] = None
            continue
        state = derive_deal_state([_deal_event(e) for e in events], zone)
        if deal is None:
            deal = Deal(workspace_id=workspace_id, key=key, name=state.name or key,
                        updated_at=now)
        _apply_state(deal, state, key, fallback_owner=events[-1].user_id, now=now)
        past_changed = past_changed or _changes_past(before, _history_of(deal), settled)
        session.add(deal)
        result[key] = deal
    if past_changed:
        note_history_change(session=session, workspace_id=workspace_id)
    session.flush()
    return result


# A write counts as changing the past when it changes deal times older than this; an event
# logged "now" is stored within seconds, far inside it.
HISTORY_SETTLE = timedelta(minutes=5)
_HISTORY_TIMES = ("lead_at", "mql_at", "sql_at", "opportunity_at", "demo_at", "won_at",
                  "lost_at", "closed_at")


def _history_of(deal: Deal) -> tuple:
    return (deal.owner_id, deal.outcome, *(getattr(deal, name) for name in _HISTORY_TIMES))


def _changes_past(before: tuple | None, after: tuple | None, settled: datetime) -> bool:
    """Whether a deal going from `before` to `after` (None: no row) changes what a window
    ending at or before `settled` sees: a stage time before it changed, or the owner or the
    outcome of a deal with a time before it."""
    old = before[2:] if before else (None,) * len(_HISTORY_TIMES)
    new = after[2:] if after else (None,) * len(_HISTORY_TIMES)
    for a, b in zip(old, new, strict=True):
        if a != b and ((a is not None and a < settled) or (b is not None and b < settled)):
            return True
    if (before or (None, None))[:2] != (after or (None, None))[:2]:
        return any(t is not None and t < settled for t in (*old, *new))
    return False


def note_history_change(*, session: Session, workspace_id: str) -> None:
    """Give the workspace a new history_version: what was remembered about past windows is
    stale."""
    session.execute(sa.update(Workspace).where(Workspace.id == workspace_id)
                    .values(history_version=secrets.randbits(62)))


def _apply_state(deal: Deal, state, key: str, *, fallback_owner: str, now: datetime) -> None:
    for name, value in _deal_values(state, key, fallback_owner=fallback_owner, now=now).items():
        setattr(deal, name, value)


def _deal_values(state, key: str, *, fallback_owner: str, now: datetime) -> dict:
    """A deal row's derived columns from its state (the ORM and the bulk path share these)."""
    return {
        "name": state.name or key,
        "account_key": state.account_key or key,
        "owner_id": state.owner_id or fallback_owner,
        "source": state.source,
        "first_event_at": state.first_event_at,
        "lead_at": state.stage_at.get(Stage.LEAD),
        "mql_at": state.stage_at.get(Stage.MQL),
        "sql_at": state.stage_at.get(Stage.SQL),
        "opportunity_at": state.stage_at.get(Stage.OPPORTUNITY),
        "demo_at": state.stage_at.get(Stage.DEMO),
        "won_at": state.won_at,
        "lost_at": state.lost_at,
        "closed_at": state.closed_at,
        "outcome": state.outcome,
        "stage": state.stage,
        "stage_changed_at": state.stage_changed_at,
        "amount_minor": state.amount_minor,
        "currency": state.currency,
        "mrr_minor": state.mrr_minor,
        "reason": state.reason,
        "competitor": state.competitor,
        "updated_at": now,
    }


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
                     events: Sequence[Event | NewEvent], *, now: datetime | None = None) -> None:
    """Bring the deals and accounts these events touch up to date."""
    deal_keys = sorted({e.deal_key for e in events if e.deal_key})
    lock_derived_rows(session, workspace_id)
    accounts: set[str] = set()
    for chunk in _chunks(deal_keys):
        accounts.update(k for (k,) in session.execute(select(Deal.account_key).where(
            Deal.workspace_id == workspace_id, Deal.key.in_(chunk))) if k)
    refreshed = refresh_deals(session=session, workspace_id=workspace_id, deal_keys=deal_keys,
                              now=now)
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
        _collect_won_deals(session, workspace_id, chunk, won)
        # coalesce(account_key, deal_key) in chunk, as two index searches
        # (ix_events_workspace_account, ix_events_workspace_deal): SQLite answers the same
        # condition written as one OR with a scan of the workspace's whole history. The
        # second search leaves `account_key IS NULL` to Python: in SQL, SQLite would read it
        # from ix_events_workspace_account, every event without an account, once per chunk.
        for by_deal in (False, True):
            for event in session.exec(select(Event).where(
                    Event.workspace_id == workspace_id,
                    Event.deal_key.in_(chunk) if by_deal else Event.account_key.in_(chunk),
                    Event.kind.in_(_ACCOUNT_KINDS), Event.voided_at.is_(None))):
                if not (by_deal and event.account_key is not None):
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


def deal_outcomes(*, session: Session, workspace_id: str, keys: Iterable[str]
                  ) -> dict[str, tuple[str, str]]:
    """deal key → (name, outcome: open | won | lost) for those of `keys` that are deals."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(sorted(set(keys))):
        for key, name, outcome in session.execute(select(Deal.key, Deal.name, Deal.outcome).where(
                Deal.workspace_id == workspace_id, Deal.key.in_(chunk))):
            found[key] = (name, outcome)
    return found


def apply_deferred(*, session: Session, workspace: Workspace, deferred: Deferred) -> None:
    """Bring rollups, deals and accounts up to date for everything noted in `deferred`.

    The same result as the immediate path of record_events/void_event, in a few statements per
    500 deals: rows are read and written with Core, without ORM objects. Deal and account
    objects already in the session are expired, so they reload what was written.
    """
    _upsert_rollups(session, workspace, deferred.rollups)
    deferred.rollups = {}
    deal_keys = sorted(deferred.deal_keys)
    if deal_keys or deferred.account_keys:
        lock_derived_rows(session, workspace.id)
    session.flush()
    accounts = set(deferred.account_keys)
    for chunk in _chunks(deal_keys):  # the accounts the deals belonged to before
        accounts.update(k for (k,) in session.execute(select(Deal.account_key).where(
            Deal.workspace_id == workspace.id, Deal.key.in_(chunk))) if k)
    accounts.update(_refresh_deals_bulk(session, workspace.id, deal_keys))
    if deal_keys:  # an import: history, as good as always
        note_history_change(session=session, workspace_id=workspace.id)
    _refresh_accounts_bulk(session, workspace.id, sorted(accounts))
    deferred.deal_keys, deferred.account_keys = set(), set()
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Deal | Account):
            session.expire(instance)


_DEAL_EVENT_COLUMNS = (Event.id, Event.kind, Event.occurred_at, Event.user_id, Event.deal_name,
                       Event.account_key, Event.amount_minor, Event.currency, Event.mrr_minor,
                       Event.source, Event.reason, Event.competitor)


def _refresh_deals_bulk(session: Session, workspace_id: str, keys: Sequence[str]) -> set[str]:
    """refresh_deals without ORM objects; returns the refreshed deals' account keys."""
    table = Deal.__table__
    now = datetime.now(UTC)
    zone = workspace_zone(session, workspace_id)
    accounts: set[str] = set()
    inserts: list[tuple[str, dict]] = []
    for chunk in _chunks(keys):
        by_key: dict[str, list[DealEvent]] = {k: [] for k in chunk}
        # No ORDER BY (see refresh_deals); sorted below.
        for row in session.execute(select(Event.deal_key, *_DEAL_EVENT_COLUMNS).where(
                Event.workspace_id == workspace_id, Event.deal_key.in_(chunk),
                Event.voided_at.is_(None))):
            by_key[row[0]].append(DealEvent(*row[1:]))
        existing = dict(session.execute(select(Deal.key, Deal.id).where(
            Deal.workspace_id == workspace_id, Deal.key.in_(chunk))).all())
        updates, deletes = [], []
        for key in chunk:
            events, deal_id = by_key[key], existing.get(key)
            if not events:
                if deal_id is not None:
                    deletes.append(deal_id)
                continue
            events.sort(key=lambda e: (e.occurred_at, e.id))
            values = _deal_values(derive_deal_state(events, zone), key,
                                  fallback_owner=events[-1].user_id, now=now)
            if values["account_key"]:
                accounts.add(values["account_key"])
            if deal_id is None:
                inserts.append((key, values))
            else:
                updates.append({"deal_id": deal_id, **values})
        if deletes:
            session.execute(sa.delete(table).where(table.c.id.in_(deletes)))
        if updates:
            session.execute(sa.update(table).where(table.c.id == sa.bindparam("deal_id")),
                            updates)
    if inserts:
        columns = [c.name for c in table.c if c.name != "id"]  # workspace_id, key, values
        bulk = _BulkInsert(session, table, columns)
        get = operator.itemgetter(*columns[2:])
        converters = [(i, convert) for i, name in enumerate(columns[2:])
                      if (convert := bulk.converter(name)) is not _same]
        rows = []
        for key, values in inserts:
            row = list(get(values))
            for i, convert in converters:
                if row[i] is not None:
                    row[i] = convert(row[i])
            rows.append((workspace_id, key, *row))
        bulk.run(rows)
    return accounts


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


def _refresh_accounts_bulk(session: Session, workspace_id: str, keys: Sequence[str]) -> None:
    """refresh_accounts without ORM objects: the same queries, written with Core."""
    table = Account.__table__
    now = datetime.now(UTC)
    for chunk in _chunks(keys):
        won: dict[str, list] = {k: [] for k in chunk}
        account_events: dict[str, list] = {k: [] for k in chunk}
        _collect_won_deals(session, workspace_id, chunk, won)
        for by_deal in (False, True):  # the same two searches as refresh_accounts
            for event in session.execute(select(
                    Event.id, Event.kind, Event.occurred_at, Event.amount_minor, Event.mrr_minor,
                    Event.deal_name, Event.account_key, Event.deal_key).where(
                    Event.workspace_id == workspace_id,
                    Event.deal_key.in_(chunk) if by_deal else Event.account_key.in_(chunk),
                    Event.kind.in_(_ACCOUNT_KINDS), Event.voided_at.is_(None))):
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
    totals: dict[RollupKey, list[int]] = {}
    _add_rollup_totals(totals, workspace, events, sign=sign)
    _upsert_rollups(session, workspace, totals)


def _add_rollup_totals(totals: dict[RollupKey, list[int]], workspace: Workspace,
                       events: Iterable[Event | NewEvent], *, sign: int) -> None:
    zone = ZoneInfo(workspace.timezone)
    days: dict[tuple[int, int], date] = {}  # UTC hour → its local day, when it has only one
    for e in events:
        at = e.occurred_at
        if at.utcoffset():
            at = at.astimezone(UTC)
        hour = (at.toordinal(), at.hour)
        day = days.get(hour)
        if day is None:
            day = at.astimezone(zone).date()
            if _whole_hour_offset(at, zone):
                days[hour] = day
        key = (day, e.kind, e.user_id, e.source or "")
        row = totals.get(key)
        if row is None:
            row = totals[key] = [0, 0, 0, 0]
        row[0] += sign
        row[1] += sign * e.count
        row[2] += sign * (e.amount_minor or 0)
        row[3] += sign * (e.duration_seconds or 0)


def _whole_hour_offset(at: datetime, zone: ZoneInfo) -> bool:
    """True when every instant of `at`'s UTC hour has the same local day as `at` (cacheable).

    `at` is UTC. With one offset over the hour, local time moves with UTC, so a day equal at
    both ends is the day throughout.
    """
    start = at.replace(minute=0, second=0, microsecond=0).astimezone(zone)
    end = at.replace(minute=59, second=59, microsecond=999999).astimezone(zone)
    return start.utcoffset() == end.utcoffset() and start.date() == end.date()


def _upsert_rollups(session: Session, workspace: Workspace,
                    totals: dict[RollupKey, list[int]]) -> None:
    if not totals:
        return
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
    bulk = _BulkInsert(session, table, ("workspace_id", "day", "kind", "user_id", "source",
                                        "events", "count_sum", "amount_sum", "duration_sum"),
                       statement)
    day = bulk.converter("day")
    bulk.run([(workspace.id, day(d), kind, user, source, *t)
              for (d, kind, user, source), t in totals.items()])


def rebuild_rollups(*, session: Session, workspace: Workspace) -> int:
    """Recompute a workspace's rollups from its events (after a time zone change)."""
    session.execute(sa.delete(DailyRollup).where(DailyRollup.workspace_id == workspace.id))
    events = list_events(session=session, workspace_id=workspace.id)
    _apply_to_rollup(session, workspace, events, sign=1)
    return len(events)

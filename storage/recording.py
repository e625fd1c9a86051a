"""Recording and voiding events, with the deals, accounts and daily rollups kept in step.

Every function takes the caller's session and runs inside the caller's transaction, so an event,
its deal and its rollup row are written together or not at all."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from reports.deal_state import stage_it_advances_to
from reports.events import KINDS, Stage
from storage import driver
from storage.accounts import ACCOUNT_KINDS
from storage.bulk import BulkInsert
from storage.deals import (
    events_read_skipped,
    may_stamp,
    note_stamped,
    refresh_reads_of_one,
    stamp_missed,
    stamp_unchanged_deal,
)
from storage.engine import Database, dialect_insert
from storage.event_queries import find_by_idempotency_key, get_event, stored_keys
from storage.models import Event, Workspace
from storage.rollups import add_rollup_totals, apply_to_rollup, with_rollups
from storage.upkeep import Deferred, refresh_touched
from storage.workspaces import derived_rows_lock_statement, note_derived_rows_locked


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


_EVENT_INSERT_FIELDS = ("kind", "count", "amount_minor", "currency", "duration_seconds",
                        "mrr_minor", "deal_key", "deal_name", "account_key", "user_id",
                        "logged_by", "channel_id", "source", "source_raw", "reason",
                        "competitor", "note")  # the NewEvent fields, in table order


@dataclass(frozen=True)
class StoredEvent(NewEvent):
    """An event record_event has just stored: what was asked for, with its id and when it was
    stored (built without an ORM object, which cost more than storing it)."""

    id: int = 0
    workspace_id: str = ""
    logged_at: datetime | None = None


@dataclass(frozen=True)
class Recorded:
    event: Event | StoredEvent  # the stored Event when the request was a duplicate
    duplicate: bool  # True when the idempotency key had been stored before


def record_event(
    *, session: Session, workspace: Workspace, new: NewEvent, now: datetime | None = None
) -> Recorded:
    """Store `new` once. A repeated idempotency key returns the stored event, unchanged.

    One statement stores it (a chat command's write path): INSERT ... ON CONFLICT DO NOTHING
    RETURNING id, run on the session's connection with the values of `new` (no ORM object).
    A key stored before, or stored at the same moment by a concurrent request with the same
    key (PostgreSQL waits for that transaction), returns no id, and the stored event is read
    instead. It runs on the driver (storage/driver.py, storage/pg_driver.py). An event that changes
    nothing of its deal only stamps it (`stamp_unchanged_deal`); others refresh it."""
    _check(new)
    logged_at = now or datetime.now(UTC)
    session.flush()  # rows the caller added (a user credited by an admin) go first
    connection = session.connection()
    values = _insert_values(workspace, new, logged_at)
    postgresql_ = connection.dialect.name == "postgresql"
    stamped = False
    read = None  # the deal's rows, read already
    if postgresql_:  # the rollups in the same statement (none when nothing was stored)
        lock = bool(new.deal_key or new.account_key)  # its deal or account is rewritten next
        stamp = new.kind not in ACCOUNT_KINDS and may_stamp(
            new.kind, deal_key=new.deal_key, deal_name=new.deal_name,
            account_key=new.account_key, source=new.source)
        statement, rollups = with_rollups(_insert_once("postgresql", named=True), workspace, new,
                                          lock_derived_rows=lock, stamp_deal=stamp)
        params = {**values, **rollups}
        results = None
        if new.deal_key:  # its deal's refresh reads go out in the insert's query, after it
            from storage import pg_driver  # (psycopg's modules: PostgreSQL only)

            results = pg_driver.run_then(connection, statement, params,
                                         refresh_reads_of_one(after_stamp=stamp))
        if results is None:
            stored = driver.run(connection, statement, params)
        else:
            stored, *deal_rows = results
            read = tuple(deal_rows)
        event_id = stored[0][0] if stored else None
        if lock and event_id is not None:
            note_derived_rows_locked(session, workspace.id)
        if stamp and event_id is not None and stored[0][1]:
            note_stamped(session, workspace.id, new.deal_key)
            stamped = True
        elif stamp and read is not None and events_read_skipped(read[1], new.deal_name,
                                                                 logged_at):
            read = None  # its events were not read: the refresh reads them
    else:  # on the driver: SQLAlchemy's execution cost three times the insert
        stored = driver.run(connection, _insert_once(connection.dialect.name), values)
        event_id = stored[0][0] if stored else None
    if event_id is None:
        existing = find_by_idempotency_key(
            session=session, workspace_id=workspace.id, key=new.idempotency_key)
        if existing is None:  # the row that conflicted went away in between: not stored
            raise RuntimeError(f"event {new.idempotency_key!r} neither stored nor found")
        return Recorded(existing, duplicate=True)
    if not postgresql_:
        apply_to_rollup(session, workspace, [new], sign=1)
    # The stamp is a shortcut (the event changes nothing of its deal but the time it was
    # touched); when it does not apply, the deal is refreshed in full, which is always right.
    # PostgreSQL tried it in the insert; SQLite tries it now.
    if not postgresql_ and new.kind not in ACCOUNT_KINDS:
        stamped = stamp_unchanged_deal(
            session, workspace.id, kind=new.kind, deal_key=new.deal_key,
            deal_name=new.deal_name, account_key=new.account_key, source=new.source,
            user_id=new.user_id, now=logged_at)
    if not stamped:
        refresh_touched(session, workspace.id, [new], now=logged_at,
                        zone=ZoneInfo(workspace.timezone), read=read)
    return Recorded(_stored(new, event_id, workspace.id, logged_at), duplicate=False)


def store_event(*, database: Database, workspace: Workspace, new: NewEvent,
                now: datetime | None = None) -> Recorded:
    """`record_event` in a transaction of its own (a `/kpi log` that writes nothing else).

    On PostgreSQL an event with neither a deal nor an account has nothing to bring up to date
    after its insert (the rollups are in its statement, `with_rollups`), so the insert is the
    whole transaction: `Database.write_one` sends it with its limits in one round trip,
    committed at the pipeline's end. So does an event whose deal's upkeep follows from the
    deal's row alone, done in the same statement: one that only stamps (and may rename) its
    deal, a meeting or a call on a deal (storage/deals.py `may_stamp`,
    `stamp_after(renaming=True)`), or a stage event
    at the present moment that moves it (`advance_after`, reports/deal_state.py
    `stage_it_advances_to`). Those read the deal's events, so the derived-rows lock is taken
    first, by a statement of its own in the same round trip (the statement's snapshot then
    holds every event committed before). When the row does not decide it (a new deal, a later
    event, a closed deal...) the statement is refused, nothing is committed
    (storage/pg_pipeline.py: the connection comes back idle), and the event is written again
    in `Database.write`, its deal refreshed in full. A repeated idempotency key stores nothing
    and commits nothing; the stored event is read afterwards. Anything else runs
    `record_event` in `Database.write`."""
    logged_at = now or datetime.now(UTC)
    if database.dialect != "postgresql":
        return _recorded_in_full(database, workspace, new, logged_at)
    advance = _advance_to(new, logged_at)
    from_row = advance is not None or new.kind not in ACCOUNT_KINDS and may_stamp(
        new.kind, deal_key=new.deal_key, deal_name=new.deal_name, account_key=new.account_key,
        source=new.source)  # the deal's upkeep in the insert's statement
    if (new.deal_key or new.account_key) and not from_row:
        return _recorded_in_full(database, workspace, new, logged_at)
    _check(new)
    statement, rollups = with_rollups(_insert_once("postgresql", named=True), workspace, new,
                                      lock_derived_rows=from_row, stamp_deal=from_row,
                                      stamp_or_refuse=from_row, advance_to=advance)
    try:
        stored = database.write_one(
            statement, {**_insert_values(workspace, new, logged_at), **rollups},
            first=derived_rows_lock_statement(workspace.id) if from_row else None)
    except sa.exc.DBAPIError as error:
        if not stamp_missed(error):
            raise
        return _recorded_in_full(database, workspace, new, logged_at)
    if not stored:
        with database.read() as session:
            existing = find_by_idempotency_key(
                session=session, workspace_id=workspace.id, key=new.idempotency_key)
        if existing is None:  # the row that conflicted went away in between: not stored
            raise RuntimeError(f"event {new.idempotency_key!r} neither stored nor found")
        return Recorded(existing, duplicate=True)
    return Recorded(_stored(new, stored[0][0], workspace.id, logged_at), duplicate=False)


def _advance_to(new: NewEvent, logged_at: datetime) -> Stage | None:
    """The stage a stage event logged at the present moment may move its deal to from the
    deal's row alone (reports/deal_state.py `stage_it_advances_to`); None when it is written
    another way (another kind; a backdated event, whose stage times may be history)."""
    if not (new.deal_key and new.deal_name) or new.occurred_at != logged_at:
        return None
    return stage_it_advances_to(new.kind, user_id=new.user_id, account_key=new.account_key,
                                source=new.source)


def _recorded_in_full(database: Database, workspace: Workspace, new: NewEvent,
                      logged_at: datetime) -> Recorded:
    """`record_event` in `Database.write`: the event's deal (or account) refreshed in full."""
    with database.write() as session:
        return record_event(session=session, workspace=workspace, new=new, now=logged_at)


def _insert_values(workspace: Workspace, new: NewEvent, logged_at: datetime) -> dict:
    """The parameters of `_insert_once(named=True)` for `new`."""
    values = {name: getattr(new, name) for name in _EVENT_INSERT_FIELDS}
    values.update(workspace_id=workspace.id, occurred_at=new.occurred_at, logged_at=logged_at,
                  idempotency_key=new.idempotency_key)
    return values


def _stored(new: NewEvent, event_id: int, workspace_id: str, logged_at: datetime
            ) -> StoredEvent:
    return StoredEvent(**{name: getattr(new, name) for name in _NEW_EVENT_FIELDS},
                       id=event_id, workspace_id=workspace_id, logged_at=logged_at)


@functools.cache
def _insert_once(dialect: str, *, named: bool = False):
    """INSERT INTO events ... ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
    RETURNING id, for `dialect` (built once; SQLAlchemy caches its compiled form); `named`:
    with a bind parameter per column, named as the column (for `with_rollups`)."""
    table = Event.__table__
    insert = dialect_insert(dialect)(table)
    if named:
        insert = insert.values({name: sa.bindparam(name, type_=table.c[name].type) for name in (
            "workspace_id", *_EVENT_INSERT_FIELDS, "occurred_at", "logged_at",
            "idempotency_key")})
    return (insert.on_conflict_do_nothing(index_elements=["workspace_id", "idempotency_key"])
            .returning(table.c.id))


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
        add_rollup_totals(defer.rollups, workspace, fresh, sign=1)
        defer.touch(fresh)
        return len(fresh)
    apply_to_rollup(session, workspace, fresh, sign=1)
    refresh_touched(session, workspace.id, fresh, now=now)
    return len(fresh)


def _insert_events(session: Session, workspace_id: str, fresh: Sequence[NewEvent],
                   now: datetime) -> None:
    """One executemany, without ORM objects (they would cost more than the insert itself)."""
    insert = BulkInsert(session, Event.__table__, (
        "workspace_id", *_EVENT_INSERT_FIELDS, "occurred_at", "logged_at", "idempotency_key"))
    stamp = insert.converter("occurred_at")
    logged_at = stamp(now)
    get = operator.attrgetter(*_EVENT_INSERT_FIELDS)
    insert.run([(workspace_id, *get(new), stamp(new.occurred_at), logged_at,
                 new.idempotency_key) for new in fresh])


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
        add_rollup_totals(defer.rollups, workspace, [event], sign=-1)
        defer.touch([event])
        return event
    apply_to_rollup(session, workspace, [event], sign=-1)
    refresh_touched(session, workspace.id, [event], now=now)
    return event


_NEW_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(NewEvent))


def _check(new: NewEvent) -> None:
    if new.kind not in KINDS:
        raise ValueError(f"unknown event kind {new.kind!r}")
    if new.occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be tz-aware")

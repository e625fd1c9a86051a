"""Deal rows, rewritten from their non-void events (reports.deal_state derives the state)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from reports.deal_state import (
    CLOSING_KINDS,
    DealEvent,
    changes_only_the_name,
    derive_deal_state,
)
from reports.events import STAGE_ORDER, Stage
from storage import driver, history_settle
from storage.bulk import BulkInsert, chunks
from storage.driver import unconverted
from storage.models import Deal, Event
from storage.workspace_guess import refused_with
from storage.workspaces import lock_derived_rows, note_history_change, workspace_zone


def find_deal(*, session: Session, workspace_id: str, deal_key: str) -> Deal | None:
    """The deal row of `deal_key` in the workspace (its state derived from its events)."""
    return session.scalars(select(Deal).where(Deal.workspace_id == workspace_id,
                                           Deal.key == deal_key)).first()


def refresh_deal(*, session: Session, workspace_id: str, deal_key: str) -> dict | None:
    """Rewrite the deal row from its non-void events (deleting it when none are left)."""
    return refresh_deals(session=session, workspace_id=workspace_id, deal_keys=[deal_key])[
        deal_key]


def stamp_unchanged_deal(session: Session, workspace_id: str, *, kind: str, deal_key: str | None,
                         deal_name: str | None, account_key: str | None, source: str | None,
                         user_id: str, now: datetime) -> bool:
    """For an event just added that changes nothing of its deal (reports.deal_state
    `changes_only_the_name`, with the deal's own name; a deal with no stage event yet is
    owned by its latest event's rep, so there by the owner's): set its `updated_at` to `now`,
    as `refresh_deals` would, in one UPDATE that checks the name (instead of reading the
    deal's events and row again). False, and nothing written, when it does not apply (no deal
    of that name, another kind of event): the caller refreshes the deal in full."""
    if not may_stamp(kind, deal_key=deal_key, deal_name=deal_name, account_key=account_key,
                     source=source):
        return False
    lock_derived_rows(session, workspace_id)
    session.flush()
    stamped = driver.run(session.connection(), _stamp_deal(), {
        "in_workspace": workspace_id, "of_key": deal_key, "named": deal_name, "by": user_id,
        "now": now})
    if stamped:
        _expire_deals(session, workspace_id, [deal_key])
    return bool(stamped)


def may_stamp(kind: str, *, deal_key: str | None, deal_name: str | None,
              account_key: str | None, source: str | None) -> bool:
    """Whether `stamp_unchanged_deal` would try the stamp for an event of these."""
    return bool(deal_key and deal_name and changes_only_the_name(
        kind, account_key=account_key, source=source))


def stamp_after(lock: sa.CTE, stored: sa.CTE, *, renaming: bool = False) -> sa.CTE:
    """PostgreSQL: the stamp of `stamp_unchanged_deal` as a CTE of the statement that stores
    the event (storage/rollups.py `with_rollups`), with that insert's parameter names
    (`workspace_id`, `deal_key`, `deal_name`, `user_id`, `logged_at`, `occurred_at`), returning
    the deal's id when it applied. It applies only when the event was stored (`stored` has its
    row) and after the derived-rows lock (`lock`, a one-time filter of the UPDATE, evaluated
    before it reads the deal's row), as the separate UPDATE did. The statement's snapshot may
    predate a writer that held the lock before it: the UPDATE reads the deal's newest row
    version and checks its conditions again (READ COMMITTED), and a deal it does not find is
    refreshed in full afterwards, with a snapshot taken under the lock.

    `renaming`: the event may name the deal otherwise, and the stamp renames it too, as the
    refresh would (the deal's name is its latest named event's, reports/deal_state.py) when no
    named event of the deal is later than this one. That reads the deal's events, so the
    statement must be run under the lock taken by a statement before it (its snapshot then
    holds every event the lock's earlier holders committed: storage/recording.py
    `store_event`)."""
    table = Deal.__table__
    conditions = [
        sa.exists(sa.select(stored.c.id)), sa.exists(sa.select(lock.c.locked)),
        table.c.workspace_id == sa.bindparam("workspace_id"),
        table.c.key == sa.bindparam("deal_key"),
        sa.or_(table.c.first_event_at.is_not(None),
               table.c.owner_id == sa.bindparam("user_id"))]
    values = {"updated_at": sa.bindparam("logged_at")}
    same_name = table.c.name == sa.bindparam("deal_name")
    if renaming:
        events = Event.__table__
        conditions.append(sa.or_(same_name, ~_a_later_event(stored, events.c.deal_name.is_not(
            None))))
        values["name"] = sa.bindparam("deal_name")
    else:
        conditions.append(same_name)
    return (sa.update(table).where(*conditions).values(values).returning(table.c.id)
            .cte("deal_stamp"))


# the stage times of STAGE_ORDER short of won, in its order (lead_at ... demo_at)
_STAGE_COLUMNS = tuple(f"{stage.value}_at" for stage in STAGE_ORDER if stage is not Stage.WON)


def advance_after(lock: sa.CTE, stored: sa.CTE, stage: Stage) -> sa.CTE:
    """PostgreSQL: a deal moved to `stage` by the event just stored, as a CTE of its statement
    (storage/rollups.py `with_rollups`), where the effect follows from the deal's row alone
    (reports/deal_state.py `stage_it_advances_to`: an open deal never closed, at a stage no
    later than `stage`, owned by the event's rep or with no stage yet, the event its latest):
    the stages after the deal's own up to `stage` reached at the event's time, the stage and
    its change, the first stage event, the owner, the name and `updated_at`, as the full
    refresh writes them. With the insert's parameter names (as `stamp_after`'s), returning the
    deal's id when it applied; it reads the deal's events, so the statement must run under the
    lock taken by a statement before it (storage/recording.py `store_event`)."""
    table, events = Deal.__table__, Event.__table__
    at, rank = sa.bindparam("occurred_at"), _constant(STAGE_ORDER.index(stage))
    current = sa.case(*((table.c.stage == _constant(s.value), _constant(i))
                        for i, s in enumerate(STAGE_ORDER) if s is not Stage.WON),
                      else_=_constant(-1))
    closed = sa.exists().where(*_of_the_deal(), events.c.kind.in_(
        [_constant(k) for k in CLOSING_KINDS]))
    values = {column: sa.case((sa.and_(current < _constant(i), _constant(i) <= rank), at),
                              else_=table.c[column])
              for i, column in enumerate(_STAGE_COLUMNS)}
    values.update(
        stage=_constant(stage.value),
        stage_changed_at=sa.case((current < rank, at), else_=table.c.stage_changed_at),
        first_event_at=sa.func.coalesce(table.c.first_event_at, at),
        owner_id=sa.bindparam("user_id"), name=sa.bindparam("deal_name"),
        updated_at=sa.bindparam("logged_at"))
    return (sa.update(table).where(
        sa.exists(sa.select(stored.c.id)), sa.exists(sa.select(lock.c.locked)),
        table.c.workspace_id == sa.bindparam("workspace_id"),
        table.c.key == sa.bindparam("deal_key"), table.c.outcome == _constant("open"),
        current <= rank,
        sa.or_(table.c.owner_id == sa.bindparam("user_id"), table.c.first_event_at.is_(None)),
        ~_a_later_event(stored), ~closed).values(values).returning(table.c.id)
        .cte("deal_stamp"))


def _of_the_deal() -> tuple:
    """The non-void events of the event's deal (the insert's parameter names)."""
    events = Event.__table__
    return (events.c.workspace_id == sa.bindparam("workspace_id"),
            events.c.deal_key == sa.bindparam("deal_key"), events.c.voided_at.is_(None))


def _a_later_event(stored: sa.CTE, *also) -> sa.ColumnElement:
    """Whether the deal has an event (that is `also`) after the one `stored`, in the order of
    its history's names and owners: time, then id."""
    events, at = Event.__table__, sa.bindparam("occurred_at")
    return sa.exists().where(*_of_the_deal(), *also, sa.or_(events.c.occurred_at > at, sa.and_(
        events.c.occurred_at == at, events.c.id > sa.select(stored.c.id).scalar_subquery())))


def _constant(value: int | str) -> sa.ColumnElement:
    """A constant written into the statement (no bind parameter: the statement's parameters
    are the event insert's, by name)."""
    return sa.literal_column(str(value) if isinstance(value, int) else f"'{value}'")


STAMP_MISSED = "kpibot: the deal stamp missed"  # in `stamped_or_refused`'s error


def stamped_or_refused(stamped: sa.ColumnElement) -> sa.ColumnElement:
    """PostgreSQL: 1 when `stamped` (the count of the rows `stamp_after` or `advance_after`
    changed) is 1, else an error
    that fails the statement (a text that is no integer, cast to one; it names the count, so
    the server cannot fold it while planning): a log committed in its one round trip
    (storage/recording.py `store_event`) commits nothing when its deal needs a full refresh,
    and is written again the full way (`stamp_missed`)."""
    refused = sa.literal_column(f"'{STAMP_MISSED} ('", sa.Text) + sa.cast(stamped, sa.Text) \
        + sa.literal_column("')'", sa.Text)
    return sa.cast(sa.case((stamped == 1, sa.literal_column("'1'", sa.Text)), else_=refused),
                   sa.Integer)


def stamp_missed(error: BaseException) -> bool:
    """Whether `error` (SQLAlchemy's, or the driver's) is `stamped_or_refused`'s: nothing was
    stored, and the event is to be written again with its deal refreshed in full."""
    return refused_with(error, STAMP_MISSED)


def note_stamped(session: Session, workspace_id: str, deal_key: str) -> None:
    """The deal was stamped by the event's own statement (`stamp_after`): deal objects the
    session holds reload it."""
    _expire_deals(session, workspace_id, [deal_key])


@functools.cache
def _stamp_deal():
    table = Deal.__table__
    return (sa.update(table).where(table.c.workspace_id == sa.bindparam("in_workspace"),
                                   table.c.key == sa.bindparam("of_key"),
                                   table.c.name == sa.bindparam("named"),
                                   # no stage event yet: the owner is the latest event's rep
                                   sa.or_(table.c.first_event_at.is_not(None),
                                          table.c.owner_id == sa.bindparam("by")))
            .values(updated_at=sa.bindparam("now")).returning(table.c.id))


def refresh_deals(*, session: Session, workspace_id: str, deal_keys: Sequence[str],
                  now: datetime | None = None, zone: ZoneInfo | None = None,
                  before: dict[str, tuple] | None = None,
                  read: tuple[list[tuple], list[tuple]] | None = None
                  ) -> dict[str, dict | None]:
    """Rewrite deal rows from their events, a few queries per 500 deals; returns each deal's
    columns as written (None: no row any more).

    Core reads and writes, no ORM objects (a chat command refreshes one deal, and building
    and flushing its object cost more than the SQL): one UPDATE per deal of the columns that
    changed, an INSERT for a new deal, a DELETE for one left without events. Deal objects the
    session holds for these keys are expired, so they reload what was written.

    `now` (default: the clock) decides which changes count as changing the past; `zone`
    (default: read from the workspace row) orders a deal's days; `before`, when given,
    receives (account key, `account_view`) of each deal that existed, as it was. `read`:
    for one deal, the rows of `refresh_reads_of_one`, read already under the derived-rows
    lock in this transaction (a log's insert brought them, storage/recording.py)."""
    keys = sorted(set(deal_keys))
    if not keys:
        return {}
    lock_derived_rows(session, workspace_id)
    session.flush()  # the reads below go to the connection, past the session
    connection = session.connection()
    by_key: dict[str, list[DealEvent]] = {k: [] for k in keys}
    existing: dict[str, dict] = {}
    events_of, deals_of = _refresh_reads()
    if read is not None and len(keys) != 1:
        raise ValueError("refresh_deals: rows read already are one deal's")
    for chunk in chunks(keys) if read is None else ():  # rows, not ORM objects (4× cheaper)
        given = {"workspace_id": workspace_id, "keys": chunk}
        event_rows, deal_rows = driver.run_together(
            connection, ((events_of, given), (deals_of, given)))  # one round trip
        _take_rows(event_rows, deal_rows, by_key, existing, before)
    if read is not None:
        _take_rows(*read, by_key, existing, before)
    now = now or datetime.now(UTC)
    settled = now - HISTORY_SETTLE
    past_changed = False
    zone = zone or workspace_zone(session, workspace_id)
    result: dict[str, dict | None] = {}
    for key in keys:
        events, deal = by_key[key], existing.get(key)
        history = _history_of(deal) if deal is not None else None
        if not events:
            if deal is not None:
                driver.run(connection, _deal_writes()[0], {"deal_id": deal["id"]})
                past_changed = past_changed or _changes_past(history, None, settled)
            result[key] = None
            continue
        events.sort(key=lambda e: (e.occurred_at, e.id))
        values = _deal_values(derive_deal_state(events, zone), key,
                              fallback_owner=events[-1].user_id, now=now)
        if deal is None:
            written = {"workspace_id": workspace_id, "key": key, **values}
            (written["id"],), = driver.run(connection, _deal_writes()[1], written)
        else:
            changed = tuple(name for name, value in values.items() if deal[name] != value)
            if changed:  # as the ORM did: no UPDATE when nothing changed; PostgreSQL: it
                # goes out with the COMMIT when nothing runs after it (storage/pg_commit.py)
                update = driver.run if connection.dialect.name == "sqlite" else _at_commit
                update(connection, _update_deal(changed), {
                    "deal_id": deal["id"], **{name: values[name] for name in changed}})
            written = {**deal, **values}
        past_changed = past_changed or _changes_past(history, _history_of(written), settled)
        result[key] = written
    if past_changed:
        note_history_change(session=session, workspace_id=workspace_id)
    _expire_deals(session, workspace_id, keys)
    return result


def _at_commit(connection: sa.Connection, statement, params: dict) -> None:
    from storage import pg_commit  # (psycopg's modules: PostgreSQL only)

    pg_commit.run_at_commit(connection, statement, params)


def _take_rows(event_rows: list[tuple], deal_rows: list[tuple],
               by_key: dict[str, list[DealEvent]], existing: dict[str, dict],
               before: dict[str, tuple] | None) -> None:
    """refresh_deals: the rows of its two reads (`_refresh_reads`, `refresh_reads_of_one`)."""
    for row in event_rows:
        by_key[row[0]].append(DealEvent(*row[1:]))
    for row in deal_rows:
        deal = dict(zip(_DEAL_COLUMNS, row, strict=True))
        existing[deal["key"]] = deal
        if before is not None:
            before[deal["key"]] = (deal["account_key"], account_view(deal))


@functools.cache
def refresh_reads_of_one(after_stamp: bool = False):
    """refresh_deals' two reads for one deal, with the parameter names of an event's insert
    (`workspace_id`, `deal_key`): they go out in the insert's query, after it
    (storage/recording.py, storage/pg_driver.py `run_then`). `after_stamp`: the insert tried
    the stamp (`stamp_after`); the deal's events are then read only if the deal does not look
    stamped by it (its `updated_at` the event's `logged_at`, its name the event's
    `deal_name`), so a stamped deal's events are not sent for nothing (`events_read_skipped`
    tells when they were not read although the stamp did not apply)."""
    workspace_id, key = sa.bindparam("workspace_id"), sa.bindparam("deal_key")
    events, deals = Event.__table__, Deal.__table__
    events_of = sa.select(events.c.deal_key, *(events.c[c.key] for c in _DEAL_EVENT_COLUMNS)
                          ).where(events.c.workspace_id == workspace_id,
                                  events.c.deal_key == key, events.c.voided_at.is_(None))
    if after_stamp:
        events_of = events_of.where(~sa.exists().where(
            deals.c.workspace_id == workspace_id, deals.c.key == key,
            deals.c.updated_at == sa.bindparam("logged_at"),
            deals.c.name == sa.bindparam("deal_name")))
    return (events_of,
            sa.select(deals).where(deals.c.workspace_id == workspace_id, deals.c.key == key))


def events_read_skipped(deal_rows: list[tuple], deal_name: str | None,
                        logged_at: datetime) -> bool:
    """Whether `refresh_reads_of_one(after_stamp=True)` left the deal's events unread: its row
    (`deal_rows`, read in the same query) looks stamped by the event (a deal another writer
    stamped at the very same instant, or the stamp itself). When the stamp did not apply, the
    caller reads them again."""
    return any(row[_UPDATED_AT] == logged_at and row[_NAME] == deal_name for row in deal_rows)


@functools.cache
def _refresh_reads():
    """refresh_deals' two reads (the deals' non-void events, the deal rows), built once: a
    chat command refreshes one deal, and building them cost more than running them."""
    given = sa.bindparam("workspace_id"), sa.bindparam("keys", expanding=True)
    events, deals = Event.__table__, Deal.__table__
    # No ORDER BY: SQLite would trade ix_events_workspace_deal for a scan; sorted by the caller.
    events_of = sa.select(events.c.deal_key, *(events.c[c.key] for c in _DEAL_EVENT_COLUMNS)
                          ).where(events.c.workspace_id == given[0],
                                  events.c.deal_key.in_(given[1]), events.c.voided_at.is_(None))
    deals_of = sa.select(deals).where(deals.c.workspace_id == given[0], deals.c.key.in_(given[1]))
    return events_of, deals_of


@functools.cache
def _deal_writes():
    """(DELETE one deal, INSERT one deal RETURNING id), built once."""
    table = Deal.__table__
    return (sa.delete(table).where(table.c.id == sa.bindparam("deal_id")),
            sa.insert(table).returning(table.c.id))


@functools.lru_cache(maxsize=256)
def _update_deal(columns: tuple[str, ...]):
    """UPDATE deals SET `columns` WHERE id = :deal_id, built once per set of columns (a stage
    event changes the same few each time)."""
    table = Deal.__table__
    return sa.update(table).where(table.c.id == sa.bindparam("deal_id")).values(
        {name: sa.bindparam(name) for name in columns})


def _expire_deals(session: Session, workspace_id: str, keys: Sequence[str]) -> None:
    """Deal objects the session holds for `keys` reload what refresh_deals wrote."""
    wanted = set(keys)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Deal) and instance.workspace_id == workspace_id \
                and instance.key in wanted:
            session.expire(instance)


def account_view(deal: dict | None) -> tuple | None:
    """What account rows read of a deal (storage/accounts.py): nothing unless it is won; a won
    deal's account, win time, MRR and name. Equal views: every account stays the same."""
    if deal is None or deal["outcome"] != "won":
        return None
    return (deal["account_key"], deal["won_at"], deal["mrr_minor"], deal["name"])


HISTORY_SETTLE = history_settle.HISTORY_SETTLE  # (its own module: the light read path's)
# The deal times past windows are read by: its stages, its close, and its first stage event
# (where a won deal's sales cycle starts: a close logged before it moves that alone).
_HISTORY_TIMES = ("lead_at", "mql_at", "sql_at", "opportunity_at", "demo_at", "won_at",
                  "lost_at", "closed_at", "first_event_at")


def _history_of(deal: dict) -> tuple:
    return (deal["owner_id"], deal["outcome"], *(deal[name] for name in _HISTORY_TIMES))


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


def deal_outcomes(*, session: Session, workspace_id: str, keys: Iterable[str]
                  ) -> dict[str, tuple[str, str]]:
    """deal key → (name, outcome: open | won | lost) for those of `keys` that are deals."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in chunks(sorted(set(keys))):
        for key, name, outcome in session.execute(select(Deal.key, Deal.name, Deal.outcome).where(
                Deal.workspace_id == workspace_id, Deal.key.in_(chunk))):
            found[key] = (name, outcome)
    return found


_DEAL_COLUMNS = tuple(Deal.__table__.c.keys())
_UPDATED_AT, _NAME = _DEAL_COLUMNS.index("updated_at"), _DEAL_COLUMNS.index("name")
_DEAL_EVENT_COLUMNS = (Event.id, Event.kind, Event.occurred_at, Event.user_id, Event.deal_name,
                       Event.account_key, Event.amount_minor, Event.currency, Event.mrr_minor,
                       Event.source, Event.reason, Event.competitor)


def refresh_deals_bulk(session: Session, workspace_id: str, keys: Sequence[str]) -> set[str]:
    """refresh_deals without ORM objects; returns the refreshed deals' account keys."""
    table = Deal.__table__
    now = datetime.now(UTC)
    zone = workspace_zone(session, workspace_id)
    accounts: set[str] = set()
    inserts: list[tuple[str, dict]] = []
    for chunk in chunks(keys):
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
        bulk = BulkInsert(session, table, columns)
        get = operator.itemgetter(*columns[2:])
        converters = [(i, convert) for i, name in enumerate(columns[2:])
                      if (convert := bulk.converter(name)) is not unconverted]
        rows = []
        for key, values in inserts:
            row = list(get(values))
            for i, convert in converters:
                if row[i] is not None:
                    row[i] = convert(row[i])
            rows.append((workspace_id, key, *row))
        bulk.run(rows)
    return accounts

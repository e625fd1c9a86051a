"""Reading stored events: by id, by idempotency key, the last one logged, a window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.bulk import chunks
from storage.models import Event


class EventNotFound(LookupError):
    pass


def stored_keys(*, session: Session, workspace_id: str, keys: Sequence[str]) -> set[str]:
    """Those of `keys` that are idempotency keys of stored events (void or not).

    SQLite: straight to the driver, 500 keys a query (SQLAlchemy's handling of the IN list
    doubles the cost of a million lookups).
    """
    found: set[str] = set()
    raw = session.get_bind().dialect.name == "sqlite"
    for chunk in chunks(keys):
        if raw:
            found.update(k for (k,) in session.connection().exec_driver_sql(
                "SELECT idempotency_key FROM events WHERE workspace_id = ? AND idempotency_key "
                f"IN ({', '.join('?' * len(chunk))})", (workspace_id, *chunk)))
        else:
            found.update(session.scalars(select(Event.idempotency_key).where(
                Event.workspace_id == workspace_id, Event.idempotency_key.in_(chunk))).all())
    return found


def get_event(*, session: Session, workspace_id: str, event_id: int) -> Event:
    event = session.scalars(
        select(Event).where(Event.workspace_id == workspace_id, Event.id == event_id)
    ).first()
    if event is None:
        raise EventNotFound(event_id)
    return event


def find_by_idempotency_key(*, session: Session, workspace_id: str, key: str) -> Event | None:
    return session.scalars(
        select(Event).where(Event.workspace_id == workspace_id, Event.idempotency_key == key)
    ).first()


def find_last_logged(*, session: Session, workspace_id: str, logged_by: str) -> Event | None:
    """The caller's most recently logged event that is not void."""
    return session.scalars(
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
    return session.scalars(query).all()

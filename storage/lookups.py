"""Small reads behind the interactive surfaces (Slack Home tab, the logging form's deal box).

Each is one index range: a person's latest logs on ix_events_workspace_logger, deals by the
start of their key within the workspace.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Deal, Event


def recent_logs(*, session: Session, workspace_id: str, logged_by: str, since: datetime,
                limit: int) -> list[Event]:
    """Events `logged_by` logged at or after `since` that are not void, newest first."""
    return list(session.scalars(
        select(Event)
        .where(Event.workspace_id == workspace_id, Event.logged_by == logged_by,
               Event.logged_at >= since, Event.voided_at.is_(None))
        .order_by(Event.logged_at.desc(), Event.id.desc())
        .limit(limit)
    ).all())


def deals_starting(*, session: Session, workspace_id: str, typed: str,
                   limit: int) -> list[tuple[str, str]]:
    """(key, name) of the workspace's deals whose key starts with `typed` (case-insensitive),
    in key order; every deal's first ones when `typed` is empty."""
    prefix = " ".join(typed.split()).casefold()
    query = select(Deal.key, Deal.name).where(Deal.workspace_id == workspace_id)
    if prefix:
        query = query.where(Deal.key.startswith(prefix, autoescape=True))
    return [(key, name) for key, name in session.execute(query.order_by(Deal.key).limit(limit))]

"""Looking up people: display names for replies and digests, and who the reps are."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from reports.events import UNASSIGNED_USER
from storage.models import Event, Quota, User
from storage.prepared import Prepared
from storage.reps import NAMED_REP_PREFIX


def display_names(*, session: Session, workspace_id: str) -> dict[str, str]:
    """user id → display name, for every user of the workspace that has one."""
    statement, params = display_names_request(workspace_id)
    rows = statement.rows(session.connection(), params)
    return {user_id: name for user_id, name in rows if name}


def display_names_request(workspace_id: str) -> tuple[Prepared, dict[str, str]]:
    """The statement and parameters `display_names` runs (storage/pg_batch.py reads it
    ahead)."""
    return _DISPLAY_NAMES, {"workspace": workspace_id}


# Compiled once and run on the driver (storage/prepared.py): every reply that names people
# reads them, and SQLAlchemy's execution of the Core statement cost more than the read.
_DISPLAY_NAMES = Prepared(sa.select(User.id, User.display_name).where(
    User.workspace_id == sa.bindparam("workspace"), User.display_name.is_not(None)))


def known_people(*, session: Session,
                 workspace_id: str) -> list[tuple[str, str | None, str | None]]:
    """(user id, display name, email) of every user of the workspace, in id order: whom a
    typed `@name` may mean."""
    rows = session.execute(select(User.id, User.display_name, User.email).where(
        User.workspace_id == workspace_id).order_by(User.id)).all()
    return [(user_id, name, email) for user_id, name, email in rows]


def team_members(*, session: Session, workspace_id: str) -> list[str]:
    """The reps of a workspace, in id order: whoever logged an event, every named rep from an
    import, and everyone with a quota — a leaderboard lists them all, zero or not. A user who
    only asked questions is not one; neither is the team placeholder (UNASSIGNED_USER)."""
    logged = sa.exists().where(Event.workspace_id == workspace_id, Event.logged_by == User.id)
    users = session.scalars(select(User.id).where(
        User.workspace_id == workspace_id,
        sa.or_(User.id.startswith(NAMED_REP_PREFIX, autoescape=True), logged))).all()
    with_quota = session.scalars(select(Quota.user_id).distinct().where(
        Quota.workspace_id == workspace_id)).all()
    return sorted({*users, *with_quota} - {UNASSIGNED_USER})

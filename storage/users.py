"""Looking up people: display names for replies and digests."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import User


def display_names(*, session: Session, workspace_id: str) -> dict[str, str]:
    """user id → display name, for every user of the workspace that has one."""
    rows = session.exec(select(User.id, User.display_name).where(
        User.workspace_id == workspace_id, User.display_name.is_not(None))).all()
    return {user_id: name for user_id, name in rows if name}


def known_people(*, session: Session,
                 workspace_id: str) -> list[tuple[str, str | None, str | None]]:
    """(user id, display name, email) of every user of the workspace, in id order: whom a
    typed `@name` may mean."""
    rows = session.exec(select(User.id, User.display_name, User.email).where(
        User.workspace_id == workspace_id).order_by(User.id)).all()
    return [(user_id, name, email) for user_id, name, email in rows]

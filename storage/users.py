"""Looking up people: display names for replies and digests."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import User


def display_names(*, session: Session, workspace_id: str) -> dict[str, str]:
    """user id → display name, for every user of the workspace that has one."""
    rows = session.exec(select(User.id, User.display_name).where(
        User.workspace_id == workspace_id, User.display_name.is_not(None))).all()
    return {user_id: name for user_id, name in rows if name}

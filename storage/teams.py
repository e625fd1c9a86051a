"""Teams conversation references: where the bot may post proactively. One row per
(workspace, conversation key); saving again replaces it (the service URL can move)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import TeamsConversation

FIELDS = ("conversation_id", "service_url", "bot_id", "tenant_id", "conversation_type",
          "bot_name", "team_id", "conversation_name", "user_id", "channel_id", "locale",
          "updated_at")


def save_conversation(*, session: Session, workspace_id: str, conversation_key: str,
                      values: dict[str, Any]) -> TeamsConversation:
    row = session.get(TeamsConversation, (workspace_id, conversation_key))
    if row is None:
        row = TeamsConversation(workspace_id=workspace_id, conversation_key=conversation_key,
                                **{k: values[k] for k in FIELDS if k in values})
    else:
        for key in FIELDS:
            if key in values:
                setattr(row, key, values[key])
    session.add(row)
    session.flush()
    return row


def get_conversation(*, session: Session, workspace_id: str,
                     conversation_key: str) -> TeamsConversation | None:
    return session.get(TeamsConversation, (workspace_id, conversation_key))


def personal_conversation(*, session: Session, workspace_id: str,
                          user_id: str) -> TeamsConversation | None:
    """The most recently seen 1:1 chat with `user_id`."""
    return session.scalars(select(TeamsConversation).where(
        TeamsConversation.workspace_id == workspace_id, TeamsConversation.user_id == user_id,
        TeamsConversation.conversation_type == "personal",
    ).order_by(TeamsConversation.updated_at.desc())).first()


def list_conversations(*, session: Session, workspace_id: str) -> list[TeamsConversation]:
    return list(session.scalars(select(TeamsConversation).where(
        TeamsConversation.workspace_id == workspace_id).order_by(
        TeamsConversation.conversation_key)).all())


def remove_conversation(*, session: Session, workspace_id: str, conversation_key: str) -> None:
    row = session.get(TeamsConversation, (workspace_id, conversation_key))
    if row is not None:
        session.delete(row)

"""Conversation references: where the bot may post proactively (digests, owner notices).

A reference is stored when the bot is installed in a team, group chat or personal scope
(`conversationUpdate` with the bot among `membersAdded`, `installationUpdate` add) and when it
is first messaged in a conversation. It is removed when the bot is uninstalled or removed.

Lookups use the conversation *key*: the conversation id without a channel thread suffix
(`;messageid=...`), shortened to fit the 80-character channel columns (see
`bot.teams.activities.channel_key`). The key is what a `CommandRequest.channel_id` carries,
so a digest configured with `kpi digest here` finds its reference by `(workspace, channel)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from storage import teams as teams_store
from storage.engine import Database
from storage.workspaces import ensure_workspace


@dataclass(frozen=True)
class StoredReference:
    workspace_id: str  # "teams:<tenant id>"
    conversation_key: str  # lookup key, <= 80 characters (CommandRequest.channel_id)
    conversation_id: str  # the Bot Connector conversation id to post to (no thread suffix)
    service_url: str  # the Bot Connector base URL of this conversation's region
    bot_id: str  # "28:<app id>"
    tenant_id: str
    conversation_type: str | None = None  # "personal" | "channel" | "groupChat"
    bot_name: str | None = None
    team_id: str | None = None
    conversation_name: str | None = None
    user_id: str | None = None  # personal scope: the user (AAD object id) of the 1:1 chat
    channel_id: str = "msteams"
    locale: str | None = None
    updated_at: datetime | None = None

    def with_updated_at(self, when: datetime) -> StoredReference:
        return replace(self, updated_at=when)


class ReferenceStore(Protocol):
    """Where conversation references live (in memory here; a database table in production)."""

    def save_reference(self, reference: StoredReference) -> None:
        """Insert or replace the reference for `(workspace_id, conversation_key)`."""

    def get_reference(self, workspace_id: str, conversation_key: str) -> StoredReference | None:
        """The reference of one conversation, or None if the bot was never there."""

    def personal_reference(self, workspace_id: str, user_id: str) -> StoredReference | None:
        """The 1:1 chat with `user_id` (for direct notices), or None."""

    def list_references(self, workspace_id: str) -> list[StoredReference]:
        """Every conversation of the workspace the bot can post to."""

    def remove_reference(self, workspace_id: str, conversation_key: str) -> None:
        """Forget a conversation (the bot was removed or uninstalled); no error if unknown."""


class InMemoryReferenceStore:
    """A thread-safe dict; references are lost on restart."""

    def __init__(self) -> None:
        self._references: dict[tuple[str, str], StoredReference] = {}
        self._lock = threading.Lock()

    def save_reference(self, reference: StoredReference) -> None:
        with self._lock:
            self._references[(reference.workspace_id, reference.conversation_key)] = reference

    def get_reference(self, workspace_id: str, conversation_key: str) -> StoredReference | None:
        with self._lock:
            return self._references.get((workspace_id, conversation_key))

    def personal_reference(self, workspace_id: str, user_id: str) -> StoredReference | None:
        with self._lock:
            matches = [
                ref for (workspace, _key), ref in self._references.items()
                if workspace == workspace_id and ref.conversation_type == "personal"
                and ref.user_id == user_id
            ]
        return max(matches, default=None,
                   key=lambda ref: ref.updated_at.timestamp() if ref.updated_at else 0.0)

    def list_references(self, workspace_id: str) -> list[StoredReference]:
        with self._lock:
            return sorted(
                (ref for (workspace, _key), ref in self._references.items()
                 if workspace == workspace_id),
                key=lambda ref: ref.conversation_key,
            )

    def remove_reference(self, workspace_id: str, conversation_key: str) -> None:
        with self._lock:
            self._references.pop((workspace_id, conversation_key), None)


class DatabaseReferenceStore:
    """References in the `teams_conversations` table: they survive restarts and are shared
    by every bot process on the database."""

    def __init__(self, database: Database, *, timezone: str = "UTC", currency: str = "USD",
                 fiscal_year_start: int = 1) -> None:
        self.database = database
        self._defaults = {"timezone": timezone, "currency": currency,
                          "fiscal_year_start": fiscal_year_start}

    @staticmethod
    def _reference(row) -> StoredReference | None:
        if row is None:
            return None
        return StoredReference(
            workspace_id=row.workspace_id, conversation_key=row.conversation_key,
            **{name: getattr(row, name) for name in teams_store.FIELDS})

    def save_reference(self, reference: StoredReference) -> None:
        values = {name: getattr(reference, name) for name in teams_store.FIELDS}
        values["updated_at"] = reference.updated_at or datetime.now(UTC)
        with self.database.write() as session:
            ensure_workspace(session=session, workspace_id=reference.workspace_id,
                             platform="teams", now=values["updated_at"], **self._defaults)
            teams_store.save_conversation(session=session,
                                          workspace_id=reference.workspace_id,
                                          conversation_key=reference.conversation_key,
                                          values=values)

    def get_reference(self, workspace_id: str, conversation_key: str) -> StoredReference | None:
        with self.database.read() as session:
            return self._reference(teams_store.get_conversation(
                session=session, workspace_id=workspace_id, conversation_key=conversation_key))

    def personal_reference(self, workspace_id: str, user_id: str) -> StoredReference | None:
        with self.database.read() as session:
            return self._reference(teams_store.personal_conversation(
                session=session, workspace_id=workspace_id, user_id=user_id))

    def list_references(self, workspace_id: str) -> list[StoredReference]:
        with self.database.read() as session:
            return [self._reference(row) for row in teams_store.list_conversations(
                session=session, workspace_id=workspace_id)]

    def remove_reference(self, workspace_id: str, conversation_key: str) -> None:
        with self.database.write() as session:
            teams_store.remove_conversation(session=session, workspace_id=workspace_id,
                                            conversation_key=conversation_key)

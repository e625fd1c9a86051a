"""Conversations with the real command handler, in milliseconds (no HTTP, no Slack).

    chat = Chat(database, workspace="slack:T1", now=NOW, admins={"U_BOSS"})
    reply = chat.ask("log call 3")               # as U_BOSS
    verify_dialog(chat, [("log call 3", "Logged 3 × call"), ("undo", "Undone")])
    chat.ran                                      # the parsed commands that reached a handler
    Chat(database, ..., commands=(*COMMANDS, MY_SPEC))  # the bot with one more command

In the spirit of python-zulip-api's StubBotHandler / verify_dialog: the handlers, grammar and
storage are the real ones (on the `database` fixture: SQLite and PostgreSQL); only the
platform edge is left out. The signed-HTTP suites test the transport.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core import BotContext, CommandRequest
from bot.grammar import CommandSpec
from bot.handlers.registry import COMMANDS, build_command_handler
from bot.replies import Reply


class _Admins:
    def __init__(self, admins: frozenset[str]) -> None:
        self.admins = admins

    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        return user_id in self.admins


class Chat:
    """The bot's real command handler (for `commands`, default every standard one) on
    `database`, at `now` (change it with `chat.now = ...`); every command that reaches a
    handler is recorded in `ran`. Commands are asked in `channel`."""

    def __init__(self, database, *, workspace: str, now: datetime,
                 admins: Iterable[str] = ("U_BOSS",), default_user: str = "U_BOSS",
                 commands: Sequence[CommandSpec] = COMMANDS, channel: str | None = "C_SALES",
                 context: dict | None = None) -> None:
        self.database = database
        self.workspace = workspace
        self.default_user = default_user
        self.channel = channel
        self.now = now
        self.handler = build_command_handler(
            BotContext(database=database, admins=_Admins(frozenset(admins)),
                       clock=lambda: self.now, **(context or {})), commands)
        self.ran: list[object] = []
        for kind, handle in list(self.handler.handlers.items()):
            self.handler.handlers[kind] = self._recorded(handle)

    def _recorded(self, handle):
        def run(command, invocation):
            self.ran.append(command)
            return handle(command, invocation)
        return run

    def ask(self, text: str, user: str | None = None, name: str | None = None) -> Reply:
        return self.handler.handle(CommandRequest(
            platform="slack", workspace_id=self.workspace, user_id=user or self.default_user,
            text=text, user_name=name, channel_id=self.channel))

    def ask_served(self, text: str, key: str | None, *, user: str | None = None,
                   name: str | None = None, seconds: float = 30) -> Reply:
        """As `kpibot serve` asks it: the caller's name in the request (default: the user's
        id), Slack's request key (`key`), a deadline `seconds` away (so PostgreSQL writes go
        out in their one-round-trip pipelines)."""
        user = user or self.default_user
        return self.handler.handle(CommandRequest(
            platform="slack", workspace_id=self.workspace, user_id=user, user_name=name or user,
            text=text, channel_id=self.channel, idempotency_key=key),
            time.monotonic() + seconds)


def served_chat(database, *, workspace: str, now: datetime, users: Sequence[str] = ("U1",)
                ) -> Chat:
    """A `Chat` in a workspace whose `users` exist (their rows written, as a first command
    writes them), asked by the first of them, no admins."""
    from storage.workspaces import ensure_user, ensure_workspace

    with database.write() as session:
        ensure_workspace(session=session, workspace_id=workspace, platform="slack", now=now)
        for user in users:
            ensure_user(session=session, workspace_id=workspace, user_id=user,
                        display_name=user, now=now)
    return Chat(database, workspace=workspace, now=now, admins=(), default_user=users[0])


def verify_dialog(chat: Chat, turns: Iterable[tuple[str, str]], *, user: str | None = None
                  ) -> list[Reply]:
    """Ask each command in turn; each reply's text must contain its expected part."""
    replies = []
    for command, expected in turns:
        reply = chat.ask(command, user=user)
        assert expected in reply.plain_text(), (command, reply.plain_text())
        replies.append(reply)
    return replies

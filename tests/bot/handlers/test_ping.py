"""`/kpi ping`: "pong" with the server time, and no database work in the handler."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from bot import grammar
from bot.core import BotContext, CommandRequest
from bot.handlers.registry import build_command_handler

NOW = datetime(2026, 11, 18, 14, 30, 5, 123000, tzinfo=UTC)


class _NoAdmins:
    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        return False


def test_ping_parses_and_takes_no_arguments():
    command = grammar.parse_command("ping", today=date(2026, 11, 18), currency="USD")
    assert command == grammar.PingCommand()
    assert grammar.parse_command("PING !", today=date(2026, 11, 18),
                                 currency="USD") == grammar.PingCommand(public=True)
    with pytest.raises(grammar.UsageError, match="takes nothing more"):
        grammar.parse_command("ping now", today=date(2026, 11, 18), currency="USD")


def test_ping_answers_pong_without_any_query(database):
    """Not even the workspace lookup: ping works while the database is down (issue 14, 7)."""
    context = BotContext(database=database, admins=_NoAdmins(), clock=lambda: NOW)
    handler = build_command_handler(context)
    request = CommandRequest(platform="slack", workspace_id="slack:TPING", user_id="U1",
                             text="ping")
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        first = handler.handle(request)  # first contact: still no workspace row needed
        reply = handler.handle(dataclasses.replace(request, text="PING!"))
        refused = handler.handle(dataclasses.replace(request, text="ping now"))
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    assert first.ok and first.text == "pong · server time 2026-11-18T14:30:05.123+00:00"
    assert reply.ok and reply.public
    assert not refused.ok and "takes nothing more" in refused.text
    assert statements == []
    help_reply = handler.handle(CommandRequest(platform="slack", workspace_id="slack:TPING",
                                               user_id="U1", text="help ping"))
    assert "/kpi ping" in help_reply.plain_text()

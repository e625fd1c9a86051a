"""`/kpi ping`: "pong" with the server time, and no database work in the handler."""

from __future__ import annotations

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


def test_ping_answers_pong_without_a_query_in_the_handler(database):
    context = BotContext(database=database, admins=_NoAdmins(), clock=lambda: NOW)
    handler = build_command_handler(context)
    request = CommandRequest(platform="slack", workspace_id="slack:TPING", user_id="U1",
                             text="ping")
    handler.handle(request)  # the first contact creates the workspace and the user
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        reply = handler.handle(request)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    assert reply.ok and reply.text == "pong · server time 2026-11-18T14:30:05.123+00:00"
    # Only the dispatcher's workspace and user lookup, the same for every command.
    assert all("events" not in s and "deals" not in s for s in statements), statements
    assert len(statements) <= 3, statements
    help_reply = handler.handle(CommandRequest(platform="slack", workspace_id="slack:TPING",
                                               user_id="U1", text="help ping"))
    assert "/kpi ping" in help_reply.plain_text()

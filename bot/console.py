"""A console backend: type `/kpi ...` commands in the terminal, read the replies as text."""

from __future__ import annotations

import sys
import uuid

from bot.core import CommandRequest
from bot.settings import Settings
from bot.wiring import build_bot
from storage import migrate


def run_console(settings: Settings, *, user_id: str, workspace_id: str,
                stdin=sys.stdin, stdout=sys.stdout) -> int:
    migrate.upgrade(settings.database_url)
    bot = build_bot(settings)
    stdout.write("kpibot console — type commands like `log call 12` or `help`; Ctrl-D quits.\n")
    for line in stdin:
        text = line.strip().removeprefix("/kpi").strip()
        if not text:
            continue
        reply = bot.handler.handle(CommandRequest(
            platform="console", workspace_id=workspace_id, user_id=user_id, text=text,
            idempotency_key=str(uuid.uuid4()),
        ))
        stdout.write(reply.plain_text() + "\n\n")
    return 0

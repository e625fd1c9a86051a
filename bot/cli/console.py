"""`kpibot console` — type `/kpi ...` commands in the terminal and read the replies as text.

It runs against DATABASE_URL (after `kpibot demo`: `DATABASE_URL=sqlite:///kpibot-demo.db`).
The workspace defaults to the only one in the database; people are written as Slack writes a
mention, `<@U_ALICE>`. The person at the terminal runs the bot, so the console user is an
admin (digest and quota commands work). At a terminal there is a `kpi>` prompt with line
editing and history (~/.kpibot_history).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.engine import Database

NEW_WORKSPACE = "console:local"
CHANNEL = "console"
PROMPT = "kpi> "
HISTORY = Path.home() / ".kpibot_history"


def add_parser(commands) -> None:
    console = commands.add_parser(
        "console", help="type /kpi commands in the terminal",
        description="Type /kpi commands in the terminal against DATABASE_URL (after kpibot "
                    "demo: DATABASE_URL=sqlite:///kpibot-demo.db kpibot console), as an admin.")
    console.add_argument("--user", default="console-user",
                         help="user id to act as (default console-user; demo: U_ALICE, ...)")
    console.add_argument("--workspace",
                         help="workspace id (default: the only one in the database)")
    console.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_console(settings, user_id=args.user, workspace_id=args.workspace)


def run_console(settings: Settings, *, user_id: str, workspace_id: str | None = None,
                stdin=sys.stdin, stdout=sys.stdout) -> int:
    import uuid
    from dataclasses import replace

    from bot.core import CommandRequest
    from bot.wiring import build_bot
    from storage import migrate

    migrate.upgrade(settings.database_url)
    bot = build_bot(replace(settings, admins=settings.admins | {user_id}))
    workspace_id = workspace_id or default_workspace(bot.database)
    stdout.write(f"kpibot console — workspace {workspace_id}, you are <@{user_id}> (admin).\n"
                 "Try `help`, `funnel this-month`, `me`, `log call 12`, `digest preview`; "
                 "Ctrl-D quits.\n")
    interactive = stdin.isatty() and stdout.isatty()
    for line in (_prompted() if interactive else stdin):
        text = line.strip().removeprefix("/kpi").strip()
        if not text:
            continue
        reply = bot.handler.handle(CommandRequest(
            platform="console", workspace_id=workspace_id, user_id=user_id, text=text,
            channel_id=CHANNEL, idempotency_key=str(uuid.uuid4()),
        ))
        stdout.write(reply.plain_text() + "\n\n")
    bot.database.dispose()
    return 0


def default_workspace(database: Database) -> str:
    """The only workspace in the database, or a new one when there is none."""
    from sqlalchemy import select

    from bot.settings import SettingsError
    from storage.models import Workspace

    with database.read() as session:
        ids = session.scalars(select(Workspace.id).order_by(Workspace.id)).all()
    if len(ids) > 1:
        raise SettingsError(f"the database holds several workspaces; choose one with "
                            f"--workspace ({', '.join(ids)})")
    return ids[0] if ids else NEW_WORKSPACE


def _prompted() -> Iterator[str]:
    """Lines typed at a `kpi>` prompt, with readline's editing and a history file."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: a plain prompt
        readline = None
    if readline is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(HISTORY)
    try:
        while True:
            try:
                yield input(PROMPT)
            except EOFError:
                print()
                return
            except KeyboardInterrupt:  # Ctrl-C clears the line, as in a shell
                print()
    finally:
        if readline is not None:
            readline.set_history_length(1000)
            with contextlib.suppress(OSError):
                readline.write_history_file(HISTORY)

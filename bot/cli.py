"""`kpibot` — the command line. Builds settings, engine and apps; nothing happens at import.

Errors a person can fix (a setting, an unreachable database, a closed pipe) end in one line on
stderr, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, build_settings

log = logging.getLogger("kpibot")


DESCRIPTION = """\
kpibot: sales KPIs in Slack and Microsoft Teams. Reps log activity with /kpi log, anyone asks
for a KPI with /kpi NAME, and a digest is posted every Monday. Start with `kpibot demo`."""

EPILOG = """\
settings come from the environment or .env: DATABASE_URL (default sqlite:///kpibot.db),
SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, KPIBOT_TIMEZONE, KPIBOT_CURRENCY,
KPIBOT_ADMINS, KPIBOT_TOKEN_KEY, TEAMS_APP_ID, ... (README). `kpibot COMMAND --help`
describes a command."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpibot", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="offline demo on a local SQLite database",
        description="Create a SQLite database with a generated history of a sales team, print "
                    "this week's digest and /kpi funnel this-month, and log a few events "
                    "through the real command path. No tokens, no network.")
    demo.add_argument("--database", default="kpibot-demo.db",
                      help="SQLite file to (re)create (default: kpibot-demo.db)")

    serve = commands.add_parser(
        "serve", help="run the bot (HTTP or Slack Socket Mode)",
        description="Run the bot: Slack at POST /slack/events, Teams at POST /api/messages "
                    "(with TEAMS_APP_ID), the events API under /api/v1/ (with "
                    "KPIBOT_TOKEN_KEY), GET /healthz, and the digest scheduler. Needs "
                    "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or the Teams settings).")
    serve.add_argument("--host", help="bind address (default KPIBOT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default KPIBOT_PORT or 3000)")
    serve.add_argument("--socket-mode", action="store_true",
                       help="connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--migrate", action="store_true",
                       help="apply database migrations before starting")
    serve.add_argument("--no-scheduler", action="store_true",
                       help="do not run the digest scheduler in this process")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="N processes sharing the port, one per core (default 1)")

    console = commands.add_parser(
        "console", help="type /kpi commands in the terminal",
        description="Type /kpi commands in the terminal against DATABASE_URL (after kpibot "
                    "demo: DATABASE_URL=sqlite:///kpibot-demo.db kpibot console), as an admin.")
    console.add_argument("--user", default="console-user",
                         help="user id to act as (default console-user; demo: U_ALICE, ...)")
    console.add_argument("--workspace",
                         help="workspace id (default: the only one in the database)")

    from bot import kpi_cli

    kpi_cli.add_parser(commands)

    from bot.transfer_cli import add_parsers as add_transfer_parsers

    add_transfer_parsers(commands)  # kpibot import / kpibot export

    from bot import digest_cli

    digest_cli.add_parsers(commands)  # kpibot digest ... / kpibot scheduler

    from bot import token_cli

    token_cli.add_parsers(commands)  # kpibot token create|list|revoke

    db = commands.add_parser("db", help="database schema: upgrade, check, current",
                             description="Apply, check or show the database schema "
                                         "(Alembic migrations).")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply Alembic migrations up to head")
    db_commands.add_parser("check", help="fail if the models and migrations disagree")
    db_commands.add_parser("current", help="print the database's schema revision")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = build_settings()
        configure_logging(settings.log_level)
        return _run(args, settings)
    except SettingsError as error:
        return _fail(str(error))
    except BrokenPipeError:
        # `kpibot kpi list | head`: the reader left; say nothing more, like any Unix tool.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        line = database_error_line(error, settings.database_url)
        if line is None:
            raise
        return _fail(line)


def _program() -> str:
    """How this command was started, to repeat it in hints: `.venv/bin/kpibot` when run by
    that path (relative to the working folder), else `kpibot`."""
    started = sys.argv[0]
    if os.path.basename(started) != "kpibot" or os.sep not in started:
        return "kpibot"
    relative = os.path.relpath(started)
    return relative if not relative.startswith("..") else started


def _shown(url: str) -> str:
    """`url` without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _fail(line: str) -> int:
    print(f"kpibot: {line}", file=sys.stderr)
    return 2


def database_error_line(error: BaseException, url: str) -> str | None:
    """One line for a database that cannot be reached or opened, None for any other error.

    The URL is shown without its password; the driver's own reason is kept (first line)."""
    if isinstance(error, OSError) and error.filename and url.startswith("sqlite") \
            and str(error.filename) in url:  # the SQLite file's folder cannot be created
        return f"cannot create the folder {error.filename} for {url}: {error.strerror}"
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is None or not isinstance(error, exc.OperationalError | exc.InterfaceError):
        return None
    where = _shown(url)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    reason = reason.removeprefix("connection failed: ")[:300]
    hint = ("check DATABASE_URL and the file's folder and permissions" if url.startswith("sqlite")
            else "is the server running, and is DATABASE_URL right?")
    return f"cannot use the database {where}: {reason} ({hint})"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo(database_path=args.database, settings=settings, program=_program())
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "console":
        from bot.console import run_console

        return run_console(settings, user_id=args.user, workspace_id=args.workspace)
    if args.command == "db":
        return _db(args.db_command, settings)
    if args.command in ("import", "export"):
        from bot.transfer_cli import run as run_transfer

        return run_transfer(args, settings)
    if args.command == "kpi":
        from bot import kpi_cli

        if args.name != "list":  # the catalog needs no database
            _require_schema(settings)
        return kpi_cli.run(args, settings)
    if args.command in ("digest", "scheduler"):
        from bot import digest_cli

        _require_schema(settings)
        return digest_cli.run(args, settings)
    if args.command == "token":
        from bot import token_cli

        _require_schema(settings)
        return token_cli.run(args, settings)
    raise AssertionError(args.command)


def _db(action: str, settings: Settings) -> int:
    from storage import migrate

    if action == "upgrade":
        migrate.upgrade(settings.database_url)
        print(f"database at revision {migrate.current(settings.database_url)}")
    elif action == "check":
        migrate.check(settings.database_url)
        print("models and migrations agree")
    else:
        print(migrate.current(settings.database_url) or "empty (run kpibot db upgrade)")
    return 0


def _require_schema(settings: Settings) -> None:
    from storage import migrate

    if not migrate.is_at_head(settings.database_url):
        raise SettingsError(
            f"the database {_shown(settings.database_url)} is not at the current schema: run "
            "kpibot db upgrade (or kpibot serve --migrate; kpibot demo makes a database with "
            "sample data)")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    if args.socket_mode:
        settings.require_socket_mode()
    elif not settings.teams_app_id:
        settings.require_slack_http()
    if args.migrate:
        migrate.upgrade(settings.database_url)
    else:
        _require_schema(settings)
    from bot.wiring import build_bot

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if args.workers > 1 and not args.socket_mode:
        from bot.workers import serve_workers

        return serve_workers(lambda: build_bot(settings), host=host, port=port,
                             workers=args.workers, scheduler=not args.no_scheduler)
    bot = build_bot(settings)
    try:
        asyncio.run(_serve_async(bot, host=host, port=port, socket_mode=args.socket_mode,
                                 scheduler=not args.no_scheduler))
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


async def _serve_async(bot, *, host: str, port: int, socket_mode: bool,
                       scheduler: bool = True) -> None:
    from bot.server import build_web_app, run_web_app

    tasks = []
    if scheduler:
        digest_scheduler = bot.build_digest_scheduler()
        await digest_scheduler.start()
    if socket_mode:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bot.slack_app,
                                         bot.settings.slack_app_token.get_secret_value())
        tasks.append(asyncio.create_task(handler.start_async()))
        web_app = build_web_app(database=bot.database, teams=bot.teams, api=bot.api)
    else:
        web_app = build_web_app(database=bot.database, slack_app=bot.slack_app,
                                slack_signing_secret=bot.slack_signing_secret, teams=bot.teams,
                                api=bot.api)
    _freeze_startup_objects()
    tasks.append(asyncio.create_task(run_web_app(web_app, host=host, port=port)))
    await asyncio.gather(*tasks)


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, the app; ~140k objects, all alive until exit) out of
    the cyclic garbage collector: each of its full collections walked them all and paused
    whichever command was running for 50-70 ms, the p99 of /kpi log (benchmarks/)."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    raise SystemExit(main())

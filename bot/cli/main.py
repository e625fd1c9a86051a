"""`kpibot` — the command line. Builds settings, engine and apps; nothing happens at import.

Each command group is a module of bot.cli with `add_parser(subparsers)` (which sets the
`run(args, settings)` to call, and `needs_schema(args)` when the database must be at the current
migration first). Errors a person can fix (a setting, an unreachable database, a closed pipe)
end in one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from bot.cli import console, db, demo, digest, kpi, serve, sync, token, transfer

DESCRIPTION = """\
kpibot: sales KPIs in Slack and Microsoft Teams. Reps log activity with /kpi log, anyone asks
for a KPI with /kpi NAME, and a digest is posted every Monday. Start with `kpibot demo`."""

EPILOG = """\
settings come from the environment or .env: DATABASE_URL (default sqlite:///kpibot.db),
SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, KPIBOT_TIMEZONE, KPIBOT_CURRENCY,
KPIBOT_ADMINS, KPIBOT_TOKEN_KEY, TEAMS_APP_ID, ... (README). `kpibot COMMAND --help`
describes a command."""

# In the order `kpibot --help` lists them.
GROUPS = (demo, serve, console, kpi, transfer, digest, token, sync, db)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpibot", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kpibot ARGV`; the exit status.

    Start-up (modules, settings, the engine: ~120k objects, alive until exit) runs with the
    cyclic garbage collector off: ~200 collections walked them while they were made (a few
    per cent of `kpibot kpi NAME --json`, docs/performance.md). It is back on before a
    command's work, unless the command keeps it off
    (`collector_off`): `kpibot kpi`, a short read, and `serve`, which turns it on when ready
    (bot/cli/serve.py `freeze_startup_objects`)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        return _main(argv, collector=was_on)
    finally:
        if was_on:
            gc.enable()


def _main(argv: Sequence[str] | None, *, collector: bool) -> int:
    args = _parser().parse_args(argv)
    from bot.logs import configure_logging
    from bot.settings import SettingsError, build_settings

    try:
        settings = build_settings()
        configure_logging(settings.log_level)
        return _run(args, settings, collector=collector)
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


def _run(args: argparse.Namespace, settings, *, collector: bool = True) -> int:
    needs_schema = getattr(args, "needs_schema", None)
    if needs_schema is not None and needs_schema(args):
        from bot.cli.shared import require_schema

        require_schema(settings)
    if collector and not getattr(args, "collector_off", False):
        gc.enable()
    return args.run(args, settings)


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
    driver = sys.modules.get("sqlite3")  # the light SQLite reader's (storage/lite.py)
    if not (exc is not None and isinstance(error, exc.OperationalError | exc.InterfaceError)
            or driver is not None and isinstance(error, driver.OperationalError)):
        return None
    from bot.cli.shared import shown

    where = shown(url)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    reason = reason.removeprefix("connection failed: ")[:300]
    hint = ("check DATABASE_URL and the file's folder and permissions" if url.startswith("sqlite")
            else "is the server running, and is DATABASE_URL right?")
    return f"cannot use the database {where}: {reason} ({hint})"


if __name__ == "__main__":
    raise SystemExit(main())

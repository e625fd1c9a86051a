"""`kpibot db upgrade|check|current`: the database schema (Alembic migrations)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


def add_parser(commands) -> None:
    db = commands.add_parser("db", help="database schema: upgrade, check, current",
                             description="Apply, check or show the database schema "
                                         "(Alembic migrations).")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply Alembic migrations up to head")
    db_commands.add_parser("check", help="fail if the models and migrations disagree")
    db_commands.add_parser("current", help="print the database's schema revision")
    db.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url)
        print(f"database at revision {migrate.current(settings.database_url)}")
    elif args.db_command == "check":
        migrate.check(settings.database_url)
        print("models and migrations agree")
    else:
        print(migrate.current(settings.database_url) or "empty (run kpibot db upgrade)")
    return 0

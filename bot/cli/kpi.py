"""`kpibot kpi NAME [--period P] [--workspace W] [--user U] [--lang L] [--json]` — any KPI, as
text or JSON.

The answer is `bot.usecases.kpi.answer_kpi`'s, the same as `/kpi NAME` in chat; the JSON is
`kpi_json`'s, the same as GET /api/v1/kpis/NAME (its shape: bot/usecases/kpi.py). On a SQLite
file, `--json` reads without SQLAlchemy: the same statements' compiled text (storage/lite.py,
storage/compiled.py; KPIBOT_CACHE_DIR). The text is
in `--lang` (en, nb, sv, ro, zh); without it, in the language the workspace's digests are
posted in when they all share one (what the team reads already), else English. JSON keys and
values are the same in every language.

`kpibot kpi list` prints each KPI's name, title and formula, in the same language (titles and
formulas from the translation catalogs; KPI names and event kinds as typed). It needs no
database: without `--lang`, one not set up yet (or out of reach) means English.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reports.periods import DEFAULT_PERIOD

if TYPE_CHECKING:
    from bot.settings import Settings
    from reports.i18n import Translator


def add_parser(commands) -> None:
    kpi = commands.add_parser("kpi", help="any KPI from the catalog, as text or JSON",
                              description=__doc__.splitlines()[0])
    kpi.add_argument("name", help="KPI name (kpibot kpi list shows them)")
    kpi.add_argument("--period", default=DEFAULT_PERIOD, help="period (default this-month)")
    kpi.add_argument("--workspace", help="workspace id (needed when there is more than one)")
    kpi.add_argument("--user", help="only this rep's figures")
    kpi.add_argument("--lang", help="language of the text: en, nb, sv, ro or zh (default: the "
                     "workspace's digest language when its digests share one, else en)")
    kpi.add_argument("--json", action="store_true", help="print the result as JSON")
    # A read that ends within milliseconds: the garbage collector stays off (bot/cli/main.py).
    kpi.set_defaults(run=run, needs_schema=needs_schema, collector_off=True)


def needs_schema(args: argparse.Namespace) -> bool:
    return args.name != "list"  # the catalog needs no database


def run(args: argparse.Namespace, settings: Settings, *, out=sys.stdout,
        now: datetime | None = None) -> int:
    from bot.settings import SettingsError
    from reports.kpis.catalog import CATALOG

    if args.name != "list" and args.name not in CATALOG:
        raise SettingsError(f"{args.name!r} is not a KPI (kpibot kpi list shows them)")
    from reports.languages import LANGUAGES, language_code

    lang = language_code(args.lang) if getattr(args, "lang", None) else None
    if getattr(args, "lang", None) and lang is None:
        raise SettingsError(f"--lang {args.lang!r} is not one of {', '.join(LANGUAGES)}")
    if args.name == "list":
        from reports.i18n import translator

        out.writelines(catalog_lines(translator(lang or listing_language(args, settings))))
        return 0
    from bot.cli.shared import pick_workspace
    from bot.usecases.kpi import answer_json, answer_kpi
    from reports.periods import PeriodError
    from storage import lite

    now = now or datetime.now(UTC)
    sqlite_file = lite.sqlite_file(settings.database_url) if args.json else None
    if sqlite_file is not None:  # without SQLAlchemy: the statements' compiled SQLite text
        from storage import compiled

        cache = compiled.Cache(compiled.cache_dir(settings.cache_dir))
        with lite.Reader(sqlite_file, cache) as reader:
            workspace = pick_workspace(reader, args.workspace)
            try:
                answer = answer_kpi(reader, workspace, args.name, args.period, now=now,
                                    user=args.user, with_names=False)
            except PeriodError as problem:
                raise SettingsError(str(problem)) from None
        out.write(json.dumps(answer_json(answer), indent=2) + "\n")
        return 0
    from storage.engine import Database

    database = Database.from_url(settings.database_url)
    try:
        with database.read() as session:
            workspace = pick_workspace(session, args.workspace)
            if not args.json:  # JSON keys and values are the same in every language
                lang = lang or digest_language(session, workspace.id)
            try:
                answer = answer_kpi(session, workspace, args.name, args.period, now=now,
                                    user=args.user, with_names=not args.json)
            except PeriodError as problem:
                raise SettingsError(str(problem)) from None
    finally:
        database.dispose()
    if args.json:
        out.write(json.dumps(answer_json(answer), indent=2) + "\n")
        return 0
    from bot.handlers.kpis import render_answer  # only the text form needs the replies
    from reports.i18n import translator

    out.write(render_answer(answer, translator(lang)).plain_text() + "\n")
    return 0


def digest_language(session, workspace_id: str) -> str:
    """The one language the workspace's digests are posted in, else English."""
    from storage.digests import list_schedules

    languages = {s.language for s in list_schedules(session=session, workspace_id=workspace_id,
                                                    enabled_only=True)}
    return languages.pop() if len(languages) == 1 else "en"


def catalog_lines(t: Translator) -> list[str]:
    """`kpibot kpi list`: a line per KPI, `name  Title — formula`, in the language of `t`."""
    from bot.handlers.kpis import formula_text
    from reports.kpis.catalog import CATALOG

    return [f"{spec.name:24} {t.gettext(spec.title)} — {formula_text(spec, t)}\n"
            for spec in CATALOG.values()]


def listing_language(args: argparse.Namespace, settings: Settings) -> str:
    """The language of `kpibot kpi list` without `--lang`: the workspace's digest language
    (`--workspace`, or the database's only workspace) as for a KPI, else English. The listing
    needs no database: one not created yet, out of reach or not at the current schema, or one
    with no single workspace to read, means English."""
    import sqlite3  # a SQLite file's revision is read with it (storage/lite.py)

    import sqlalchemy as sa

    from bot.cli.shared import pick_workspace
    from bot.settings import SettingsError
    from storage import migrate
    from storage.engine import Database

    url = settings.database_url
    sqlite_file = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if sqlite_file is not None and not Path(sqlite_file).exists():
        return "en"  # connecting would create the file
    try:
        if not migrate.is_at_head(url):
            return "en"
    except (sa.exc.OperationalError, sqlite3.OperationalError):  # unreachable: listed anyway
        return "en"
    database = Database.from_url(url)
    try:
        with database.read() as session:
            try:
                workspace = pick_workspace(session, args.workspace)
            except SettingsError:
                if args.workspace:
                    raise  # the workspace asked for is not there
                return "en"  # no workspace yet, or several and none chosen
            return digest_language(session, workspace.id)
    finally:
        database.dispose()

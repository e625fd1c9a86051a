"""`kpibot import` and `kpibot export`: the command-line side of CSV import and export.

`add_parser(subparsers)` adds both subcommands to the CLI's argparse subparsers; `run(args,
settings)` runs the one chosen and returns the exit status (0 done, 1 refused / bad rows,
2 usage or setup problem). Formats: bot/transfer/ (presets, importer, export).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.transfer.presets import DEAL_FIELDS, EXPORT_COLUMNS, PRESETS

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.transfer.importer import ImportResult

MAX_PROBLEMS_SHOWN = 50

IMPORT_EPILOG = f"""\
formats:
  events  {','.join(EXPORT_COLUMNS[:11])}
          (+ optional {','.join(EXPORT_COLUMNS[11:])}); required: occurred_at, event, user
  deals   one row per deal; fields for --map: {', '.join(DEAL_FIELDS)}
presets: {', '.join(f'{name} ({p.title})' for name, p in PRESETS.items())}

examples:
  kpibot import history.csv --workspace slack:T0123 --dry-run
  kpibot import deals.csv --workspace slack:T0123 --preset hubspot
  kpibot import opps.csv --workspace slack:T0123 --format deals --map "Opp Ref=id" \\
      --map "Rep=owner" --stage "Verbal Commit=demo" --date-format dmy
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `import` and `export` to the `kpibot` subcommands."""
    imp = subparsers.add_parser(
        "import", help="import a CSV file of events or CRM deals",
        description="Import a CSV file into a workspace, in one transaction. Every bad row is "
        "reported with its line number; by default a file with a bad row stores nothing.",
        epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("file", metavar="FILE", help="the CSV file (- reads standard input)")
    imp.add_argument("--workspace", "-w", required=True,
                     help="workspace id, e.g. slack:T0123 (created when new)")
    imp.add_argument("--format", choices=("events", "deals"), default=None,
                     help="events (default) or deals (implied by --preset)")
    imp.add_argument("--preset", choices=sorted(PRESETS), help="column names of a CRM export")
    imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                     help="read COLUMN as FIELD (repeatable; COLUMN=- ignores a column)")
    imp.add_argument("--stage", action="append", default=[], metavar="CRM_STAGE=STAGE",
                     help="map a CRM stage to lead|mql|sql|opportunity|demo|won|lost")
    imp.add_argument("--source", action="append", default=[], metavar="CRM_SOURCE=GROUP",
                     help="map a CRM lead source to direct|organic|social|email|partner|"
                          "referral|paid-search|display|other")
    imp.add_argument("--date-format", metavar="ORDER|PATTERN",
                     help="dmy (day first), mdy (month first) or a pattern like %%d/%%m/%%Y")
    imp.add_argument("--decimal", choices=(".", ","), help="decimal mark of the amounts")
    imp.add_argument("--delimiter", metavar="CHAR", help=", ; or tab (default: sniffed)")
    imp.add_argument("--encoding", default="utf-8-sig", help="text encoding (default UTF-8)")
    imp.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
    imp.add_argument("--skip-bad", action="store_true",
                     help="store the good rows and report the bad ones")
    imp.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    exp = subparsers.add_parser(
        "export", help="export events as the canonical CSV",
        description="Write a workspace's events as CSV: " + ",".join(EXPORT_COLUMNS) + ".")
    exp.add_argument("--workspace", "-w", help="workspace id (default: the only one)")
    exp.add_argument("--period", "-p", help="only this period, e.g. 2026-Q3, last-month")
    exp.add_argument("--output", "-o", default="-", metavar="FILE",
                     help="write to FILE (default: standard output)")
    exp.add_argument("--include-void", action="store_true", help="include voided events")
    exp.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    for parser in (imp, exp):
        parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, *, stdout: TextIO | None = None,
        stderr: TextIO | None = None, now: datetime | None = None) -> int:
    """Run `kpibot import` or `kpibot export`; returns the exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    from storage import migrate

    if not migrate.is_at_head(settings.database_url):
        print("kpibot: the database schema is not up to date: run kpibot db upgrade", file=err)
        return 2
    from storage.engine import Database

    database = Database.from_url(settings.database_url)
    try:
        if args.command == "import":
            return _import(args, settings, database, out, err, now)
        if args.command == "export":
            return _export(args, database, out, err, now)
        raise AssertionError(args.command)
    finally:
        database.dispose()


# --- import ------------------------------------------------------------------------------------


def _import(args, settings, database, out: TextIO, err: TextIO, now: datetime | None) -> int:
    from bot.transfer.columns import parse_mapping, parse_source_map, parse_stage_map
    from bot.transfer.importer import ImportOptions, import_csv
    from bot.transfer.problems import ImportRefused

    delimiter = args.delimiter
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(
            delimiter.lower(), delimiter)
        if delimiter not in (",", ";", "\t"):
            print("kpibot import: --delimiter must be , ; or tab", file=err)
            return 2
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if args.quiet:
            return
        share = f" ({done / total:.0%})" if total else ""
        print(f"kpibot import: {done:,} of {total:,} rows{share}, "
              f"{time.perf_counter() - started:.1f} s", file=err, flush=True)

    try:
        options = ImportOptions(
            workspace_id=args.workspace,
            format=args.format or ("deals" if args.preset else "events"),
            mapping=parse_mapping(args.map),
            preset=args.preset,
            stage_map=parse_stage_map(args.stage),
            source_map=parse_source_map(args.source),
            dry_run=args.dry_run,
            skip_bad=args.skip_bad,
            date_format=args.date_format,
            decimal=args.decimal,
            delimiter=delimiter,
            encoding=args.encoding,
            timezone=settings.timezone,
            currency=settings.currency,
            fiscal_year_start=settings.fiscal_year_start,
        )
        with _input_file(args.file) as path:
            result = import_csv(database=database, path=path, options=options, now=now,
                                progress=progress)
    except ImportRefused as error:
        print(f"kpibot import: {error}; nothing was stored", file=err)
        return 1
    except LookupError as error:  # an unknown --encoding
        print(f"kpibot import: {error}", file=err)
        return 2
    _report(args.file, result, out, err)
    if result.refused or (result.dry_run and result.problems):
        return 1
    return 0


@contextlib.contextmanager
def _input_file(name: str) -> Iterator[Path]:
    if name != "-":
        yield Path(name)
        return
    with tempfile.NamedTemporaryFile(prefix="kpibot-import-", suffix=".csv",
                                     delete=False) as handle:
        shutil.copyfileobj(sys.stdin.buffer, handle)
    try:
        yield Path(handle.name)
    finally:
        os.unlink(handle.name)


def _report(name: str, result: ImportResult, out: TextIO, err: TextIO) -> None:
    from reports.events import UNASSIGNED_NAME, UNASSIGNED_USER
    from storage.reps import is_named_rep

    for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
        print(str(problem), file=err)
    hidden = len(result.problems) - MAX_PROBLEMS_SHOWN
    if hidden > 0:
        print(f"... and {hidden:,} more bad rows", file=err)
    for note in result.notes:
        print(f"note: {note}", file=out)
    bad = len(result.problems)
    rate = f", {result.rows / result.seconds:,.0f} rows/s" if result.seconds > 0 else ""
    if result.refused:
        print(f"kpibot import: {bad:,} bad row{'s' if bad != 1 else ''} in {name}; nothing was "
              "stored (fix them, or pass --skip-bad to import the other rows)", file=err)
        return
    counts = (f"{result.rows:,} rows, {result.events:,} events: ")
    if result.dry_run:
        new = result.events - result.already_stored
        print(f"dry run of {name} ({result.format}): {counts}{new:,} would be added, "
              f"{result.already_stored:,} already stored"
              + (f", {bad:,} bad rows" if bad else "") + "; nothing was stored", file=out)
    else:
        print(f"imported {name} ({result.format}) into {result.workspace_id}: {counts}"
              f"{result.added:,} added, {result.already_stored:,} already stored "
              f"({result.seconds:.1f} s{rate})", file=out)
        if bad:
            lines = ", ".join(str(line) for line in result.skipped_lines[:30])
            more = " ..." if bad > 30 else ""
            print(f"skipped {bad:,} bad row{'s' if bad != 1 else ''} (lines {lines}{more})",
                  file=out)
    if result.deal_outcomes:
        o = result.deal_outcomes
        print(f"deals in this file after the import: {o['won']:,} won, {o['lost']:,} lost, "
              f"{o['open']:,} open", file=out)
    if result.changed_outcomes:
        changed = result.changed_outcomes
        shown = ", ".join(f"{deal} {old} → {new}" for deal, old, new in changed[:20])
        more = " ..." if len(changed) > 20 else ""
        print(f"{len(changed):,} deal{'s' if len(changed) != 1 else ''} changed outcome: "
              f"{shown}{more}", file=out)
    if result.unassigned:
        verb = "would be" if result.dry_run else "were"
        print(f"{result.unassigned:,} event{'s' if result.unassigned != 1 else ''} without a "
              f"rep {verb} credited to the team (shown as {UNASSIGNED_NAME})", file=out)
    named = [(uid, name) for uid, name in result.new_users
             if is_named_rep(uid) and uid != UNASSIGNED_USER]
    others = [(uid, name) for uid, name in result.new_users if not is_named_rep(uid)]
    if named:
        verb = "would be" if result.dry_run else "were"
        shown = ", ".join(f"{uid} ({name})" for uid, name in named[:20])
        more = " ..." if len(named) > 20 else ""
        print(f"{len(named)} people not matched to a chat user {verb} kept as named reps: "
              f"{shown}{more} (link them with /kpi rep link)", file=out)
    if others:
        verb = "would be" if result.dry_run else "were"
        shown = ", ".join(f"{uid} ({name})" if name else uid for uid, name in others[:20])
        more = " ..." if len(others) > 20 else ""
        print(f"{len(others)} users from the user_id column {verb} added: {shown}{more}",
              file=out)


# --- export ------------------------------------------------------------------------------------


def _export(args, database, out: TextIO, err: TextIO, now: datetime | None) -> int:
    from bot.transfer.export import export_events
    from storage.models import Workspace

    now = now or datetime.now(UTC)
    with database.read() as session:
        if args.workspace:
            workspace = session.get(Workspace, args.workspace)
            if workspace is None:
                print(f"kpibot export: there is no workspace {args.workspace}", file=err)
                return 2
        else:
            from sqlalchemy import select

            workspaces = session.scalars(select(Workspace).order_by(Workspace.id).limit(6)).all()
            if len(workspaces) != 1:
                names = ", ".join(w.id for w in workspaces[:5]) or "none"
                print("kpibot export: pass --workspace (workspaces: " + names + ")", file=err)
                return 2
            workspace = workspaces[0]
    start = end = None
    if args.period:
        from reports.periods import PeriodError, parse_period

        try:
            period = parse_period(args.period, now=now, tz=workspace.timezone,
                                  fiscal_year_start=workspace.fiscal_year_start)
        except PeriodError as error:
            print(f"kpibot export: {error}", file=err)
            return 2
        start, end = period.start, period.end
    started = time.perf_counter()
    next_report = [100_000]

    def progress(done: int) -> None:
        if not args.quiet and args.output != "-" and done >= next_report[0]:
            next_report[0] += 100_000
            print(f"kpibot export: {done:,} rows, {time.perf_counter() - started:.1f} s",
                  file=err, flush=True)

    kwargs = {"database": database, "workspace_id": workspace.id,
              "currency": workspace.currency, "start": start, "end": end,
              "include_void": args.include_void, "progress": progress}
    if args.output == "-":
        try:
            rows = export_events(out=out, **kwargs)
            out.flush()
        except BrokenPipeError:  # `kpibot export | head`: the reader has had enough
            devnull = os.open(os.devnull, os.O_WRONLY)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, out.fileno())
            return 0
    else:
        target = Path(args.output)
        partial = target.with_name(target.name + ".partial")
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            rows = export_events(out=handle, **kwargs)
        partial.replace(target)
    if args.output != "-":
        print(f"exported {rows:,} events of {workspace.id} to {args.output} "
              f"({time.perf_counter() - started:.1f} s)", file=err)
    return 0

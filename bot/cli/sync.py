"""`kpibot sync hubspot --workspace W` and `kpibot sync status`: CRM sync from the command line.

`sync hubspot` pulls the deals changed since the last run (the first run: every deal) into the
workspace (created when new), with the workspace's token from KPIBOT_HUBSPOT_TOKENS.
`--stage "LABEL=STAGE"` and `--source "LABEL=GROUP"` map a HubSpot stage or lead source the
sync did not know, for this and every later run (kept with the workspace), and make this run
read every deal again. `--full` reads every deal again. `sync status` shows each workspace's
last run, its counts, the cursor and any error, in words. See README "HubSpot sync".
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rest is imported when a sync runs: `kpibot --help` stays quick
    from bot.settings import Settings
    from bot.sync.hubspot import HubSpotClient
    from bot.sync.runner import SyncReport
    from storage.engine import Database
    from storage.models import CrmSync

CRM = "hubspot"


def add_parser(commands) -> None:
    """Add `sync` with its actions to the `kpibot` subcommands."""
    sync = commands.add_parser("sync", help="pull deals from a CRM (HubSpot) now, or its status",
                               description=__doc__.split("\n\n")[0])
    actions = sync.add_subparsers(dest="sync_command", required=True, metavar="ACTION")
    hubspot = actions.add_parser("hubspot", help="pull the deals changed since the last sync",
                                 description=__doc__.split("\n\n")[1])
    hubspot.add_argument("--workspace", "-w", required=True,
                         help="workspace id, e.g. slack:T0123 (created when new)")
    hubspot.add_argument("--stage", action="append", default=[], metavar="LABEL=STAGE",
                         help="map a HubSpot stage (label, PIPELINE/LABEL or id) to lead, mql, "
                              "sql, opportunity, demo, won or lost; kept for later runs")
    hubspot.add_argument("--source", action="append", default=[], metavar="LABEL=GROUP",
                         help="map a HubSpot lead source to a kpibot source group; kept")
    hubspot.add_argument("--full", action="store_true", help="read every deal again")
    status = actions.add_parser("status", help="last run, counts, cursor and errors")
    status.add_argument("--workspace", "-w", help="only this workspace")
    sync.set_defaults(run=run, needs_schema=needs_schema)


def needs_schema(args: argparse.Namespace) -> bool:
    return True


def run(args: argparse.Namespace, settings: Settings, *, out=None, err=None,
        client: HubSpotClient | None = None, now=None) -> int:
    from bot.settings import SettingsError
    from bot.sync.hubspot import HubSpotClient
    from bot.sync.runner import SyncFailed, sync_hubspot
    from storage.crm_sync import SyncBusy, find_syncs
    from storage.engine import Database

    out, err = out or sys.stdout, err or sys.stderr
    clock = now or (lambda: datetime.now(UTC))
    database = Database.from_url(settings.database_url)
    try:
        if args.sync_command == "status":
            with database.read() as session:
                rows = find_syncs(session, args.workspace)
            out.write(format_status(rows, clock()))
            return 0
        token = settings.hubspot_token(args.workspace)
        client = client or HubSpotClient(token, base_url=settings.hubspot_api_url)
        full = _prepare(database, args, settings, err, clock())
        try:
            report = sync_hubspot(database=database, workspace_id=args.workspace, client=client,
                                  clock=clock, full=full or args.full)
        except SyncBusy as busy:
            raise SettingsError(str(busy)) from None
        except SyncFailed as failed:
            err.write(f"kpibot: the HubSpot sync of {args.workspace} stopped: {failed}; what "
                      "it stored stays, and the next run resumes from there\n")
            return 1
        out.write(format_report(report))
        return 0
    finally:
        database.dispose()


def _prepare(database: Database, args, settings: Settings, err, now: datetime) -> bool:
    """Create the workspace when new and keep new mappings; True when they changed (every deal
    is read again)."""
    from bot.settings import SettingsError
    from bot.sync.runner import ensure_sync_workspace
    from bot.transfer.columns import parse_source_map, parse_stage_map
    from bot.transfer.problems import ImportRefused
    from storage.crm_sync import read_map, sync_row, write_map

    try:
        stages, sources = parse_stage_map(args.stage), parse_source_map(args.source)
    except ImportRefused as problem:
        raise SettingsError(str(problem)) from None
    if ensure_sync_workspace(database, args.workspace, timezone=settings.timezone,
                             currency=settings.currency,
                             fiscal_year_start=settings.fiscal_year_start, now=now):
        err.write(f"workspace {args.workspace} created (time zone {settings.timezone}, "
                  f"currency {settings.currency})\n")
    if not stages and not sources:
        return False
    with database.write() as session:
        row = sync_row(session, args.workspace, CRM, lock=True)
        row.stage_map = write_map({**read_map(row.stage_map), **stages})
        row.source_map = write_map({**read_map(row.source_map), **sources})
        session.add(row)
    return True


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_report(report: SyncReport) -> str:
    from bot.sync.runner import describe_unmapped

    voided = ""
    if report.events_voided:
        causes = ", ".join(f"{reason} {count:,}" for reason, count
                           in sorted(report.voided_by_reason.items()))
        voided = f", {_plural(report.events_voided, 'event')} voided ({causes})"
    lines = [f"HubSpot synced into {report.workspace_id}: {_plural(report.deals_read, 'deal')} "
             f"read, {_plural(report.events_added, 'event')} added{voided}"]
    unmapped = describe_unmapped(report)
    if unmapped:
        lines.append(f"not mapped: {unmapped}")
    lines.append(f"next run reads deals changed since {_when(report.cursor)}"
                 if report.cursor else "next run reads every deal")
    return "\n".join(lines) + "\n"


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never"


def format_status(rows: list[CrmSync], now: datetime) -> str:
    from storage.crm_sync import read_map

    if not rows:
        return ("no CRM sync has run yet (kpibot sync hubspot --workspace W; README "
                "\"HubSpot sync\")\n")
    blocks = []
    for row in rows:
        if row.status == "running":
            live = row.lease_expires_at is not None and row.lease_expires_at > now
            state = (f"running since {_when(row.started_at)}" if live else
                     f"interrupted (started {_when(row.started_at)}; the next run resumes "
                     "from the cursor)")
        elif row.status == "never":
            state = "never run"
        else:
            state = (f"last run {_when(row.started_at)} to {_when(row.finished_at)}: "
                     + ("succeeded" if row.status == "ok" else f"failed: {row.error}"))
        lines = [f"{row.workspace_id} ({'HubSpot' if row.crm == CRM else row.crm}): {state}"]
        if row.status != "never":
            lines.append(f"  {_plural(row.deals_read, 'deal')} read, "
                         f"{_plural(row.events_added, 'event')} added, "
                         f"{_plural(row.events_voided, 'event')} voided, "
                         f"{_plural(row.deals_left_out, 'deal')} left out")
        lines.append("  cursor: " + (f"deals changed since {_when(row.cursor_at)}"
                                     if row.cursor_at else "none (the next run reads every deal)"))
        if row.unmapped:
            lines.append(f"  not mapped: {row.unmapped}")
        mapped = [f'stage "{k}" → {v}' for k, v in read_map(row.stage_map).items()]
        mapped += [f'source "{k}" → {v}' for k, v in read_map(row.source_map).items()]
        if mapped:
            lines.append("  own mappings: " + ", ".join(mapped))
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"

"""`kpibot digest preview|send|status` and `kpibot scheduler`.

- `kpibot digest preview [--workspace W] [--channel C] [--cadence weekly|monthly]
  [--lang xx] [--timezone TZ] [--format text|slack|teams] [--at ISO-TIME]`: render a digest to
  the terminal — a channel's configured digest, or any cadence/language you ask for.
- `kpibot digest send --channel C [--workspace W] [--platform slack|teams]`: post that
  channel's digest now (a manual slot in the ledger, same retries as scheduled ones).
- `kpibot digest status [--workspace W] [--limit N]`: the schedules and the latest deliveries.
- `kpibot scheduler`: run only the digest scheduler (no HTTP server).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reports.languages import LANGUAGES

if TYPE_CHECKING:
    from bot.settings import Settings


def add_parser(commands) -> None:
    digest = commands.add_parser("digest", help="render, send or inspect digests",
                                 description=__doc__.splitlines()[0])
    actions = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    preview = actions.add_parser("preview", help="render a digest to the terminal")
    preview.add_argument("--workspace", help="workspace id (needed when there are several)")
    preview.add_argument("--channel", help="the channel whose configured digest to render")
    preview.add_argument("--cadence", choices=("weekly", "monthly"))
    preview.add_argument("--lang", choices=LANGUAGES)
    preview.add_argument("--timezone", help="IANA time zone (default: the schedule's or "
                                            "the workspace's)")
    preview.add_argument("--format", choices=("text", "slack", "teams"), default="text")
    preview.add_argument("--at", help="render as if it were this instant (ISO 8601)")
    send = actions.add_parser("send", help="post a channel's digest now")
    send.add_argument("--channel", required=True)
    send.add_argument("--workspace")
    send.add_argument("--platform", choices=("slack", "teams"))
    status = actions.add_parser("status", help="schedules and the latest deliveries")
    status.add_argument("--workspace")
    status.add_argument("--limit", type=int, default=20)
    digest.set_defaults(run=run, needs_schema=needs_schema)
    scheduler = commands.add_parser(
        "scheduler", help="run only the digest scheduler",
        description="Run only the digest scheduler (no HTTP server); any number may run on "
                    "one PostgreSQL database.")
    scheduler.set_defaults(run=run, needs_schema=needs_schema)


def needs_schema(args: argparse.Namespace) -> bool:
    return True


def _now(text: str | None) -> datetime:
    from bot.settings import SettingsError

    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"--at {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _find_schedule(session, workspace_id: str | None, channel: str,
                   platform: str | None):
    from bot.settings import SettingsError
    from storage import digests as ledger

    matches = [s for s in ledger.list_schedules(session=session, workspace_id=workspace_id)
               if s.answers_to(channel)]
    if platform:
        matches = [s for s in matches if s.platform == platform]
    if not matches:
        raise SettingsError(f"no digest schedule for channel {channel!r} "
                            "(an admin sets one with /kpi digest here)")
    if len(matches) > 1:
        raise SettingsError(f"channel {channel!r} is in several workspaces: add --workspace")
    return matches[0]


def run(args: argparse.Namespace, settings: Settings, *, out=sys.stdout) -> int:
    if args.command == "scheduler":
        return _scheduler(settings)
    if args.digest_command == "preview":
        return _preview(args, settings, out)
    if args.digest_command == "send":
        return _send(args, settings, out)
    return _status(args, settings, out)


def _preview(args, settings: Settings, out) -> int:
    from bot.cli.shared import pick_workspace
    from bot.digests.compose import compose_preview
    from bot.settings import SettingsError
    from reports.digest.render import render_slack, render_teams_card, render_text
    from storage.engine import Database

    database = Database.from_url(settings.database_url)
    try:
        with database.read() as session:
            schedule = (_find_schedule(session, args.workspace, args.channel, None)
                        if args.channel else None)
            workspace = pick_workspace(session, schedule.workspace_id if schedule
                                       else args.workspace)
        if args.timezone:
            try:
                ZoneInfo(args.timezone)
            except (KeyError, ValueError):
                raise SettingsError(f"--timezone {args.timezone!r} is not an IANA time "
                                    "zone") from None
        digest = compose_preview(database=database, workspace=workspace, schedule=schedule,
                                 now=_now(args.at), cadence=args.cadence, language=args.lang,
                                 timezone=args.timezone)
    finally:
        database.dispose()
    if args.format == "slack":
        out.write(json.dumps(render_slack(digest), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "teams":
        out.write(json.dumps(render_teams_card(digest), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(render_text(digest) + "\n")
    return 0


def _send(args, settings: Settings, out) -> int:
    import asyncio

    from bot.wiring import build_bot

    bot = build_bot(settings)
    try:
        with bot.database.read() as session:
            schedule = _find_schedule(session, args.workspace, args.channel, args.platform)
        scheduler = bot.build_digest_scheduler()
        slot = bot.context.now().replace(microsecond=0)
        outcome = asyncio.run(scheduler.deliverer.deliver_slot(schedule, slot,
                                                               trigger="manual"))
    finally:
        bot.database.dispose()
    out.write(f"digest for {schedule.where}: {outcome.status}"
              + (f" after {outcome.attempts} attempt(s)" if outcome.attempts else "")
              + (f" — {outcome.error}" if outcome.error else "") + "\n")
    return 0 if outcome.status == "sent" else 1


def _status(args, settings: Settings, out) -> int:
    from bot.digests.status import INTERRUPTED_RULE, delivery_detail, rule_of
    from storage import digests as ledger
    from storage.engine import Database

    database = Database.from_url(settings.database_url)
    now = datetime.now(UTC)
    try:
        with database.read() as session:
            schedules = ledger.list_schedules(session=session, workspace_id=args.workspace)
            deliveries = ledger.list_deliveries(session=session, workspace_id=args.workspace,
                                                limit=args.limit)
    finally:
        database.dispose()
    by_id = {s.id: s for s in schedules}
    out.write(f"{len(schedules)} schedule(s)\n")
    for s in schedules:
        rule = rule_of(s)
        state = (f"next {rule.next_slot(now).astimezone(ZoneInfo(s.timezone)):%Y-%m-%d %H:%M}"
                 if s.enabled else "off")
        out.write(f"  #{s.id} {s.workspace_id} {s.platform} {s.where}: "
                  f"{rule.describe()}, {s.language}, owner {s.owner_id}, {state}\n")
    out.write(f"{len(deliveries)} latest deliveries ({INTERRUPTED_RULE})\n")
    for d in deliveries:
        s = by_id.get(d.schedule_id)
        where = s.where if s else f"schedule {d.schedule_id}"
        detail = delivery_detail(d)
        out.write(f"  {d.slot_at:%Y-%m-%d %H:%M}Z {where} {d.status} ({d.trigger}) "
                  f"attempts={d.attempts} {detail}\n".rstrip() + "\n")
    return 0


def _scheduler(settings: Settings) -> int:
    import asyncio

    from bot.wiring import build_bot

    bot = build_bot(settings)

    async def run_forever() -> None:
        from bot.cli.shutdown import Shutdown

        scheduler = bot.build_digest_scheduler()
        # SIGTERM or SIGINT: the digests in flight finish or are handed back, as in serve
        shutdown = Shutdown(settings.shutdown_grace, on_request=scheduler.pause)
        shutdown.install()
        await scheduler.start()
        sync_job = bot.build_sync_job()  # HubSpot, when KPIBOT_HUBSPOT_TOKENS is set
        if sync_job is not None:
            await sync_job.start()
        try:
            await shutdown.requested.wait()
            shutdown.stopped(await shutdown.drain_digests(scheduler))
        finally:
            await scheduler.stop()

    try:
        asyncio.run(run_forever())
    except KeyboardInterrupt:
        pass
    finally:
        bot.database.dispose()
    return 0

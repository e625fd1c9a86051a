"""`kpibot serve`: the bot over HTTP (or Slack Socket Mode) with the digest scheduler."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("kpibot")


def add_parser(commands) -> None:
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
    serve.add_argument("--chart-process", action="store_true",
                       help="draw the digests' charts in a child process (the second core; "
                            "~20 MiB more memory than drawing them in the server)")
    serve.set_defaults(run=run, collector_off=True)  # on once ready: freeze_startup_objects


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.cli.shared import require_schema
    from storage import migrate

    if args.socket_mode:
        settings.require_socket_mode()
    elif not settings.teams_app_id:
        settings.require_slack_http()
    if args.migrate:
        migrate.upgrade(settings.database_url)
    else:
        require_schema(settings)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    cap_malloc_arenas()
    from bot.digests.malloc import fix_malloc_thresholds

    fix_malloc_thresholds()
    if args.workers > 1 and not args.socket_mode:
        from bot.cli.workers import serve_workers

        return serve_workers(lambda: _charts_by(serving_bot(settings), args), host=host,
                             port=port, workers=args.workers, scheduler=not args.no_scheduler,
                             grace=settings.shutdown_grace)
    from storage.checkpoints import WalCheckpointer

    bot = _charts_by(serving_bot(settings), args)
    try:
        with WalCheckpointer(bot.database.engine):
            asyncio.run(_serve_async(bot, host=host, port=port, socket_mode=args.socket_mode,
                                     scheduler=not args.no_scheduler))
    except KeyboardInterrupt:  # before the signal handlers (bot/cli/shutdown.py) were set
        log.info("stopped")
    return 0


def _charts_by(bot, args: argparse.Namespace):
    """`bot`, drawing its digest charts in a child process when asked (`--chart-process`)."""
    bot.chart_process = bool(getattr(args, "chart_process", False))
    return bot


def serving_bot(settings: Settings):
    """The bot as `kpibot serve` runs it: SQLite commits leave the WAL's checkpoints to a
    `WalCheckpointer` thread (storage/checkpoints.py) up to a high-water mark."""
    from bot.wiring import build_bot
    from storage.checkpoints import SERVE_AUTOCHECKPOINT_PAGES
    from storage.engine import Database

    return build_bot(settings, database=Database.from_url(
        settings.database_url, wal_autocheckpoint=SERVE_AUTOCHECKPOINT_PAGES))


async def _serve_async(bot, *, host: str, port: int, socket_mode: bool,
                       scheduler: bool = True) -> None:
    """Listen first, then start the digest scheduler (and the HubSpot sync): GET /healthz
    answers once commands are served (Slack, Teams, the events API) by a database at the
    current schema. The scheduler (its modules, APScheduler and delivery, imported on a thread
    while the loop answers, then its start: ~6% of start-up) follows at once; a digest sent
    before it runs waits for it (bot/digests/handle.py). A scheduler that cannot start stops
    the server, as before. SIGTERM or SIGINT stops it gracefully (bot/cli/shutdown.py)."""
    import asyncio

    from bot.cli.shutdown import Shutdown
    from bot.server import build_web_app, run_web_app, slack_over_http

    shutdown = Shutdown(bot.settings.shutdown_grace, on_request=lambda: _pause_digests(bot))
    shutdown.install()
    tasks = []
    if socket_mode:
        from bot.slack.socket_mode import run_socket_mode

        tasks.append(asyncio.create_task(run_socket_mode(
            bot.slack_app, bot.settings.slack_app_token.get_secret_value(),
            stop=shutdown.requested, drain_seconds=shutdown.request_drain)))
    slack_app = slack_over_http(bot.slack_app, bot.slack_signing_secret, socket_mode=socket_mode)
    web_app = build_web_app(database=bot.database, slack_app=slack_app,
                            slack_signing_secret=bot.slack_signing_secret, teams=bot.teams,
                            api=bot.api)
    if scheduler:
        bot.digests.expect()
    freeze_startup_objects()
    listening = asyncio.Event()
    server = asyncio.create_task(run_web_app(web_app, host=host, port=port, ready=listening,
                                             stop=shutdown.requested,
                                             drain_seconds=shutdown.request_drain))
    tasks.append(server)
    if scheduler:
        tasks.append(asyncio.create_task(_start_scheduler(bot, server, listening)))
    await asyncio.gather(*tasks)  # the server returns once stopped and its requests answered
    follow_ups = await shutdown.drain_follow_ups(bot.slack_app, bot.teams)
    digests = await shutdown.drain_digests(bot.digests.scheduler if scheduler else None)
    shutdown.stopped("requests in flight answered", follow_ups, digests)


def _pause_digests(bot) -> None:
    """No digest job fires once the server is stopping (bot/cli/shutdown.py)."""
    if bot.digests is not None and bot.digests.scheduler is not None:
        bot.digests.scheduler.pause()


async def _start_scheduler(bot, server, listening) -> None:
    """The digest scheduler and the HubSpot sync, once the server listens (nothing if the
    server ended first: it could not listen)."""
    import asyncio

    heard = asyncio.ensure_future(listening.wait())
    await asyncio.wait({heard, server}, return_when=asyncio.FIRST_COMPLETED)
    if not listening.is_set():
        heard.cancel()
        bot.digests.settled()
        return
    try:
        await asyncio.to_thread(_import_scheduler)  # the event loop keeps answering meanwhile
        await bot.build_digest_scheduler().start()
        sync_job = bot.build_sync_job()  # HubSpot, when KPIBOT_HUBSPOT_TOKENS is set
        if sync_job is not None:
            await sync_job.start()
    finally:
        bot.digests.settled()
    gc.freeze()  # the scheduler's modules join start-up's objects (freeze_startup_objects)


def _import_scheduler() -> None:
    import bot.digests.channels
    import bot.digests.delivery
    import bot.digests.scheduler
    import bot.digests.shared  # noqa: F401


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (MALLOC_ARENA_MAX=2) before any thread starts; whether it
    was done. glibc gives each thread that contends for memory an arena of its own, up to 8
    per core, and memory freed in one stays there: the digest fan-out's worker threads
    (compositions, charts) left the server about 14 MiB larger (212 against 198 MiB peak
    over 1,000 channels). A MALLOC_ARENA_MAX the operator set wins; other C libraries
    (musl, macOS) have no such parameter."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc
        return False


def freeze_startup_objects() -> None:
    """Keep what start-up built (modules, the app; ~140k objects, all alive until exit) out of
    the cyclic garbage collector, then turn it on (`kpibot` starts with it off: bot/cli/main.py):
    each of its full collections walked them all and paused whichever command was running for
    50-70 ms, the p99 of /kpi log (benchmarks/). Start-up's garbage is frozen with the rest
    instead of collected: ~1,060 objects, ~110 KiB (mostly the command line's parser), against
    a collection that walked all ~140k objects (~4% of start-up, before the server listened)."""
    gc.freeze()
    gc.enable()

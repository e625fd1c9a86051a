"""The HTTP server: Slack at POST /slack/events, Teams at POST /api/messages, the events API
under /api/v1/ (bot/api/routes.py), health at GET /healthz (aiohttp)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import DBAPIError

from bot.slack.http import MalformedRequest, read_bolt_request
from storage.engine import Database

if TYPE_CHECKING:
    from bot.api.routes import EventsApi
    from bot.teams.app import TeamsBot

log = logging.getLogger(__name__)


def build_web_app(*, database: Database, slack_app: AsyncApp | None = None,
                  teams: TeamsBot | None = None, api: EventsApi | None = None
                  ) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            await asyncio.to_thread(database.ping)
        except DBAPIError:
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response({"ok": True, "database": database.dialect})

    app.router.add_get("/healthz", healthz)

    if slack_app is not None:
        async def slack_events(request: web.Request) -> web.Response:
            try:
                bolt_request = await read_bolt_request(request)
            except MalformedRequest as malformed:  # junk signature headers, unreadable body
                return malformed.response()
            bolt_response = await slack_app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        app.router.add_post("/slack/events", slack_events)

    if teams is not None:
        app.router.add_post("/api/messages", teams.handle_request)
    if api is not None:
        api.mount(app)
    return app


async def run_web_app(app: web.Application, *, host: str, port: int,
                      ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("kpibot listening on http://%s:%s", host, port)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

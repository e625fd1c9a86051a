"""The HTTP server: Slack at POST /slack/events, Teams at POST /api/messages, the events API
under /api/v1/ (bot/api/routes.py), health at GET /healthz (aiohttp).

A refused request is logged as one bounded line (method, path, size, reason), never with its
bytes; a client that goes away mid-request is one INFO line, not an ERROR traceback.
`/healthz` answers 503 within HEALTH_TIMEOUT when the database does not answer (a frozen or
unreachable server), and never has more than one probe waiting on the database.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import DBAPIError

from bot.logs import safe_text
from bot.slack.http import MAX_BODY, MalformedRequest, RequestVerifier, read_bolt_request
from storage.engine import Database

if TYPE_CHECKING:
    from bot.api.routes import EventsApi
    from bot.teams.app import TeamsBot

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 0.8  # seconds: /healthz answers within 1 s


def request_summary(request: web.Request) -> str:
    """`POST /slack/events (123 bytes)`: what may be logged about a request (escaped, bounded)."""
    size = request.content_length if request.content_length is not None else "?"
    return f"{safe_text(request.method, 10)} {safe_text(request.path, 100)} ({size} bytes)"


class DatabaseProbe:
    """`await probe()`: True when the database answered `SELECT 1` within `timeout` seconds.

    A probe still waiting (the server frozen) answers every later call False at once instead
    of starting another thread that would wait too."""

    def __init__(self, database: Database, timeout: float = HEALTH_TIMEOUT) -> None:
        self.database = database
        self.timeout = timeout
        self._pending: asyncio.Future | None = None

    async def __call__(self) -> bool:
        if self._pending is not None and not self._pending.done():
            return False
        self._pending = asyncio.ensure_future(asyncio.to_thread(self.database.ping))
        try:
            await asyncio.wait_for(asyncio.shield(self._pending), self.timeout)
        except (TimeoutError, DBAPIError):
            return False
        return True


class RequestsInFlight:
    """The requests being handled now (a middleware counts them), so that a stopping server
    stops listening and answers them before it closes its connections: aiohttp's own
    shutdown drops the rest of a body still arriving (bot/cli/shutdown.py)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

        @web.middleware
        async def counting(request: web.Request, handler):
            self.count += 1
            self._idle.clear()
            try:
                return await handler(request)
            finally:
                self.count -= 1
                if not self.count:
                    self._idle.set()

        self.middleware = counting

    async def idle(self, timeout: float) -> bool:
        """Whether every request ended within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


IN_FLIGHT = web.AppKey("in_flight", RequestsInFlight)


@web.middleware
async def quiet_disconnects(request: web.Request, handler):
    """A client that disconnects mid-request is logged as one line, not a traceback."""
    try:
        return await handler(request)
    except (ConnectionResetError, asyncio.IncompleteReadError) as error:
        log.info("client went away: %s: %s", request_summary(request), type(error).__name__)
        raise web.HTTPBadRequest() from None


def slack_over_http(slack_app: AsyncApp | None, signing_secret: str | None, *,
                    socket_mode: bool) -> AsyncApp | None:
    """The Slack app to serve at POST /slack/events, or None; the log says why it is off.

    Never without the signing secret: an unsigned request must not reach a listener."""
    if slack_app is None:
        return None
    if socket_mode:
        log.info("Slack over Socket Mode: POST /slack/events is off (Socket Mode does not "
                 "use it)")
        return None
    if not signing_secret:
        log.warning("POST /slack/events is off: SLACK_SIGNING_SECRET is not set and unsigned "
                    "Slack requests are never served (set it, or run kpibot serve "
                    "--socket-mode)")
        return None
    return slack_app


def build_web_app(*, database: Database, slack_app: AsyncApp | None = None,
                  slack_signing_secret: str | None = None,
                  teams: TeamsBot | None = None, api: EventsApi | None = None
                  ) -> web.Application:
    """The aiohttp app; `slack_app` needs `slack_signing_secret` (checked before any parsing)."""
    in_flight = RequestsInFlight()
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[in_flight.middleware, quiet_disconnects])
    app[IN_FLIGHT] = in_flight
    probe = DatabaseProbe(database)

    async def healthz(_request: web.Request) -> web.Response:
        if not await probe():
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response({"ok": True, "database": database.dialect})

    app.router.add_get("/healthz", healthz)

    if slack_app is not None:
        if not slack_signing_secret:
            raise ValueError("the Slack endpoint needs the signing secret")
        verifier = RequestVerifier(slack_signing_secret)

        async def slack_events(request: web.Request) -> web.Response:
            try:
                bolt_request = await read_bolt_request(request, verifier)
            except MalformedRequest as refused:  # unsigned, junk headers, unreadable, too big
                log.info("refused %s: %s", request_summary(request), refused)
                return refused.response()
            bolt_response = await slack_app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        app.router.add_post("/slack/events", slack_events)

    if teams is not None:
        app.router.add_post("/api/messages", teams.handle_request)
    if api is not None:
        api.mount(app)
    return app


async def run_web_app(app: web.Application, *, host: str, port: int,
                      ready: asyncio.Event | None = None,
                      sock: socket.socket | None = None, stop: asyncio.Event | None = None,
                      drain_seconds: float = 60.0) -> None:
    """Serve until `stop` is set (or until cancelled), on `host:port` or on an already
    listening `sock` (one of the `kpibot serve --workers` processes, bot/cli/workers.py);
    then stop listening and answer the requests already received, for up to
    `drain_seconds` (bot/cli/shutdown.py)."""
    # aiohttp's own shutdown then only waits for the responses being written (the handlers
    # have ended, or were waited for `drain_seconds` already): a bound of its own.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=min(drain_seconds, 2.0))
    await runner.setup()
    site = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    await site.start()
    if sock is None:
        log.info("kpibot listening on http://%s:%s", host, port)
    if ready is not None:
        ready.set()
    try:
        await (stop or asyncio.Event()).wait()
        for listening in list(runner.sites):
            await listening.stop()  # no new connections
        in_flight = app.get(IN_FLIGHT)
        if in_flight is not None and not await in_flight.idle(drain_seconds):
            log.warning("%d request(s) still running %.0f s after the stop: cut off",
                        in_flight.count, drain_seconds)
    finally:
        await runner.cleanup()

"""Slack over Socket Mode: the same Bolt app as over HTTP, fed through a WebSocket.

`kpibot serve --socket-mode` asks Slack's `apps.connections.open` (with the app-level token,
SLACK_APP_TOKEN) for a WebSocket URL and receives every slash command, interactive payload and
event on it as an envelope; no public URL and no signing secret are involved (the connection
itself is authenticated). Every listener registered on the app runs exactly as over HTTP, and
its ack goes back on the socket with the response payload (`{"envelope_id": ..., "payload":
...}`): a `/kpi` reply, a modal's `response_action`, options for a type-ahead.

Reconnecting is slack_sdk's: on Slack's `disconnect` message (refresh_requested, warning,
link_disabled) and on a close frame it asks `apps.connections.open` for a new URL at once; a
connection that dies without a close frame is noticed by the next ping, within `ping_interval`
seconds. An envelope Slack delivers again after a reconnect, or retries, carries the same
payload (the same trigger_id), so the command layer's idempotency key stores it once.

An envelope no listener takes (an event the app does not handle) is still acknowledged: left
unacknowledged Slack would deliver it again and again. A listener that fails is not
acknowledged, so Slack retries it.

A stopping server (`stop`, bot/cli/shutdown.py) stops reading the socket and reconnecting,
lets the envelopes being handled send their acks (bounded), then closes the connection: an
envelope Slack sent that was never handled is unacknowledged, so Slack delivers it again.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.logs import safe_text
from bot.settings import SettingsError

log = logging.getLogger(__name__)

PING_INTERVAL = 10.0  # seconds between pings; a silently dead connection is replaced after it

_REFUSED_TOKEN = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type",
                            "token_revoked", "account_inactive", "missing_scope"})


def envelope_kind(request: SocketModeRequest) -> str:
    """`events_api/app_mention`, `interactive/block_actions`, `slash_commands/kpi`: what an
    envelope is, for one log line (never its content)."""
    payload = request.payload
    event = payload.get("event")
    inner = event.get("type") if isinstance(event, dict) else None
    inner = inner or payload.get("type") or payload.get("command") or "?"
    return safe_text(f"{request.type}/{inner}", 80)


class SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's aiohttp Socket Mode handler, acknowledging envelopes no listener takes and
    logging what Slack says about the connection."""

    def __init__(self, app: AsyncApp, app_token: str, *,
                 ping_interval: float = PING_INTERVAL) -> None:
        # slack_sdk's client logs to Bolt's logger: at most INFO (bot.logs.quiet_chat_sdks),
        # since at DEBUG it logs every frame it receives, payload included.
        super().__init__(app, app_token, ping_interval=ping_interval)
        self.client.on_message_listeners.append(self._on_frame)
        self._handling: set[asyncio.Task] = set()  # envelopes being handled now

    async def drain(self, timeout: float) -> None:
        """Stop reading envelopes (and reconnecting); wait up to `timeout` seconds for those
        being handled to send their acks."""
        for name in ("current_session_monitor", "message_receiver"):
            task = getattr(self.client, name, None)
            if task is not None:
                task.cancel()
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=timeout)

    async def handle(self, client: AsyncBaseSocketModeClient,  # type: ignore[override]
                     req: SocketModeRequest) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
        request = AsyncBoltRequest(mode="socket_mode", body=req.payload,
                                   headers=build_headers(req))
        response = await self.app.async_dispatch(request)
        if response.status == 404:
            log.info("no listener for a %s envelope; acknowledged", envelope_kind(req))
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
        elif response.status != 200:
            log.warning("a %s envelope failed (status %s); not acknowledged, Slack retries it",
                        envelope_kind(req), response.status)
        else:
            await client.send_socket_mode_response(
                SocketModeResponse(req.envelope_id, payload=_ack_payload(response)))

    async def _on_frame(self, frame) -> None:
        """Log Slack's `hello` and `disconnect` messages (slack_sdk acts on them itself)."""
        data = frame.data if isinstance(frame.data, str) else ""
        if '"hello"' not in data and '"disconnect"' not in data:
            return  # an envelope: handled above
        try:
            message = json.loads(data)
        except ValueError:
            return
        if message.get("type") == "hello":
            log.info("connected to Slack over Socket Mode (%s connection(s) open for this app)",
                     safe_text(message.get("num_connections", "?"), 10))
        elif message.get("type") == "disconnect":
            reason = safe_text(message.get("reason", "?"), 40)
            if reason == "link_disabled":
                log.warning("Slack closed the Socket Mode connection: Socket Mode is turned off "
                            "for this app (Settings -> Socket Mode); reconnecting until it is "
                            "turned on again")
            else:
                log.info("Slack asked for a new Socket Mode connection (%s); reconnecting",
                         reason)


async def _first_url(handler: SocketModeHandler) -> None:
    """Ask for the first connection's URL; a token Slack refuses is one clear line, not a
    traceback every `ping_interval` seconds. Any other failure (Slack unreachable) is left to
    slack_sdk, which retries."""
    try:
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as error:
        code = safe_text(error.response.get("error"), 60)
        if code in _REFUSED_TOKEN:
            raise SettingsError(
                f"Slack refused SLACK_APP_TOKEN ({code}): use an app-level token (xapp-...) of "
                "this app with the connections:write scope, and turn Socket Mode on in the "
                "app's settings") from None
        log.warning("apps.connections.open failed (%s); retrying", code)
    except aiohttp.ClientError as error:
        log.warning("cannot reach Slack to open a Socket Mode connection (%s); retrying",
                    type(error).__name__)


def _ack_payload(response) -> dict | None:
    """The listener's answer as the ack's payload (None: a bare ack)."""
    if not response.body:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return json.loads(response.body)
    return {"text": response.body}


async def run_socket_mode(app: AsyncApp, app_token: str, *,
                          ping_interval: float = PING_INTERVAL,
                          connected: asyncio.Event | None = None,
                          stop: asyncio.Event | None = None,
                          drain_seconds: float = 5.0) -> None:
    """Serve `app` over Socket Mode until `stop` is set (then the envelopes being handled
    are answered, up to `drain_seconds`) or until cancelled; `connected` is set once the
    first connection is open."""
    handler = SocketModeHandler(app, app_token, ping_interval=ping_interval)
    try:
        await _first_url(handler)
        await handler.connect_async()
        if connected is not None:
            connected.set()
        await (stop or asyncio.Event()).wait()
        await handler.drain(drain_seconds)
    finally:
        await handler.close_async()

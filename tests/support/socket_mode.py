"""A local stand-in for Slack's side of Socket Mode, for tests.

Slack's flow (https://api.slack.com/apis/socket-mode): the app calls `apps.connections.open`
with its app-level token (xapp-...) and gets a single-use `wss://` URL; on connecting it gets
`{"type": "hello", ...}`, then envelopes `{"envelope_id", "type", "payload",
"accepts_response_payload"}` of type `slash_commands`, `interactive` or `events_api`, each of
which it acknowledges with `{"envelope_id": ..., "payload": ...}` (the payload: a slash
command's reply, a modal's response_action, options). Slack asks for a new connection with
`{"type": "disconnect", "reason": "refresh_requested" | "link_disabled" | "warning"}`, and
delivers again, on the next connection, an envelope it has no ack for.

    with socket_mode_server(slack_api) as slack:          # registers apps.connections.open
        bot = build_bot(settings_with(SLACK_APP_TOKEN=slack.app_token, ...))
        with running_socket_mode(bot):                    # the bot's real Socket Mode client
            ack = slack.deliver(slash_command("log demo-booked acme"))
            assert "Logged" in ack.payload["text"]
            slack.disconnect("refresh_requested")         # or slack.drop(): no close frame
            slack.wait_connections(2)

`apps.connections.open` is answered through the Web API stand-in (tests/support/slack_api.py,
`set_response`): each call hands out a fresh `ws://127.0.0.1:PORT/link/?ticket=...` that
can be used once. The builders below (`slash_command`, `block_actions`, `view_submission`,
`global_shortcut`, `message_shortcut`, `block_suggestion`, `app_home_opened`, `app_mention`)
make envelopes with the payload shapes Slack documents; `http_request(envelope)` turns one into
the body Slack would POST in HTTP mode, so one scripted session runs over both transports.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from tests.support.slack_api import RecordedCall, SlackApiServer
from tests.support.slack_signing import random_trigger_id

APP_TOKEN = "xapp-1-A0001-1234-standin"
WAIT = 30.0  # seconds: bounds a hang, never how fast something must be


# ------------------------------------------------------------------------------ envelopes
def _envelope(kind: str, payload: dict, *, accepts_response_payload: bool) -> dict:
    return {"envelope_id": str(uuid.uuid4()), "type": kind, "payload": payload,
            "accepts_response_payload": accepts_response_payload}


def retry(envelope: dict) -> dict:
    """Slack's retry of `envelope`: a new envelope id, the same payload, `retry_attempt` + 1."""
    again = copy.deepcopy(envelope)
    again["envelope_id"] = str(uuid.uuid4())
    again["retry_attempt"] = int(envelope.get("retry_attempt") or 0) + 1
    again["retry_reason"] = "timeout"
    return again


def _user(user_id: str, team_id: str) -> dict:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
            "team_id": team_id}


def _team(team_id: str) -> dict:
    return {"id": team_id, "domain": "acme"}


def _response_url(kind: str, team_id: str) -> str:
    """A response_url nothing listens on (port 9): pass `slack_api.response_url()` to record
    what the bot sends there."""
    return f"http://127.0.0.1:9/{kind}/{team_id}/1/{secrets.token_hex(8)}"


def slash_command(text: str, *, user_id: str = "U1", team_id: str = "T0001",
                  channel_id: str = "C_SALES", command: str = "/kpi",
                  trigger_id: str | None = None, user_name: str = "alice",
                  response_url: str | None = None) -> dict:
    """A `slash_commands` envelope: the fields of the HTTP form, as strings."""
    return as_envelope({
        "token": "legacy-verification-token", "team_id": team_id, "team_domain": "acme",
        "channel_id": channel_id, "channel_name": "sales", "user_id": user_id,
        "user_name": user_name, "command": command, "text": text, "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url or _response_url("commands", team_id),
        "trigger_id": trigger_id or random_trigger_id()})


def block_actions(action_id: str, value: str, *, user_id: str = "U1", team_id: str = "T0001",
                  channel_id: str = "C_SALES", message: dict | None = None,
                  block_id: str = "actions", response_url: str | None = None) -> dict:
    """An `interactive` envelope: a button clicked in a message."""
    message = message or {"type": "message", "ts": "1764000000.000100", "text": "", "blocks": []}
    return as_envelope({
        "type": "block_actions", "user": _user(user_id, team_id), "api_app_id": "A0001",
        "token": "legacy-verification-token", "trigger_id": random_trigger_id(),
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel_id,
                      "is_ephemeral": False},
        "team": _team(team_id), "enterprise": None, "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "sales"}, "message": message,
        "state": {"values": {}},
        "response_url": response_url or _response_url("actions", team_id),
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value,
                     "type": "button", "text": {"type": "plain_text", "text": action_id},
                     "action_ts": "1764000001.000200"}]})


def view_submission(callback_id: str, values: dict, *, user_id: str = "U1",
                    team_id: str = "T0001", private_metadata: str = "",
                    view_id: str = "V0001") -> dict:
    """An `interactive` envelope: a modal submitted; `values` as `view.state.values` (block id
    → action id → element state)."""
    return as_envelope({
        "type": "view_submission", "team": _team(team_id), "user": _user(user_id, team_id),
        "api_app_id": "A0001", "token": "legacy-verification-token",
        "trigger_id": random_trigger_id(),
        "view": {"id": view_id, "team_id": team_id, "type": "modal", "blocks": [],
                 "private_metadata": private_metadata, "callback_id": callback_id,
                 "state": {"values": values}, "hash": "1764000000.abc",
                 "title": {"type": "plain_text", "text": "kpibot"}, "app_id": "A0001",
                 "bot_id": "B0BOT"},
        "response_urls": [], "is_enterprise_install": False, "enterprise": None})


def global_shortcut(callback_id: str, *, user_id: str = "U1", team_id: str = "T0001") -> dict:
    """An `interactive` envelope: a global shortcut (the lightning menu)."""
    return as_envelope({
        "type": "shortcut", "token": "legacy-verification-token",
        "action_ts": "1764000001.000300", "team": _team(team_id),
        "user": _user(user_id, team_id), "is_enterprise_install": False, "enterprise": None,
        "callback_id": callback_id, "trigger_id": random_trigger_id()})


def message_shortcut(callback_id: str, message_text: str, *, user_id: str = "U1",
                     team_id: str = "T0001", channel_id: str = "C_SALES",
                     response_url: str | None = None) -> dict:
    """An `interactive` envelope: a message shortcut on a message saying `message_text`."""
    return as_envelope({
        "type": "message_action", "token": "legacy-verification-token",
        "action_ts": "1764000001.000400", "team": _team(team_id),
        "user": _user(user_id, team_id), "channel": {"id": channel_id, "name": "sales"},
        "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
        "trigger_id": random_trigger_id(),
        "response_url": response_url or _response_url("app", team_id),
        "message_ts": "1764000000.000500",
        "message": {"type": "message", "user": "U2", "ts": "1764000000.000500",
                    "text": message_text}})


def block_suggestion(action_id: str, value: str, *, user_id: str = "U1",
                     team_id: str = "T0001", block_id: str = "deal",
                     view_id: str = "V0001") -> dict:
    """An `interactive` envelope: type-ahead in an external select; the ack carries options."""
    return as_envelope({
        "type": "block_suggestion", "user": _user(user_id, team_id),
        "container": {"type": "view", "view_id": view_id}, "api_app_id": "A0001",
        "token": "legacy-verification-token", "action_id": action_id, "block_id": block_id,
        "value": value, "team": _team(team_id), "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": view_id, "team_id": team_id, "type": "modal", "blocks": [],
                 "private_metadata": "", "callback_id": "", "state": {"values": {}}}})


_event_ids = itertools.count(1)


def _event(event: dict, team_id: str) -> dict:
    return as_envelope({
        "token": "legacy-verification-token", "team_id": team_id, "api_app_id": "A0001",
        "event": event, "type": "event_callback", "event_id": f"Ev{next(_event_ids):010d}",
        "event_time": 1764000000,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": "U0BOT",
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False})


def app_home_opened(*, user_id: str = "U1", team_id: str = "T0001") -> dict:
    """An `events_api` envelope: the user opened the app's Home tab."""
    return _event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME",
                   "tab": "home", "event_ts": "1764000002.000100"}, team_id)


def app_mention(text: str, *, user_id: str = "U1", team_id: str = "T0001",
                channel_id: str = "C_SALES") -> dict:
    """An `events_api` envelope: `@kpibot text` in a channel."""
    return _event({"type": "app_mention", "user": user_id, "text": f"<@U0BOT> {text}",
                   "ts": "1764000002.000200", "channel": channel_id,
                   "event_ts": "1764000002.000200"}, team_id)


_ANSWERED_IN_THE_ACK = frozenset({"view_submission", "block_suggestion"})


def as_envelope(payload: dict) -> dict:
    """The envelope Slack sends over Socket Mode for a payload it would POST in HTTP mode: a
    slash command's fields, an interactive payload (block_actions, view_submission, ...) or
    an Events API body (event_callback)."""
    if "command" in payload:
        return _envelope("slash_commands", payload, accepts_response_payload=True)
    if payload.get("type") == "event_callback":
        return _envelope("events_api", payload, accepts_response_payload=False) | {
            "retry_attempt": 0, "retry_reason": ""}
    return _envelope("interactive", payload,
                     accepts_response_payload=payload.get("type") in _ANSWERED_IN_THE_ACK)


def http_request(envelope: dict) -> tuple[str, str]:
    """`(body, content type)` Slack would POST in HTTP mode for `envelope`'s payload: a form
    for slash commands, `payload=<json>` for interactivity, JSON for events."""
    payload = envelope["payload"]
    if envelope["type"] == "slash_commands":
        return urlencode(payload), "application/x-www-form-urlencoded"
    if envelope["type"] == "interactive":
        return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    return json.dumps(payload), "application/json"


# ------------------------------------------------------------------------------ the server
@dataclass
class Ack:
    """An acknowledgement the bot sent: `payload` is None for a bare ack."""

    envelope_id: str
    payload: dict | None
    connection: int  # 1 for the first connection, 2 for the next...


@dataclass
class Connection:
    number: int
    ws: web.WebSocketResponse
    request: web.Request
    closed: bool = False
    sent: list[dict] = field(default_factory=list)  # hello, envelopes, disconnects


class SocketModeServer:
    """Slack's Socket Mode side on 127.0.0.1; see the module docstring."""

    def __init__(self, slack_api: SlackApiServer, *, app_token: str = APP_TOKEN,
                 app_id: str = "A0001") -> None:
        self.slack_api = slack_api
        self.app_token = app_token
        self.app_id = app_id
        self.connections: list[Connection] = []
        self.acks: list[Ack] = []
        self.lost_acks: list[Ack] = []  # acks thrown away by lose_next_ack()
        self.refused_urls: list[str] = []  # connection attempts with an unknown or used ticket
        self.errors: list[str] = []  # anything the bot sent that is not an ack
        self.envelopes: dict[str, dict] = {}  # every envelope sent, by id
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._lose = 0
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SocketModeServer:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="socket-mode-stand-in", daemon=True)
        self._thread.start()
        self._call(self._start_site())
        self.slack_api.set_response("apps.connections.open", self._open)
        return self

    async def _start_site(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._thread is None:
            return
        self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._thread = None

    def _call(self, coroutine, timeout: float = WAIT):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # ------------------------------------------------------------------ apps.connections.open
    def _open(self, call: RecordedCall) -> dict[str, Any]:
        token = call.token or ""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = secrets.token_hex(16)
        with self._cond:
            self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"
                                   f"&app_id={self.app_id}"}

    @property
    def opens(self) -> int:
        """How many times the bot asked apps.connections.open for a URL (answered ok)."""
        return sum(1 for c in self.slack_api.calls_to("apps.connections.open")
                   if isinstance(c.response, dict) and c.response.get("ok"))

    # ------------------------------------------------------------------ the WebSocket
    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._cond:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
            if not known:
                self.refused_urls.append(str(request.rel_url))
        if not known:
            return web.Response(status=401, text="invalid or used ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        with self._cond:
            connection = Connection(len(self.connections) + 1, ws, request)
            self.connections.append(connection)
            self._cond.notify_all()
            unacked = [e for i, e in self.envelopes.items() if not self._acked(i)]
            open_now = sum(1 for c in self.connections if not c.closed)
        await self._send(connection, {
            "type": "hello", "num_connections": open_now,
            "debug_info": {"host": "applink-stand-in", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id}})
        for envelope in unacked:  # Slack delivers again what it has no ack for
            await self._send(connection, envelope)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._received(connection, message.data)
        finally:
            with self._cond:
                connection.closed = True
                self._cond.notify_all()
        return ws

    async def _send(self, connection: Connection, message: dict) -> None:
        with self._cond:
            connection.sent.append(message)
        await connection.ws.send_json(message)

    def _received(self, connection: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        with self._cond:
            if not isinstance(message, dict) or "envelope_id" not in message:
                self.errors.append(f"not an ack: {data[:200]}")
            else:
                ack = Ack(message["envelope_id"], message.get("payload"), connection.number)
                if message["envelope_id"] not in self.envelopes:
                    self.errors.append(f"ack for an unknown envelope: {data[:200]}")
                if self._lose:
                    self._lose -= 1
                    self.lost_acks.append(ack)
                else:
                    self.acks.append(ack)
            self._cond.notify_all()

    def _acked(self, envelope_id: str) -> bool:
        return any(a.envelope_id == envelope_id for a in self.acks)

    def _current(self) -> Connection:
        with self._cond:
            if not self._cond.wait_for(
                    lambda: any(not c.closed for c in self.connections), WAIT):
                raise AssertionError("the bot has no open Socket Mode connection")
            return [c for c in self.connections if not c.closed][-1]

    # ------------------------------------------------------------------ what a test does
    def send(self, envelope: dict) -> str:
        """Send `envelope` on the newest open connection; returns its envelope id."""
        connection = self._current()
        with self._cond:
            self.envelopes[envelope["envelope_id"]] = envelope
        self._call(self._send(connection, envelope))
        return envelope["envelope_id"]

    def deliver(self, envelope: dict) -> Ack:
        """Send `envelope` and wait for its ack."""
        return self.wait_ack(self.send(envelope))

    def wait_ack(self, envelope_id: str, count: int = 1) -> Ack:
        """The `count`-th ack for `envelope_id` (waits for it)."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: len(self.acks_for(envelope_id)) >= count, WAIT)
            assert found, (f"no ack #{count} for {envelope_id}; acks: {self.acks}, "
                           f"errors: {self.errors}")
            return self.acks_for(envelope_id)[count - 1]

    def acks_for(self, envelope_id: str) -> list[Ack]:
        with self._cond:
            return [a for a in self.acks if a.envelope_id == envelope_id]

    def lose_next_ack(self) -> None:
        """Throw the next ack away (it never reached Slack): the envelope stays unacked and is
        delivered again on the next connection."""
        with self._cond:
            self._lose += 1

    def wait_lost_acks(self, count: int = 1) -> list[Ack]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.lost_acks) >= count, WAIT)
            return list(self.lost_acks)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message on the newest connection (it stays open: the bot is
        to open a new one and leave this one)."""
        connection = self._current()
        self._call(self._send(connection, {"type": "disconnect", "reason": reason,
                                           "debug_info": {"host": "applink-stand-in"}}))

    def drop(self) -> None:
        """Cut the newest connection without a close frame (a network failure)."""
        connection = self._current()

        async def cut() -> None:
            connection.request.transport.abort()

        self._call(cut())
        with self._cond:
            assert self._cond.wait_for(lambda: connection.closed, WAIT)

    def wait_connections(self, count: int) -> Connection:
        """Wait until the bot has opened `count` connections and the newest is open."""
        with self._cond:
            assert self._cond.wait_for(
                lambda: len(self.connections) >= count
                and not self.connections[count - 1].closed, WAIT), (
                f"expected connection #{count}; have {len(self.connections)}")
            return self.connections[count - 1]

    def wait_closed(self, number: int) -> None:
        """Wait until connection `number` (1-based) is closed (by the bot or the network)."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.connections[number - 1].closed, WAIT)


@contextmanager
def socket_mode_server(slack_api: SlackApiServer, **kwargs: Any) -> Iterator[SocketModeServer]:
    """A running SocketModeServer answering `apps.connections.open` on `slack_api`; the test
    fails at the end if the bot sent it anything that is not an ack."""
    server = SocketModeServer(slack_api, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
    assert server.errors == [], server.errors


@contextmanager
def running_socket_mode(bot, *, ping_interval: float = 10.0) -> Iterator[None]:
    """Run `bot`'s Slack app over Socket Mode (bot/slack/socket_mode.py, as `kpibot serve
    --socket-mode`) in a background thread until the block ends."""
    from bot.slack.socket_mode import run_socket_mode

    connected = threading.Event()
    running: dict[str, Any] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        ready = asyncio.Event()
        serving = asyncio.ensure_future(run_socket_mode(
            bot.slack_app, bot.settings.slack_app_token.get_secret_value(),
            ping_interval=ping_interval, connected=ready))
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait([serving, waiting], return_when=asyncio.FIRST_COMPLETED)
        connected.set()
        await serving

    def run() -> None:
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # noqa: BLE001  (re-raised in the test thread)
            failure.append(error)
            connected.set()

    thread = threading.Thread(target=run, name="kpibot-socket-mode", daemon=True)
    thread.start()
    assert connected.wait(WAIT) and not failure, f"Socket Mode did not start: {failure}"
    try:
        yield
    finally:
        running["loop"].call_soon_threadsafe(running["task"].cancel)
        thread.join(WAIT)
    assert not failure, failure

"""A local stand-in for the Slack Web API, for tests.

A real HTTP server on 127.0.0.1 (ephemeral port) running in a background thread.
Point ``slack_sdk.WebClient(base_url=server.base_url)`` (or ``SLACK_API_URL``) at it.

    with slack_api_server() as server:
        WebClient(token="xoxb-test", base_url=server.base_url).chat_postMessage(
            channel="C1", text="hi")
        assert server.calls_to("chat.postMessage")[0].body["text"] == "hi"

Routes:
  ``POST|GET /api/<method>``  Web API methods (form, JSON, multipart or query string)
  ``POST /upload/<file_id>``  upload URLs handed out by ``files.getUploadURLExternal``
                              (recorded as method ``"upload"``)
  ``POST /response/<any>``    ``response_url`` targets (recorded as method ``"response_url"``;
                              build one with ``server.response_url("abc")``)

Every request is recorded as a :class:`RecordedCall`, including failed ones.
Faults are queued per method with :meth:`SlackApiServer.fail_next`; a persistent
per-channel error with :meth:`SlackApiServer.set_channel_error`.

Posted messages are kept per channel (:meth:`SlackApiServer.messages_in`) and served back by
``conversations.history`` in Slack's shape (newest first, ``oldest``/``latest``/``inclusive``,
``limit`` with an opaque ``cursor``, ``has_more``, ``response_metadata.next_cursor``; message
``metadata`` only with ``include_all_metadata``). Message ``ts`` values come from the stand-in's
``clock`` (default ``time.time``), unique and increasing, like Slack's.

:meth:`SlackApiServer.hold` makes the stand-in act on a call (a message is stored) but keep the
answer back until released: the moment to kill a client that "posted" and never heard back.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import mimetypes
import secrets
import socket
import threading
import time
import traceback
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "Fault",
    "Headers",
    "Hold",
    "RecordedCall",
    "SlackApiServer",
    "UploadedFile",
    "slack_api",
    "slack_api_server",
]

PROXY_ENV_VARS = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)

# Methods whose target channel is checked against set_channel_error().
CHANNEL_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.delete",
        "chat.scheduleMessage",
        "chat.meMessage",
        "files.completeUploadExternal",
        "conversations.history",
    }
)

_MAX_TEXT = 40_000
_MAX_BLOCKS = 50
_HISTORY_DEFAULT_LIMIT = 100
_HISTORY_MAX_LIMIT = 999


class Headers(dict):
    """Request headers; keys are stored lower-case and looked up case-insensitively."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        for key, value in dict(items).items():
            super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class UploadedFile:
    """A file part of a multipart request, or the bytes POSTed to an upload URL."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RecordedCall:
    """One request received by the stand-in.

    ``method`` is the Web API method (``"chat.postMessage"``), ``"upload"`` or
    ``"response_url"``. ``body`` merges query string and body (JSON, form or
    multipart; single-valued form fields are plain strings, file parts become
    ``{"filename", "size", "content_type"}``). ``at`` is ``time.monotonic()`` at
    arrival (use it to measure retry back-off), ``wall_time`` is ``time.time()``.
    ``status``/``response`` are what the stand-in answered (``status`` is 0 while
    the call is still in flight or when the connection was dropped).
    """

    method: str
    body: dict[str, Any]
    headers: Headers
    at: float
    wall_time: float
    path: str = ""
    http_method: str = "POST"
    status: int = 0
    response: Any = None
    fault: Fault | None = None
    files: dict[str, UploadedFile] = field(default_factory=dict)
    raw_body: bytes = b""

    @property
    def token(self) -> str | None:
        """Bearer token from ``Authorization``, else the ``token`` parameter."""
        auth = self.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        token = self.body.get("token")
        return token if isinstance(token, str) else None

    @property
    def channel(self) -> str | None:
        """Target channel of the call (``channel``, ``channel_id`` or first of ``channels``)."""
        return _call_channel(self.body)

    def json_field(self, name: str, default: Any = None) -> Any:
        """A field that may arrive JSON-encoded in form bodies (``blocks``, ``files``...)."""
        value = self.body.get(name, default)
        if isinstance(value, str | bytes):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass
class Fault:
    """A queued misbehaviour for one method; see :meth:`SlackApiServer.fail_next`."""

    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    delay: float | None = None
    disconnect: bool = False
    body: Any = None
    channel: str | None = None
    times: int = 1


@dataclass
class Hold:
    """Answers kept back for one method; see :meth:`SlackApiServer.hold`."""

    method: str
    after: int = 0
    channel: str | None = None
    seen: int = 0
    held: list[RecordedCall] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let the held answers (and any later ones) go out."""
        self.released.set()


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _call_channel(body: dict[str, Any]) -> str | None:
    for key in ("channel", "channel_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    channels = body.get("channels")
    if isinstance(channels, str) and channels:
        return channels.split(",")[0].strip()
    if isinstance(channels, list) and channels:
        return str(channels[0])
    return None


def _parse_form(raw: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        if key in result:
            existing = result[key]
            result[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[key] = value
    return result


def _parse_multipart(
    raw: bytes, content_type: str
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    boundary = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise ValueError("multipart body without boundary")
    fields: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in raw.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        part = part.removeprefix(b"\r\n")
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        part_headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            part_headers[name.strip().lower()] = value.strip()
        disposition: dict[str, str] = {}
        for item in part_headers.get("content-disposition", "").split(";")[1:]:
            key, _, value = item.strip().partition("=")
            disposition[key.lower()] = value.strip().strip('"')
        name = disposition.get("name", "")
        if "filename" in disposition:
            upload = UploadedFile(
                field=name,
                filename=disposition["filename"],
                content_type=part_headers.get("content-type"),
                data=data,
            )
            files[name] = upload
            fields[name] = {
                "filename": upload.filename,
                "size": upload.size,
                "content_type": upload.content_type,
            }
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return fields, files


def _tz_details(tz: str) -> tuple[str, int]:
    try:
        now = datetime.now(zoneinfo.ZoneInfo(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


class _Drop(Exception):
    """Internal: close the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at stop()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.server.owner
        try:
            raw = self._read_body()
            status, payload, headers = owner._dispatch(self, raw)
        except _Drop:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:  # noqa: BLE001 - reported through server.errors
            owner.errors.append(traceback.format_exc())
            status, payload, headers = 500, {"ok": False, "error": "stand_in_crashed"}, {}
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode("utf-8"), "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (ConnectionError, OSError):
            pass  # the client gave up (e.g. timed out during an injected delay)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SlackApiServer


class SlackApiServer:
    """In-process Slack Web API stand-in; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = "T0001",
        team_name: str = "Acme",
        team_domain: str = "acme",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0001",
        require_token: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.require_token = require_token
        self.clock = clock  # the time message ts values are made from
        # When set, only these tokens are accepted (others get invalid_auth).
        self.valid_tokens: set[str] | None = None
        # When True, users.info for an unknown user returns user_not_found.
        self.strict_users = False

        self.calls: list[RecordedCall] = []
        self.errors: list[str] = []  # tracebacks of crashes inside the stand-in
        self.uploads: dict[str, bytes] = {}

        self._cond = threading.Condition(threading.RLock())
        self._faults: dict[str, list[Fault]] = {}
        self._channel_errors: dict[str, str] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._responses: dict[str, dict[str, Any] | Callable[[RecordedCall], Any]] = {}
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._dm_channels: dict[str, str] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._holds: list[Hold] = []
        self._last_ts_us = 0
        self._id_counter = itertools.count(1)
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> SlackApiServer:
        if self._httpd is not None:
            return self
        self._stop.clear()
        httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-api-stand-in:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()  # wakes handlers sleeping in an injected delay
        with self._cond:
            for held in self._holds:
                held.release()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> SlackApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SlackApiServer is not running")
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.base}/api/"

    def response_url(self, name: str | None = None) -> str:
        """A ``response_url`` served (and recorded) by this stand-in."""
        return f"{self.base}/response/{name or secrets.token_hex(8)}"

    # ----------------------------------------------------------------- inspection
    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        """Method names of all recorded calls, in arrival order."""
        with self._cond:
            return [c.method for c in self.calls]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Block until ``count`` answered calls to ``method`` arrived; return them."""
        deadline = time.monotonic() + timeout

        def done() -> list[RecordedCall]:
            return [c for c in self.calls if c.method == method and c.status]

        with self._cond:
            while len(found := done()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} call(s) to {method}, got {len(found)}; "
                        f"all calls: {[c.method for c in self.calls]}"
                    )
                self._cond.wait(remaining)
            return found

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages stored in ``channel`` (oldest first), as conversations.history has
        them (with their ``metadata``)."""
        with self._cond:
            return [dict(m) for m in self._history.get(channel, [])]

    def hold(self, method: str, *, after: int = 0, channel: str | None = None) -> Hold:
        """Keep back the answers to ``method`` (optionally only for ``channel``) after the
        first ``after`` such calls: the stand-in acts on the call (a posted message is stored,
        as Slack stores it) but the client gets no answer until :meth:`Hold.release` (or
        :meth:`stop`). Wait for held calls with :meth:`wait_held`."""
        held = Hold(method=method, after=after, channel=channel)
        with self._cond:
            self._holds.append(held)
        return held

    def wait_held(self, held: Hold, count: int = 1, timeout: float = 30.0) -> list[RecordedCall]:
        """Block until ``count`` calls are being held by ``held``; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(held.held) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} held call(s) to {held.method}, got {len(held.held)}"
                    )
                self._cond.wait(remaining)
            return list(held.held)

    def reset(self) -> None:
        """Forget calls, queued faults, channel errors, custom responses, users, messages."""
        with self._cond:
            self.calls.clear()
            self._history.clear()
            for held in self._holds:
                held.release()
            self._holds.clear()
            self.errors.clear()
            self.uploads.clear()
            self._faults.clear()
            self._channel_errors.clear()
            self._responses.clear()
            self._users.clear()
            self._pending_files.clear()

    # ----------------------------------------------------------------- configuration
    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        disconnect: bool = False,
        body: Any = None,
        times: int = 1,
        channel: str | None = None,
    ) -> Fault:
        """Queue a fault for the next ``times`` calls to ``method`` (optionally one ``channel``).

        - ``status=429`` → HTTP 429, ``Retry-After: <retry_after or 1>``, ``{"ok": false,
          "error": "ratelimited"}``.
        - ``status=500`` (any other status) → that status with a plain-text body, or a JSON
          ``{"ok": false, "error": error}`` body when ``error`` is also given.
        - ``error="channel_not_found"`` alone → HTTP 200 ``{"ok": false, "error": ...}``
          (works for any error code: invalid_auth, not_in_channel, is_archived, token_revoked...).
        - ``delay=2.0`` → sleep before answering (combine with the above or alone: then the
          normal answer follows the delay).
        - ``disconnect=True`` → close the connection without answering.
        - ``body=`` overrides the response body (dict → JSON, str → text).
        Queued faults for a method are used in FIFO order.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = Fault(
            status=status,
            error=error,
            retry_after=retry_after,
            delay=delay,
            disconnect=disconnect,
            body=body,
            channel=channel,
            times=times,
        )
        with self._cond:
            self._faults.setdefault(method, []).append(fault)
        return fault

    def pending_faults(self, method: str | None = None) -> list[Fault]:
        with self._cond:
            if method is not None:
                return list(self._faults.get(method, []))
            return [f for faults in self._faults.values() for f in faults]

    def set_channel_error(self, channel_id: str, error: str = "channel_not_found") -> None:
        """Every message/file post to ``channel_id`` fails with ``error`` until cleared."""
        with self._cond:
            self._channel_errors[channel_id] = error

    def clear_channel_error(self, channel_id: str) -> None:
        with self._cond:
            self._channel_errors.pop(channel_id, None)

    def set_user(
        self,
        user_id: str,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        tz: str = "Europe/Oslo",
        real_name: str | None = None,
        email: str | None = None,
        name: str | None = None,
        locale: str = "en-US",
        is_bot: bool = False,
        deleted: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Configure what ``users.info`` returns for ``user_id``; returns the user object."""
        user = self._make_user(
            user_id,
            is_admin=is_admin,
            is_owner=is_owner,
            tz=tz,
            real_name=real_name,
            email=email,
            name=name,
            locale=locale,
            is_bot=is_bot,
            deleted=deleted,
        )
        user.update(extra)
        with self._cond:
            self._users[user_id] = user
        return user

    def set_response(
        self, method: str, response: dict[str, Any] | Callable[[RecordedCall], Any]
    ) -> None:
        """Always answer ``method`` with ``response`` (a dict, or a callable taking the call
        and returning a dict or ``(status, payload)``). Useful for methods without a default."""
        with self._cond:
            self._responses[method] = response

    def dm_channel_for(self, user_id: str) -> str:
        """The DM channel id ``conversations.open`` returns for ``user_id``."""
        with self._cond:
            if user_id not in self._dm_channels:
                self._dm_channels[user_id] = f"D{next(self._id_counter):08d}"
            return self._dm_channels[user_id]

    # ----------------------------------------------------------------- dispatching
    def _take_fault(self, method: str, channel: str | None) -> Fault | None:
        with self._cond:
            queue = self._faults.get(method)
            if not queue:
                return None
            for fault in queue:
                if fault.channel is None or fault.channel == channel:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.remove(fault)
                    return fault
            return None

    def _take_hold(self, call: RecordedCall) -> Hold | None:
        with self._cond:
            for held in self._holds:
                if held.method == call.method and held.channel in (None, call.channel):
                    held.seen += 1
                    if held.seen > held.after and not held.released.is_set():
                        held.held.append(call)
                        self._cond.notify_all()
                        return held
            return None

    def _dispatch(self, handler: _Handler, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(handler.path)
        path = parsed.path
        headers = Headers(handler.headers.items())
        body: dict[str, Any] = _parse_form(parsed.query) if parsed.query else {}
        files: dict[str, UploadedFile] = {}

        if path.startswith("/api/"):
            method = path[len("/api/") :].strip("/")
        elif path.startswith("/upload/"):
            method = "upload"
        elif path.startswith("/response/"):
            method = "response_url"
        else:
            method = f"unrouted:{path}"

        ctype = (headers.get("content-type") or "").lower()
        if method == "upload":
            file_id = path[len("/upload/") :].strip("/")
            body.update({"file_id": file_id, "size": len(raw)})
            files["file"] = UploadedFile("file", None, headers.get("content-type"), raw)
        elif raw:
            if ctype.startswith("multipart/form-data"):
                fields, files = _parse_multipart(raw, headers.get("content-type") or "")
                body.update(fields)
            elif "json" in ctype or (not ctype and raw.lstrip().startswith(b"{")):
                decoded = json.loads(raw.decode("utf-8"))
                body.update(decoded if isinstance(decoded, dict) else {"_json": decoded})
            else:
                body.update(_parse_form(raw.decode("utf-8", errors="replace")))

        call = RecordedCall(
            method=method,
            body=body,
            headers=headers,
            at=time.monotonic(),
            wall_time=time.time(),
            path=handler.path,
            http_method=handler.command,
            files=files,
            raw_body=raw,
        )
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

        try:
            status, payload, extra_headers = self._respond(call)
        except _Drop:
            with self._cond:
                self._cond.notify_all()
            raise
        held = self._take_hold(call)
        if held is not None:
            held.released.wait()
        with self._cond:
            call.status = status
            call.response = payload
            self._cond.notify_all()
        return status, payload, extra_headers

    def _respond(self, call: RecordedCall) -> tuple[int, Any, dict[str, str]]:
        fault = self._take_fault(call.method, call.channel)
        call.fault = fault
        if fault is not None:
            if fault.delay:
                self._stop.wait(fault.delay)
            if fault.disconnect:
                raise _Drop
            if fault.status is not None and fault.status != 200:
                extra: dict[str, str] = {}
                if fault.status == 429:
                    extra["Retry-After"] = str(
                        1 if fault.retry_after is None else fault.retry_after
                    )
                    payload: Any = {"ok": False, "error": fault.error or "ratelimited"}
                elif fault.error:
                    payload = {"ok": False, "error": fault.error}
                else:
                    payload = f"{fault.status} {_reason(fault.status)}"
                if fault.body is not None:
                    payload = fault.body
                return fault.status, payload, extra
            if fault.error:
                return 200, fault.body or {"ok": False, "error": fault.error}, {}
            if fault.body is not None:
                return fault.status or 200, fault.body, {}
            # delay-only fault: fall through to the normal answer

        if call.method == "upload":
            return self._upload(call)
        if call.method == "response_url":
            return 200, {"ok": True}, {}
        if call.method.startswith("unrouted:"):
            return 404, "not found", {}

        if self.require_token:
            token = call.token
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if self.valid_tokens is not None and token not in self.valid_tokens:
                return 200, {"ok": False, "error": "invalid_auth"}, {}

        with self._cond:
            channel_error = (
                self._channel_errors.get(call.channel or "")
                if call.method in CHANNEL_METHODS
                else None
            )
            custom = self._responses.get(call.method)
        if channel_error:
            return 200, {"ok": False, "error": channel_error}, {}
        if custom is not None:
            result = custom(call) if callable(custom) else custom
            if isinstance(result, tuple):
                return result[0], result[1], {}
            return 200, result, {}

        impl = _METHODS.get(call.method)
        if impl is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, impl(self, call), {}

    # ----------------------------------------------------------------- method impls
    def _next_ts(self) -> str:
        """A Slack message timestamp from ``clock``: unique and increasing."""
        with self._cond:
            micros = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):010d}"

    def _make_user(self, user_id: str, **kw: Any) -> dict[str, Any]:
        tz = kw.get("tz") or "Europe/Oslo"
        tz_label, tz_offset = _tz_details(tz)
        name = kw.get("name") or user_id.lower()
        real_name = kw.get("real_name") or f"User {user_id}"
        email = kw.get("email") or f"{name}@{self.team_domain}.example"
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": kw.get("deleted", False),
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "locale": kw.get("locale") or "en-US",
            "profile": {
                "real_name": real_name,
                "display_name": real_name.split(" ")[0],
                "email": email,
                "team": self.team_id,
            },
            "is_admin": bool(kw.get("is_admin", False)),
            "is_owner": bool(kw.get("is_owner", False)),
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": bool(kw.get("is_bot", False)),
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    def _resolve_channel(self, channel: str) -> str:
        if channel[:1] in ("U", "W"):
            return self.dm_channel_for(channel)
        return channel

    def _message(self, call: RecordedCall, ts: str, channel: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": call.body.get("text", ""),
            "ts": ts,
            "channel": channel,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in call.body:
                message[key] = call.json_field(key)
        if call.body.get("thread_ts"):
            message["thread_ts"] = call.body["thread_ts"]
        return message

    def _check_message(self, call: RecordedCall) -> dict[str, Any] | None:
        if not call.channel:
            return {"ok": False, "error": "channel_not_found"}
        text = call.body.get("text")
        blocks = call.json_field("blocks")
        attachments = call.json_field("attachments")
        if not text and not blocks and not attachments:
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > _MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > _MAX_BLOCKS):
            return {"ok": False, "error": "invalid_blocks"}
        return None

    def _auth_test(self, call: RecordedCall) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "kpibot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        channel = self._resolve_channel(call.channel or "")
        ts = self._next_ts()
        message = self._message(call, ts, channel)
        stored = {k: v for k, v in message.items() if k != "channel"}
        with self._cond:
            self._history.setdefault(channel, []).append(stored)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_history(self, call: RecordedCall) -> dict[str, Any]:
        channel = call.channel
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        try:
            oldest = float(call.body.get("oldest") or 0)
            latest = float(call.body["latest"]) if call.body.get("latest") else None
            limit = int(call.body.get("limit") or _HISTORY_DEFAULT_LIMIT)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        limit = min(max(limit, 1), _HISTORY_MAX_LIMIT)
        inclusive = _truthy(call.body.get("inclusive"))
        with self._cond:
            stored = [dict(m) for m in self._history.get(channel, [])]

        def inside(ts: float) -> bool:
            above = ts >= oldest if inclusive else ts > oldest
            below = latest is None or (ts <= latest if inclusive else ts < latest)
            return above and below

        newest_first = [m for m in reversed(stored) if inside(float(m["ts"]))]
        if call.body.get("cursor"):
            try:
                decoded = base64.b64decode(call.body["cursor"], validate=True).decode()
                next_ts = float(decoded.removeprefix("next_ts:"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return {"ok": False, "error": "invalid_cursor"}
            newest_first = [m for m in newest_first if float(m["ts"]) <= next_ts]
        page, rest = newest_first[:limit], newest_first[limit:]
        if not _truthy(call.body.get("include_all_metadata")):
            for message in page:
                message.pop("metadata", None)
        cursor = ""
        if rest:
            cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode()
        return {
            "ok": True,
            "messages": page,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _chat_post_ephemeral(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        if not call.body.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        ts = call.body.get("ts")
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        channel = call.channel or ""
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": call.body.get("text", ""),
            "message": self._message(call, ts, channel),
        }

    def _chat_delete(self, call: RecordedCall) -> dict[str, Any]:
        if not call.body.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": call.channel, "ts": call.body["ts"]}

    def _conversations_open(self, call: RecordedCall) -> dict[str, Any]:
        users = call.body.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if not users:
            if call.body.get("channel"):
                return {"ok": True, "channel": {"id": call.body["channel"]}}
            return {"ok": False, "error": "users_list_not_supplied"}
        ids = [u.strip() for u in users.split(",") if u.strip()]
        channel_id = (
            self.dm_channel_for(ids[0]) if len(ids) == 1 else self.dm_channel_for(",".join(ids))
        )
        if len(ids) > 1:
            channel_id = "G" + channel_id[1:]
        return {
            "ok": True,
            "no_op": False,
            "already_open": False,
            "channel": {"id": channel_id},
        }

    def _users_info(self, call: RecordedCall) -> dict[str, Any]:
        user_id = call.body.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        with self._cond:
            user = self._users.get(user_id)
        if user is None:
            if self.strict_users:
                return {"ok": False, "error": "user_not_found"}
            user = self._make_user(user_id)
        user = dict(user)
        if str(call.body.get("include_locale", "")).lower() not in ("1", "true"):
            user.pop("locale", None)
        return {"ok": True, "user": user}

    def _team_info(self, call: RecordedCall) -> dict[str, Any]:
        return {
            "ok": True,
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": f"{self.team_domain}.example",
                "icon": {"image_default": True},
            },
        }

    def _get_upload_url(self, call: RecordedCall) -> dict[str, Any]:
        filename = call.body.get("filename")
        length = call.body.get("length")
        try:
            length_int = int(length) if length is not None else -1
        except (TypeError, ValueError):
            length_int = -1
        if not filename or length_int < 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        with self._cond:
            self._pending_files[file_id] = {
                "filename": filename,
                "length": length_int,
                "alt_txt": call.body.get("alt_txt"),
            }
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _upload(self, call: RecordedCall) -> tuple[int, Any, dict[str, str]]:
        file_id = call.body["file_id"]
        with self._cond:
            if file_id not in self._pending_files:
                return 404, "unknown upload url", {}
            self.uploads[file_id] = call.raw_body
        return 200, f"OK - {len(call.raw_body)}", {}

    def _complete_upload(self, call: RecordedCall) -> dict[str, Any]:
        items = call.json_field("files")
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channels = [c for c in [call.body.get("channel_id")] if c]
        if not channels and isinstance(call.body.get("channels"), str):
            channels = [c for c in call.body["channels"].split(",") if c]
        result = []
        now = int(time.time())
        for item in items:
            file_id = item.get("id") if isinstance(item, dict) else None
            with self._cond:
                meta = self._pending_files.get(file_id or "")
                data = self.uploads.get(file_id or "")
            if meta is None or data is None:
                return {"ok": False, "error": "file_not_found"}
            name = meta["filename"]
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            result.append(
                {
                    "id": file_id,
                    "created": now,
                    "timestamp": now,
                    "name": name,
                    "title": item.get("title") or name,
                    "mimetype": mimetype,
                    "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
                    "user": self.bot_user_id,
                    "size": len(data),
                    "url_private": f"{self.base}/files/{file_id}/{name}",
                    "permalink": f"https://{self.team_domain}.slack.com/files/{file_id}",
                    "channels": channels,
                    "alt_txt": meta.get("alt_txt"),
                }
            )
        return {"ok": True, "files": result}

    def _views(self, call: RecordedCall) -> dict[str, Any]:
        view = call.json_field("view") or {}
        view_id = call.body.get("view_id") or self._next_id("V")
        return {"ok": True, "view": {**(view if isinstance(view, dict) else {}), "id": view_id}}

    def _ok(self, call: RecordedCall) -> dict[str, Any]:
        return {"ok": True}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_METHODS: dict[str, Callable[[SlackApiServer, RecordedCall], dict[str, Any]]] = {
    "api.test": SlackApiServer._ok,
    "auth.test": SlackApiServer._auth_test,
    "chat.postMessage": SlackApiServer._chat_post_message,
    "chat.postEphemeral": SlackApiServer._chat_post_ephemeral,
    "chat.update": SlackApiServer._chat_update,
    "chat.delete": SlackApiServer._chat_delete,
    "conversations.open": SlackApiServer._conversations_open,
    "conversations.history": SlackApiServer._conversations_history,
    "users.info": SlackApiServer._users_info,
    "team.info": SlackApiServer._team_info,
    "files.getUploadURLExternal": SlackApiServer._get_upload_url,
    "files.completeUploadExternal": SlackApiServer._complete_upload,
    "views.open": SlackApiServer._views,
    "views.publish": SlackApiServer._views,
    "views.update": SlackApiServer._views,
    "views.push": SlackApiServer._views,
    "reactions.add": SlackApiServer._ok,
}


@contextmanager
def slack_api_server(**kwargs: Any) -> Iterator[SlackApiServer]:
    """Start a :class:`SlackApiServer` for the duration of a ``with`` block."""
    server = SlackApiServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiServer]:
    """A running Slack Web API stand-in; ``SLACK_API_URL`` points at it for the test.

    The test fails at teardown if the stand-in itself crashed on a request.

    Proxy environment variables are removed for the test: slack_sdk would otherwise
    send even 127.0.0.1 traffic through ``HTTPS_PROXY``.
    """
    for var in PROXY_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    with slack_api_server() as server:
        monkeypatch.setenv("SLACK_API_URL", server.base_url)
        yield server
    if server.errors:
        pytest.fail("the Slack API stand-in crashed:\n" + "\n".join(server.errors), pytrace=False)

"""The Slack Web API stand-in's wire side: what it records (calls, faults, holds, uploads),
how it reads a request (form, JSON, multipart) and the HTTP handler that feeds the server."""

from __future__ import annotations

import json
import socket
import threading
import traceback
import urllib.parse
import zoneinfo
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.slack_api import SlackApiServer


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

MAX_TEXT = 40_000
MAX_BLOCKS = 50
HISTORY_DEFAULT_LIMIT = 100
HISTORY_MAX_LIMIT = 999


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
        return call_channel(self.body)

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


def truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def call_channel(body: dict[str, Any]) -> str | None:
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


def parse_form(raw: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        if key in result:
            existing = result[key]
            result[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[key] = value
    return result


def parse_multipart(
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


def tz_details(tz: str) -> tuple[str, int]:
    try:
        now = datetime.now(zoneinfo.ZoneInfo(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


class DropConnection(Exception):
    """Internal: close the connection without answering."""


class RequestHandler(BaseHTTPRequestHandler):
    server: StandInHTTPServer
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
        except DropConnection:
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


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SlackApiServer

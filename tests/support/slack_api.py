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

This module holds the server (state, lifecycle, inspection, faults, dispatch) and its fixture;
what it records and how it reads requests: tests/support/slack_calls.py; the Web API methods
it answers: tests/support/slack_methods.py.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import pytest

from tests.support.slack_calls import (
    CHANNEL_METHODS,
    PROXY_ENV_VARS,
    DropConnection,
    Fault,
    Headers,
    Hold,
    RecordedCall,
    RequestHandler,
    StandInHTTPServer,
    UploadedFile,
    parse_form,
    parse_multipart,
)
from tests.support.slack_methods import _METHODS, SlackMethods

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


class SlackApiServer(SlackMethods):
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
        self._httpd: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> SlackApiServer:
        if self._httpd is not None:
            return self
        self._stop.clear()
        httpd = StandInHTTPServer((self.host, self._requested_port), RequestHandler)
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

    def _dispatch(self, handler: RequestHandler, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(handler.path)
        path = parsed.path
        headers = Headers(handler.headers.items())
        body: dict[str, Any] = parse_form(parsed.query) if parsed.query else {}
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
                fields, files = parse_multipart(raw, headers.get("content-type") or "")
                body.update(fields)
            elif "json" in ctype or (not ctype and raw.lstrip().startswith(b"{")):
                decoded = json.loads(raw.decode("utf-8"))
                body.update(decoded if isinstance(decoded, dict) else {"_json": decoded})
            else:
                body.update(parse_form(raw.decode("utf-8", errors="replace")))

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
        except DropConnection:
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
                raise DropConnection
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


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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

"""Offline Microsoft Teams for tests: keys, the Bot Framework's endpoints, signed activities.

`TeamsCloud` is one loopback HTTP server (background thread) playing every Microsoft service
the bot talks to:

  GET  /v1/.well-known/openidconfiguration   OpenID metadata (`jwks_uri` points below)
  GET  /v1/.well-known/keys                  the JWKS: our test key, endorsing `msteams`
  POST /botframework.com/oauth2/v2.0/token   client-credentials token endpoint
  POST /amer/v3/conversations/{id}/activities[/{activityId}]   the Bot Connector
  GET  /amer/v3/conversations/{id}/members/{memberId}          roster look-up
  POST /workflows/{name}?sig=...             a Teams Workflows webhook

Every request is recorded (`cloud.connector_calls()`, `cloud.token_requests`,
`cloud.workflow_posts`); `cloud.fail_next("connector", status=429, retry_after=0)` queues
faults. `sign_token(...)` makes Bot Connector JWTs (valid, expired, wrong audience, signed by
another key...), `channel_message(...)` / `personal_message(...)` / `group_message(...)`
build realistic activities and `post_activity(...)` sends them to the bot (those live in
tests/support/teams_messages.py; this module re-exports them).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.digests.outbound import OutboundPolicy
from tests.support.bot_server import running_server  # noqa: E402
from tests.support.teams_messages import (
    APP_ID,
    APP_PASSWORD,
    CONNECTOR_PREFIX,
    ISSUER,
    TENANT_ID,
    SigningKey,
    channel_message,
    conversation_update,
    group_message,
    installation_update,
    personal_conversation_id,
    personal_message,
    post_activity,
    sign_token,
    user,
)

# The stand-in's Workflows endpoint is plain http on loopback, which the bot's own policy
# refuses (issue 14, item 9); tests that post to it hand the bot this policy instead.
LOOPBACK_WORKFLOWS = OutboundPolicy(hosts=("127.0.0.1",), schemes=("http",), public_only=False)

__all__ = [
    "APP_ID",
    "APP_PASSWORD",
    "TENANT_ID",
    "ConnectorCall",
    "SigningKey",
    "TeamsCloud",
    "channel_message",
    "conversation_update",
    "group_message",
    "installation_update",
    "personal_conversation_id",
    "personal_message",
    "post_activity",
    "running_bot_server",
    "sign_token",
    "teams_cloud",
    "user",
]

# --------------------------------------------------------------------------------- the cloud
@dataclass
class ConnectorCall:
    http_method: str
    path: str
    conversation_id: str | None
    activity_id: str | None  # the activity replied to (None for a new message)
    member_id: str | None
    body: Any
    token: str | None
    status: int = 0
    response: Any = None


@dataclass
class _Fault:
    status: int
    retry_after: float | None = None
    times: int = 1


@dataclass
class TokenRequest:
    form: dict[str, str]
    status: int


@dataclass
class WorkflowPost:
    name: str
    query: dict[str, str]
    body: Any
    content_type: str


@dataclass
class TeamsCloud:
    """The Microsoft endpoints of a Teams bot, on 127.0.0.1; see the module docstring."""

    app_id: str = APP_ID
    app_password: str = APP_PASSWORD
    key: SigningKey = field(default_factory=SigningKey.generate)
    token_lifetime: int = 3599
    calls: list[ConnectorCall] = field(default_factory=list)
    token_requests: list[TokenRequest] = field(default_factory=list)
    workflow_posts: list[WorkflowPost] = field(default_factory=list)
    metadata_requests: int = 0
    jwks_requests: int = 0
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._faults: dict[str, list[_Fault]] = {}
        self._issued: set[str] = set()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> TeamsCloud:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    status, payload, headers = cloud._dispatch(self, raw)
                except Exception as error:  # noqa: BLE001  (reported through cloud.errors)
                    cloud.errors.append(repr(error))
                    status, payload, headers = 500, {"error": "stand-in crashed"}, {}
                data = b"" if payload is None else json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="teams-cloud-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> TeamsCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses
    @property
    def base(self) -> str:
        assert self._httpd is not None, "TeamsCloud is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/v1/.well-known/openidconfiguration"

    @property
    def jwks_url(self) -> str:
        return f"{self.base}/v1/.well-known/keys"

    @property
    def token_url(self) -> str:
        return f"{self.base}/botframework.com/oauth2/v2.0/token"

    @property
    def service_url(self) -> str:
        """The Bot Connector base URL that activities carry (with a region path, as in Teams)."""
        return f"{self.base}{CONNECTOR_PREFIX}/"

    def workflow_url(self, name: str = "digest") -> str:
        return (f"{self.base}/workflows/{name}/triggers/manual/paths/invoke"
                f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={secrets.token_urlsafe(32)}")

    # tokens
    def token(self, **claims: Any) -> str:
        """A valid Bot Connector JWT for this cloud's service URL (override any claim)."""
        claims.setdefault("service_url", self.service_url)
        return sign_token(self.key, **claims)

    # inspection and faults
    def connector_calls(self, kind: str | None = None) -> list[ConnectorCall]:
        """Calls to the Bot Connector; kind: "reply", "send" or "member"."""
        with self._cond:
            calls = list(self.calls)
        if kind == "reply":
            return [c for c in calls if c.http_method == "POST" and c.activity_id]
        if kind == "send":
            return [c for c in calls if c.http_method == "POST" and not c.activity_id]
        if kind == "member":
            return [c for c in calls if c.member_id]
        return calls

    def wait_for_replies(self, count: int = 1, timeout: float = 5.0) -> list[ConnectorCall]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                replies = [c for c in self.calls if c.status and c.http_method == "POST"]
                if len(replies) >= count:
                    return replies
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} connector post(s), got {len(replies)}")
                self._cond.wait(remaining)

    def fail_next(self, target: str, *, status: int, retry_after: float | None = None,
                  times: int = 1) -> None:
        """Queue HTTP `status` for the next `times` requests to "connector", "token" or
        "workflow"."""
        with self._cond:
            self._faults.setdefault(target, []).append(_Fault(status, retry_after, times))

    def set_member(self, account: dict[str, Any]) -> None:
        """What the roster look-up answers for this Teams user id."""
        self.members[account["id"]] = account

    def _take_fault(self, target: str) -> _Fault | None:
        with self._cond:
            queue = self._faults.get(target) or []
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    @staticmethod
    def _fault_response(fault: _Fault) -> tuple[int, Any, dict[str, str]]:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None \
            else {}
        return fault.status, {"error": {"code": f"HTTP{fault.status}",
                                        "message": "injected fault"}}, headers

    # dispatch
    def _dispatch(self, handler: BaseHTTPRequestHandler,
                  raw: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(parts.path)
        if path == "/v1/.well-known/openidconfiguration":
            self.metadata_requests += 1
            return 200, {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }, {}
        if path == "/v1/.well-known/keys":
            self.jwks_requests += 1
            return 200, {"keys": [self.key.public_jwk()]}, {}
        if path == "/botframework.com/oauth2/v2.0/token" and handler.command == "POST":
            return self._token(raw)
        if path.startswith("/workflows/") and handler.command == "POST":
            return self._workflow(path, parts.query, raw, handler.headers.get("Content-Type"))
        if path.startswith(CONNECTOR_PREFIX + "/v3/conversations/"):
            return self._connector(handler, path, raw)
        return 404, {"error": "not found"}, {}

    def _token(self, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8")))
        fault = self._take_fault("token")
        if fault is not None:
            self.token_requests.append(TokenRequest(form, fault.status))
            return self._fault_response(fault)
        ok = (form.get("grant_type") == "client_credentials"
              and form.get("client_id") == self.app_id
              and form.get("client_secret") == self.app_password
              and form.get("scope") == "https://api.botframework.com/.default")
        status = 200 if ok else 401
        with self._cond:
            self.token_requests.append(TokenRequest(form, status))
        if not ok:
            return 401, {"error": "invalid_client"}, {}
        token = f"connector-token-{secrets.token_hex(16)}"
        with self._cond:
            self._issued.add(token)
        return 200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                     "ext_expires_in": self.token_lifetime, "access_token": token}, {}

    def _workflow(self, path: str, query: str, raw: bytes,
                  content_type: str | None) -> tuple[int, Any, dict[str, str]]:
        fault = self._take_fault("workflow")
        body = json.loads(raw) if raw else None
        with self._cond:
            self.workflow_posts.append(WorkflowPost(
                name=path.split("/")[2], query=dict(urllib.parse.parse_qsl(query)), body=body,
                content_type=content_type or ""))
            self._cond.notify_all()
        if fault is not None:
            return self._fault_response(fault)
        return 202, None, {}

    def _connector(self, handler: BaseHTTPRequestHandler, path: str,
                   raw: bytes) -> tuple[int, Any, dict[str, str]]:
        rest = path[len(CONNECTOR_PREFIX + "/v3/conversations/"):]
        conversation_id, _, tail = rest.partition("/")
        segments = tail.split("/") if tail else []
        activity_id = member_id = None
        if segments[:1] == ["activities"] and len(segments) == 2:
            activity_id = segments[1]
        elif segments[:1] == ["members"] and len(segments) == 2:
            member_id = segments[1]
        auth = handler.headers.get("Authorization") or ""
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        call = ConnectorCall(http_method=handler.command, path=path,
                             conversation_id=conversation_id, activity_id=activity_id,
                             member_id=member_id, body=json.loads(raw) if raw else None,
                             token=token)
        with self._cond:
            self.calls.append(call)
        status, payload, headers = self._connector_answer(call)
        with self._cond:
            call.status, call.response = status, payload
            self._cond.notify_all()
        return status, payload, headers

    def _connector_answer(self, call: ConnectorCall) -> tuple[int, Any, dict[str, str]]:
        if call.token not in self._issued:
            return 401, {"message": "Authorization has been denied for this request."}, {}
        fault = self._take_fault("connector")
        if fault is not None:
            return self._fault_response(fault)
        if call.member_id is not None:
            member = self.members.get(call.member_id)
            if member is None:
                return 404, {"error": {"code": "MemberNotFoundInConversation"}}, {}
            return 200, member, {}
        if call.http_method != "POST" or not isinstance(call.body, dict):
            return 400, {"error": {"code": "BadArgument"}}, {}
        return 201, {"id": f"{int(time.time() * 1000)}{next(self._ids):03d}"}, {}


@pytest.fixture
def teams_cloud() -> Iterator[TeamsCloud]:
    with TeamsCloud() as cloud:
        yield cloud


# --------------------------------------------------------------------------------- the bot
running_bot_server = running_server  # the whole web app (Slack, Teams, health) on loopback

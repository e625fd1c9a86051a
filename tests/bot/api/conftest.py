"""The events API under test: the real web app (`bot.server.build_web_app` as `kpibot serve`
builds it) on a loopback port, a workspace with a token, and a raw HTTP client."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.settings import build_settings
from bot.wiring import Bot, build_bot
from storage.api_tokens import create_token
from storage.engine import Database
from storage.workspaces import ensure_workspace
from tests.support.bot_server import running_server

TOKEN_KEY = "test-token-key-0123456789abcdef-0123456789"
WORKSPACE = "slack:TAPI"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # the `clock` fixture's Wednesday


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def request(base_url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, *, timeout: float = 60) -> Response:
    """One HTTP request with exactly these bytes and headers (none added but Content-Length)."""
    host, port = urllib.parse.urlsplit(base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value.encode("utf-8", "surrogateescape"))
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if body:
            # the server may answer 413 and close before reading a big body
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.send(body)
        response = connection.getresponse()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()},
                        response.read())
    finally:
        connection.close()


def post_events(base_url: str, token: str | None, payload, *, query: str = "",
                content_type: str = "application/json") -> Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return request(base_url, "POST", "/api/v1/events" + query, body, headers)


def make_bot(database: Database, clock, **settings: str) -> Bot:
    url = database.engine.url.render_as_string(hide_password=False)
    values = {"DATABASE_URL": url, "KPIBOT_TOKEN_KEY": TOKEN_KEY,
              "KPIBOT_TIMEZONE": "Europe/Oslo", "KPIBOT_API_RATE": "1000",
              "KPIBOT_API_BURST": "1000", **settings}
    return build_bot(build_settings(**values), database=database, clock=clock)


def new_token(database: Database, workspace_id: str = WORKSPACE, name: str = "zapier") -> str:
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=workspace_id, platform="slack",
                         timezone="Europe/Oslo", currency="USD", now=NOW)
        return create_token(session=session, key=TOKEN_KEY.encode(), workspace_id=workspace_id,
                            name=name, now=NOW)


def event_count(database: Database, workspace_id: str | None = None) -> int:
    query = "SELECT count(*) FROM events"
    params = {}
    if workspace_id is not None:
        query += " WHERE workspace_id = :w"
        params["w"] = workspace_id
    with database.engine.connect() as connection:
        return connection.execute(sa.text(query), params).scalar_one()


@dataclass
class Api:
    base_url: str
    bot: Bot
    token: str
    database: Database


@pytest.fixture
def api(database, clock) -> Iterator[Api]:
    """The API served over HTTP on `database` (both backends), with a token for WORKSPACE."""
    token = new_token(database)
    bot = make_bot(database, clock)
    with running_server(bot) as base_url:
        yield Api(base_url, bot, token, database)

"""The events API's HTTP side, on the same aiohttp server as Slack and Teams (`kpibot serve`).

    POST /api/v1/events[?atomic=true]   a batch of events (bot/api/ingest.py)
    GET  /api/v1/kpis/NAME?period=P     a KPI, the JSON of `kpibot kpi NAME --json`
    GET  /api/v1/openapi.json           the OpenAPI 3.1 document (bot/api/models.py)

Every request is checked in this order, and the first failure answers: the token (401, before
anything of the body is read), the token's rate (429 + Retry-After), the query, Content-Type
(415), the body's size (413, read with a cap), UTF-8 and JSON nesting depth (400), the batch's
shape (400) and size (413). Nothing logs the token or the body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bot.api.body import BodyError, check_json_type, parse_json, read_capped
from bot.api.ingest import BatchRaced, check_item, ingest
from bot.api.models import (
    MAX_BODY,
    MAX_DEPTH,
    MAX_ITEMS,
    ApiError,
    BatchResult,
    openapi_document,
)
from bot.api.off import OFF_MESSAGE
from bot.api.ratelimit import RateLimiter
from bot.usecases.kpi import UnknownKpi, kpi_json
from reports.periods import DEFAULT_PERIOD, PeriodError
from storage.api_tokens import needs_use_noted, note_use, verify_token
from storage.commit_unknown import CommitOutcomeUnknown
from storage.engine import Database
from storage.models import ApiToken, Workspace

log = logging.getLogger(__name__)

# A batch waits at most this long for the database's write lock (an import holding it), then
# is answered 503 with nothing stored.
API_LOCK_TIMEOUT_MS = 10_000


class Answer(Exception):
    """An early answer: the request goes no further."""

    def __init__(self, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.response = web.json_response(
            ApiError(error=error, message=message).model_dump(), status=status, headers=headers)


def _unauthorized(message: str) -> Answer:
    return Answer(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="kpibot"'})


def _unavailable() -> Answer:
    return Answer(503, "unavailable", "the database is busy or not reachable right now; "
                  "nothing was stored, retry shortly", {"Retry-After": "1"})


@dataclass
class EventsApi:
    database: Database
    token_key: bytes | None  # None: the API answers 503 (KPIBOT_TOKEN_KEY not set)
    limiter: RateLimiter
    clock: Callable[[], datetime]  # "now" of stored events and KPI periods
    _openapi: dict = field(default_factory=openapi_document)

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/events", self.post_events)
        app.router.add_get("/api/v1/kpis/{name}", self.get_kpi)
        app.router.add_get("/api/v1/openapi.json", self.openapi)

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    async def post_events(self, request: web.Request) -> web.Response:
        try:
            token = await self._authenticate(request)
            atomic = _flag(request.query.get("atomic", "false"), "atomic")
            check_json_type(request)
            body = await read_capped(request, MAX_BODY)
            raw_items = _events_of(parse_json(body, max_depth=MAX_DEPTH))
            del body
            result = await asyncio.to_thread(self._ingest, token, raw_items, atomic)
        except Answer as answer:
            return answer.response
        except BodyError as error:
            return Answer(error.status, error.error, str(error)).response
        log.info("events API: %s (token %s): %d stored, %d duplicates, %d errors%s",
                 token.workspace_id, token.name, result.stored, result.duplicates,
                 result.errors, " (atomic: refused)" if result.atomic and result.errors else "")
        status = 422 if result.atomic and result.errors else 200
        return web.json_response(result.model_dump(), status=status)

    def _ingest(self, token: ApiToken, raw_items: list, atomic: bool) -> BatchResult:
        items = [check_item(raw) for raw in raw_items]
        try:
            return ingest(database=self.database, workspace_id=token.workspace_id, items=items,
                          atomic=atomic, now=self.clock())
        except CommitOutcomeUnknown:
            log.warning("events API: %s: the COMMIT got no answer", token.workspace_id)
            raise Answer(503, "unavailable", "the database went away while saving, so the "
                         "events may or may not be stored; sending them again with the same "
                         "idempotency keys is safe (none is stored twice)",
                         {"Retry-After": "1"}) from None
        except (DBAPIError, BatchRaced) as error:
            cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
            log.warning("events API: %s: nothing stored: %s", token.workspace_id,
                        type(cause).__name__)
            raise _unavailable() from None

    async def get_kpi(self, request: web.Request) -> web.Response:
        try:
            token = await self._authenticate(request)
            name = request.match_info["name"]
            period = request.query.get("period", DEFAULT_PERIOD)
            user = request.query.get("user") or None
            data = await asyncio.to_thread(self._kpi, token.workspace_id, name, period, user)
        except Answer as answer:
            return answer.response
        return web.json_response(data)

    def _kpi(self, workspace_id: str, name: str, period: str, user: str | None) -> dict:
        try:
            with self.database.read() as session:
                workspace = session.get(Workspace, workspace_id)
                return kpi_json(session, workspace, name, period, now=self.clock(), user=user)
        except UnknownKpi as error:
            raise Answer(404, "not_found", str(error)) from None
        except PeriodError as error:
            raise Answer(400, "bad_request", str(error)) from None
        except DBAPIError:
            raise _unavailable() from None

    async def _authenticate(self, request: web.Request) -> ApiToken:
        """The request's live token, counted against its rate; else an early Answer."""
        if self.token_key is None:
            raise Answer(503, "unavailable", OFF_MESSAGE)
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise _unauthorized("send the workspace's API token as Authorization: Bearer TOKEN "
                                "(kpibot token create)")
        token = await asyncio.to_thread(self._verify, presented.strip())
        if token is None:
            raise _unauthorized("the API token is not valid (unknown, mistyped or revoked)")
        wait = self.limiter.take(token.token_id)
        if wait:
            raise Answer(429, "rate_limited", f"too many requests with this token; retry in "
                         f"{wait} s", {"Retry-After": str(wait)})
        return token

    def _verify(self, presented: str) -> ApiToken | None:
        try:
            with self.database.read() as session:
                token = verify_token(session=session, key=self.token_key, presented=presented)
            now = self.clock()
            if token is not None and needs_use_noted(token, now):
                with self.database.write() as session:
                    note_use(session=session, token=token, now=now)
        except DBAPIError:
            raise _unavailable() from None
        return token


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise Answer(400, "bad_request", f"{name} must be true or false")


def _events_of(data: object) -> list:
    """The batch's items: 400 unless the body is {"events": [...]}, 413 over MAX_ITEMS."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise Answer(400, "bad_request", 'the body must be a JSON object {"events": [...]}')
    extra = sorted(set(data) - {"events"})
    if extra:
        raise Answer(400, "bad_request", f"unknown field {extra[0][:40]!r} next to events; the "
                     'body is {"events": [...]}')
    events = data["events"]
    if len(events) > MAX_ITEMS:
        raise Answer(413, "too_large", f"{len(events):,} events in one batch; the limit is "
                     f"{MAX_ITEMS:,}: split it")
    return events

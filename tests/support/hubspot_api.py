"""A local stand-in for the HubSpot CRM v3 API, for tests.

A real HTTP server on 127.0.0.1 (ephemeral port) in a background thread, answering with the
response shapes HubSpot documents (developers.hubspot.com, CRM API v3), written here from that
documentation:

  GET  /crm/v3/pipelines/deals        {"results": [pipeline {id, label, displayOrder, archived,
                                      stages: [{id, label, displayOrder, archived,
                                      metadata: {isClosed: "true"|"false", probability}}]}]}
  GET  /crm/v3/owners                 {"results": [{id, email, firstName, lastName, userId,
                                      archived, ...}], "paging": {"next": {"after", "link"}}}
                                      (limit, after, archived)
  POST /crm/v3/objects/deals/search   {"total", "results": [{id, properties, createdAt,
                                      updatedAt, archived: false}], "paging"?}; filterGroups
                                      with GTE/GT/LTE/LT/EQ filters, one sort, limit <= 200,
                                      `after` an offset; past the search cap (10,000) a 400
  GET  /crm/v3/objects/deals?archived=true   archived (deleted) deals, {id, properties,
                                      archived: true, archivedAt}, paged with after

Every property value is a string, datetimes as ISO 8601 with milliseconds and `Z`. A request
without `Authorization: Bearer <token>` of the portal gets 401 in HubSpot's error shape.
Faults are queued per route with `fail_next` (429 with Retry-After and policyName, 5xx, 401),
and a used-up rate-limit window with `window_used_up_next`.
Every request is recorded (`requests`, `calls_to(route)`); the token itself is not kept.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTES = ("pipelines", "owners", "search", "archived")


def hubspot_time(at: datetime) -> str:
    """HubSpot's datetime string: 2026-05-04T10:00:00.123Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _parse_time(text: str) -> datetime:
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Recorded:
    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorized: bool
    status: int = 0


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    skip: int = 0  # requests to answer normally before this fault


@dataclass
class StoredDeal:
    id: str
    properties: dict[str, str]
    created_at: datetime
    archived_at: datetime | None = None
    merged_into: str | None = None  # merged away: gone from search, not archived


class HubSpotApi:
    """The portal's data (pipelines, owners, deals) and the server answering for it."""

    def __init__(self, *, token: str = "pat-na1-test-token",
                 clock: Callable[[], datetime] | None = None, search_cap: int = 10_000) -> None:
        self.token = token
        self.clock = clock or (lambda: datetime.now(UTC))
        self.search_cap = search_cap
        self.pipelines: list[dict] = []
        self.owners: list[dict] = []
        self.deals: dict[str, StoredDeal] = {}
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self._faults: dict[str, deque[Fault]] = {route: deque() for route in ROUTES}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ portal data
    def add_pipeline(self, pipeline_id: str, label: str,
                     stages: list[tuple[str, str, float, bool]]) -> None:
        """stages: (id, label, probability, closed)."""
        self.pipelines.append({
            "id": pipeline_id, "label": label, "displayOrder": len(self.pipelines),
            "archived": False, "createdAt": "2025-01-02T09:00:00.000Z",
            "updatedAt": "2025-01-02T09:00:00.000Z",
            "stages": [{"id": sid, "label": slabel, "displayOrder": i, "archived": False,
                        "createdAt": "2025-01-02T09:00:00.000Z",
                        "updatedAt": "2025-01-02T09:00:00.000Z",
                        "metadata": {"isClosed": "true" if closed else "false",
                                     "probability": str(probability)}}
                       for i, (sid, slabel, probability, closed) in enumerate(stages)]})

    def add_owner(self, owner_id: str, email: str, first: str, last: str, *,
                  archived: bool = False) -> None:
        self.owners.append({"id": owner_id, "email": email, "firstName": first,
                            "lastName": last, "userId": int(owner_id) + 1000,
                            "createdAt": "2025-01-02T09:00:00.000Z",
                            "updatedAt": "2025-01-02T09:00:00.000Z", "archived": archived,
                            "teams": []})

    def add_deal(self, deal_id: str, properties: dict[str, str], *, modified: datetime) -> None:
        props = dict(properties, hs_object_id=deal_id,
                     hs_lastmodifieddate=hubspot_time(modified))
        self.deals[deal_id] = StoredDeal(deal_id, props, _parse_time(props["createdate"]))

    def update_deal(self, deal_id: str, **properties: str | None) -> None:
        """Change properties (None clears one); the deal's last modification is now."""
        deal = self.deals[deal_id]
        for name, value in properties.items():
            if value is None:
                deal.properties.pop(name, None)
            else:
                deal.properties[name] = value
        deal.properties["hs_lastmodifieddate"] = hubspot_time(self.clock())

    def delete_deal(self, deal_id: str) -> None:
        self.deals[deal_id].archived_at = self.clock()

    def merge_deals(self, primary: str, secondary: str) -> None:
        """HubSpot's merge: the secondary leaves search, the primary lists it in
        hs_merged_object_ids and counts as modified."""
        self.deals[secondary].merged_into = primary
        merged = [i for i in self.deals[primary].properties.get(
            "hs_merged_object_ids", "").split(";") if i]
        self.update_deal(primary, hs_merged_object_ids=";".join([*merged, secondary]))

    def live_deals(self) -> list[StoredDeal]:
        return [d for d in self.deals.values() if d.archived_at is None and d.merged_into is None]

    # ------------------------------------------------------------------ faults and records
    def fail_next(self, route: str, status: int, *, times: int = 1, after: int = 0,
                  headers: dict[str, str] | None = None, body: dict | None = None) -> None:
        """The next `times` requests to `route` (after `after` answered normally) get
        `status`."""
        assert route in ROUTES, route
        for n in range(times):
            self._faults[route].append(Fault(status, headers or {}, body,
                                             skip=after if n == 0 else 0))

    def rate_limit_next(self, route: str, *, retry_after: str | None = "1",
                        policy: str = "TEN_SECONDLY_ROLLING", times: int = 1) -> None:
        body = {"status": "error", "message": "You have reached your ten_secondly_rolling "
                "limit.", "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                "policyName": policy, "groupName": "api-calls"}
        self.fail_next(route, 429, times=times, body=body,
                       headers={"Retry-After": retry_after} if retry_after else {})

    def window_used_up_next(self, route: str, *, interval_ms: int = 10_000) -> None:
        """The next request to `route` is answered normally, with rate-limit headers saying
        its window has no request left (X-HubSpot-RateLimit-Remaining: 0)."""
        self._faults[route].append(Fault(200, {
            "X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms)}))

    def calls_to(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    # ------------------------------------------------------------------ server
    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                api._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                api._handle(self, "POST")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        try:
            status, headers, body = self._answer(request, method)
        except Exception as error:  # noqa: BLE001 - reported through self.errors
            self.errors.append(repr(error))
            status, headers, body = 500, {}, {"status": "error", "message": "stand-in crashed"}
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json;charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _answer(self, request: BaseHTTPRequestHandler, method: str
                ) -> tuple[int, dict[str, str], dict]:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        route = {("GET", "/crm/v3/pipelines/deals"): "pipelines",
                 ("GET", "/crm/v3/owners"): "owners",
                 ("GET", "/crm/v3/owners/"): "owners",
                 ("POST", "/crm/v3/objects/deals/search"): "search",
                 ("GET", "/crm/v3/objects/deals"): "archived"}.get((method, url.path))
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        record = Recorded(route or "unknown", method, url.path, query, body, authorized)
        with self._lock:
            self.requests.append(record)
            fault = None
            queue = self._faults.get(route) if route else None
            if queue and queue[0].skip:
                queue[0].skip -= 1
            elif queue:
                fault = queue.popleft()
        if route is None:
            record.status = 404
            return 404, {}, {"status": "error", "message": f"no route {method} {url.path}"}
        if fault is not None and fault.status == 200:  # a normal answer with extra headers
            status, answer = getattr(self, f"_{route}")(query, body)
            record.status = status
            return status, fault.headers, answer
        if fault is not None:
            record.status = fault.status
            return fault.status, fault.headers, fault.body or _error(fault.status)
        if not authorized:
            record.status = 401
            return 401, {}, {
                "status": "error", "category": "INVALID_AUTHENTICATION",
                "correlationId": str(uuid.uuid4()),
                "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                           "authentication and you can find more details at "
                           "https://developers.hubspot.com/docs/methods/auth/oauth-overview"}
        status, answer = getattr(self, f"_{route}")(query, body)
        record.status = status
        return status, {}, answer

    def _pipelines(self, query: dict, body: Any) -> tuple[int, dict]:
        return 200, {"results": self.pipelines}

    def _owners(self, query: dict, body: Any) -> tuple[int, dict]:
        archived = query.get("archived", "false") == "true"
        owners = [o for o in self.owners if o["archived"] == archived]
        return 200, _page(owners, query, "/crm/v3/owners")

    def _archived(self, query: dict, body: Any) -> tuple[int, dict]:
        if query.get("archived") != "true":
            return 400, _error(400, "the stand-in lists only archived deals")
        deals = sorted((d for d in self.deals.values() if d.archived_at is not None),
                       key=lambda d: int(d.id))
        items = [{"id": d.id, "properties": {"hs_object_id": d.id}, "archived": True,
                  "archivedAt": hubspot_time(d.archived_at),
                  "createdAt": hubspot_time(d.created_at),
                  "updatedAt": hubspot_time(d.archived_at)} for d in deals]
        return 200, _page(items, query, "/crm/v3/objects/deals")

    def _search(self, query: dict, body: Any) -> tuple[int, dict]:
        body = body or {}
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
        if limit > 200:
            return 400, _error(400, "limit must be at most 200")
        if after + limit > self.search_cap:
            return 400, _error(400, f"Search results are limited to {self.search_cap} "
                                    "results; narrow your search")
        deals = [d for d in self.live_deals()
                 if all(_matches(d.properties, f) for group in body.get("filterGroups", [])[:1]
                        for f in group.get("filters", []))]
        for sort in body.get("sorts", [])[:1]:
            name = sort["propertyName"]
            deals.sort(key=lambda d, n=name: (_sort_value(d.properties.get(n)), int(d.id)),
                       reverse=sort.get("direction") == "DESCENDING")
        wanted = body.get("properties") or ["dealname", "amount", "closedate", "pipeline",
                                            "dealstage", "createdate", "hs_lastmodifieddate"]
        page = deals[after:after + limit]
        results = [{"id": d.id, "archived": False,
                    "createdAt": hubspot_time(d.created_at),
                    "updatedAt": d.properties["hs_lastmodifieddate"],
                    "properties": {name: d.properties.get(name) for name in
                                   ["hs_object_id", "createdate", "hs_lastmodifieddate",
                                    *wanted]}} for d in page]
        answer: dict = {"total": len(deals), "results": results}
        if after + limit < len(deals):
            answer["paging"] = {"next": {"after": str(after + limit),
                                         "link": f"?after={after + limit}"}}
        return 200, answer


def _sort_value(value: str | None):
    if value is None:
        return (0, "")
    try:
        return (1, _parse_time(value).timestamp())
    except ValueError:
        return (2, value)


def _matches(properties: dict[str, str], filter_: dict) -> bool:
    value = properties.get(filter_["propertyName"])
    operator = filter_["operator"]
    if operator == "HAS_PROPERTY":
        return value is not None
    if value is None:
        return False
    wanted = filter_.get("value", "")
    if filter_["propertyName"].endswith("date") or filter_["propertyName"].startswith("hs_v2"):
        have, want = _parse_time(value), _parse_time(wanted)
    else:
        have, want = value, wanted
    return {"EQ": have == want, "GTE": have >= want, "GT": have > want, "LTE": have <= want,
            "LT": have < want}[operator]


def _page(items: list[dict], query: dict, path: str) -> dict:
    limit = min(int(query.get("limit", 100)), 500)
    after = int(query.get("after") or 0)
    answer: dict = {"results": items[after:after + limit]}
    if after + limit < len(items):
        answer["paging"] = {"next": {"after": str(after + limit),
                                     "link": f"https://api.hubapi.com{path}?after="
                                             f"{after + limit}"}}
    return answer


def _error(status: int, message: str | None = None) -> dict:
    return {"status": "error", "message": message or f"stand-in fault {status}",
            "correlationId": str(uuid.uuid4()), "category": "INTERNAL_ERROR"
            if status >= 500 else "VALIDATION_ERROR"}


@contextmanager
def hubspot_api_server(**kwargs: Any) -> Iterator[HubSpotApi]:
    server = HubSpotApi(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()

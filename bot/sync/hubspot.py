"""A small client of the HubSpot CRM v3 API: what the sync reads, with HubSpot's limits honoured.

Endpoints (developers.hubspot.com, CRM API v3), authenticated with a private app's access token
(`Authorization: Bearer`; scopes crm.objects.deals.read and crm.objects.owners.read):

* `GET /crm/v3/pipelines/deals`: pipelines and their stages (label, `metadata.isClosed`,
  `metadata.probability`: 1.0 closed won, 0.0 closed lost);
* `GET /crm/v3/owners`: owners (id, email, first and last name), paged with `after`;
* `POST /crm/v3/objects/deals/search`: deals changed since a time (filter `hs_lastmodifieddate`
  GTE, sorted by it ascending, 100 a page, paged with `after`). A search reaches at most 10,000
  results, so before `after` would pass that the search starts again from the last modified
  time seen;
* `GET /crm/v3/objects/deals?archived=true`: deleted (archived) deals, paged with `after`.

Faults: 429 waits `Retry-After` seconds (or a second per attempt) and tries again, unless the
body's `policyName` says the daily limit is used up; when a response says no requests are left
in its window (`X-HubSpot-RateLimit-Remaining: 0`) the next waits that window out; 5xx and
broken connections are retried with a doubling wait; 401 and 403 end the run with what to fix.
Sleeping is injected (tests never wait). The token is sent, never logged or put in an error.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_URL = "https://api.hubapi.com"
SEARCH_CAP = 10_000  # results one search can page through
PAGE = 100
MAX_TRIES = 6
TIMEOUT = 30.0
SCOPES = ("crm.objects.deals.read", "crm.objects.owners.read")


class HubSpotError(RuntimeError):
    """The run cannot go on; str(error) says why in words (never with the token)."""


class HubSpotAuthError(HubSpotError):
    """HubSpot refused the token (401) or its scopes (403)."""


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    pipeline_id: str
    pipeline_label: str
    closed: bool
    probability: float | None


@dataclass(frozen=True)
class Owner:
    id: str
    email: str | None
    name: str | None


@dataclass(frozen=True)
class Deal:
    id: str
    properties: dict[str, str | None]

    def get(self, name: str) -> str | None:
        value = self.properties.get(name)
        return value if value not in (None, "") else None


Sleep = Callable[[float], None]


class HubSpotClient:
    """The HubSpot calls of a sync; `transport` and `sleep` are replaceable in tests."""

    def __init__(self, token: str, *, base_url: str = DEFAULT_URL, sleep: Sleep = time.sleep,
                 search_cap: int = SEARCH_CAP, timeout: float = TIMEOUT) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.search_cap = search_cap
        self.timeout = timeout
        self.requests = 0
        self.waits: list[float] = []  # seconds waited, in order (429s, backoff, windows)
        self._wait_before_next = 0.0

    def __repr__(self) -> str:  # never the token
        return f"HubSpotClient({self.base_url})"

    # ------------------------------------------------------------------ reads
    def stages(self) -> list[Stage]:
        """Every stage of every deal pipeline (archived pipelines and stages too: old deals
        may sit in them)."""
        body = self._call("GET", "/crm/v3/pipelines/deals")
        found = []
        for pipeline in body.get("results", []):
            for stage in pipeline.get("stages", []):
                metadata = stage.get("metadata") or {}
                found.append(Stage(
                    id=str(stage["id"]), label=str(stage.get("label") or stage["id"]),
                    pipeline_id=str(pipeline["id"]),
                    pipeline_label=str(pipeline.get("label") or pipeline["id"]),
                    closed=str(metadata.get("isClosed", "false")).lower() == "true",
                    probability=_float(metadata.get("probability"))))
        return found

    def owners(self) -> dict[str, Owner]:
        found: dict[str, Owner] = {}
        for archived in ("false", "true"):  # deals keep owners who have left
            for item in self._pages("/crm/v3/owners", {"limit": "100", "archived": archived}):
                name = " ".join(p for p in (item.get("firstName"), item.get("lastName")) if p)
                found.setdefault(str(item["id"]), Owner(str(item["id"]), item.get("email") or None,
                                                        name or None))
        return found

    def archived_deals(self) -> Iterator[list[str]]:
        """Pages of the ids of deleted (archived) deals."""
        page: list[str] = []
        for item in self._pages("/crm/v3/objects/deals", {"limit": "100", "archived": "true",
                                                          "properties": "hs_object_id"}):
            page.append(str(item["id"]))
            if len(page) == PAGE:
                yield page
                page = []
        if page:
            yield page

    def changed_deals(self, since: datetime | None, properties: list[str]
                      ) -> Iterator[list[Deal]]:
        """Pages of deals modified at or after `since` (all deals when None), oldest change
        first. Each page's deals are in `hs_lastmodifieddate` order."""
        start = since
        after = 0
        last: datetime | None = None
        while True:
            if after + PAGE > self.search_cap:  # the search stops at its cap: start again
                if last is None or (start is not None and last <= start):
                    raise HubSpotError(
                        f"more than {self.search_cap:,} deals were modified in the same "
                        "millisecond; HubSpot's search cannot page past them")
                start, after = last, 0
            body = self._call("POST", "/crm/v3/objects/deals/search",
                              _search_body(start, properties, after))
            results = body.get("results", [])
            if results:
                last = _instant((results[-1].get("properties") or {}).get(
                    "hs_lastmodifieddate")) or last
                yield [Deal(str(r["id"]), dict(r.get("properties") or {})) for r in results]
            following = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not results or following is None:
                return
            after = int(following)

    # ------------------------------------------------------------------ transport
    def _pages(self, path: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            params = dict(query, **({"after": after} if after else {}))
            body = self._call("GET", path + "?" + urllib.parse.urlencode(params))
            yield from body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict[str, Any]:
        problem = ""
        for attempt in range(1, MAX_TRIES + 1):
            if self._wait_before_next:
                self._wait(self._wait_before_next)
                self._wait_before_next = 0.0
            status, headers, body = self._send(method, path, payload)
            self.requests += 1
            if status == 200:
                self._note_window(headers)
                return _json(body, path)
            if status == 401:
                raise HubSpotAuthError(
                    "HubSpot refused the private app token (401 Unauthorized): check "
                    "KPIBOT_HUBSPOT_TOKENS for this workspace (a private app's access token, "
                    "pat-...)")
            if status == 403:
                raise HubSpotAuthError(
                    f"HubSpot refused {_what(path)} (403 Forbidden): give the private app the "
                    f"scopes {' and '.join(SCOPES)}")
            if status == 429:
                details = _json_or_empty(body)
                if str(details.get("policyName", "")).upper() == "DAILY":
                    raise HubSpotError("HubSpot's daily API limit for this account is used up; "
                                       "the next run resumes where this one stopped")
                problem = "429 Too Many Requests"
                if attempt < MAX_TRIES:
                    self._wait(_retry_after(headers) or float(attempt))
                continue
            if status >= 500 or status == 0:
                problem = f"{status} from HubSpot" if status else "no answer from HubSpot"
                if attempt < MAX_TRIES:
                    self._wait(float(2 ** (attempt - 1)))
                continue
            message = _json_or_empty(body).get("message") or ""
            raise HubSpotError(f"HubSpot answered {status} to {_what(path)}"
                               + (f": {str(message)[:200]}" if message else ""))
        raise HubSpotError(f"HubSpot kept failing ({problem}, {MAX_TRIES} tries) on "
                           f"{_what(path)}; the next run resumes where this one stopped")

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.sleep(seconds)

    def _note_window(self, headers: dict[str, str]) -> None:
        remaining = headers.get("x-hubspot-ratelimit-remaining")
        interval = headers.get("x-hubspot-ratelimit-interval-milliseconds")
        if remaining == "0" and interval and interval.isdigit():
            self._wait_before_next = int(interval) / 1000

    def _send(self, method: str, path: str, payload: dict | None
              ) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, _lower(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, _lower(error.headers), error.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return 0, {}, b""


def _search_body(since: datetime | None, properties: list[str], after: int) -> dict:
    body: dict[str, Any] = {
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": properties, "limit": PAGE,
    }
    if since is not None:
        body["filterGroups"] = [{"filters": [{
            "propertyName": "hs_lastmodifieddate", "operator": "GTE",
            "value": str(int(since.timestamp() * 1000))}]}]
    if after:
        body["after"] = str(after)
    return body


def _lower(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()} if headers else {}


def _json(body: bytes, path: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise HubSpotError(f"HubSpot's answer to {_what(path)} is not JSON") from None
    if not isinstance(value, dict):
        raise HubSpotError(f"HubSpot's answer to {_what(path)} is not a JSON object")
    return value


def _json_or_empty(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), 60.0)


def _what(path: str) -> str:
    return path.partition("?")[0]


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _instant(value: str | None) -> datetime | None:
    """A HubSpot datetime property: ISO 8601 (`2026-05-04T10:00:00.123Z`) or epoch ms."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


parse_instant = _instant

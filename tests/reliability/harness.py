"""Shared pieces of the reliability suite: the bot under test, a signed `/kpi log` client that
classifies every answer, database counters, and the one-line figures each test prints.

Every answer to a `/kpi log` is put in exactly one bucket:

- ``confirmed``: HTTP 200, "Logged ... (#ID)" — the event must be stored exactly once, as #ID;
- ``duplicate``: HTTP 200, a confirmation that also says "already stored as #ID";
- ``refused``:   HTTP 200, the "database is busy or not reachable ... nothing was stored" or the
                 "did not answer in time, so nothing was stored" reply (the command deadline);
- ``late``:      HTTP 200, "did not answer in time while saving this ... cannot tell yet": the
                 command's COMMIT was out at its deadline; its outcome follows on the
                 response_url (`late_outcome` reads it);
- ``other``:     anything else (a 500, a timeout, an unexpected text) — always a test failure.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot.core import COMMIT_LATE_FOLLOWED_REPLY
from bot.settings import build_settings
from bot.wiring import Bot, build_bot
from storage.deals import refresh_deals
from storage.engine import Database
from storage.models import DailyRollup, Deal, Event
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "reliability-signing-secret"
TEAM = "T0REL"
WORKSPACE = f"slack:{TEAM}"

CONFIRMED = "confirmed"
DUPLICATE = "duplicate"
REFUSED = "refused"
LATE = "late"
OTHER = "other"

_LOGGED = re.compile(r"^Logged .+ \(#(\d+)\)")
_REFUSALS = ("The database is busy or not reachable right now, so nothing was stored",
             "The database did not answer in time, so nothing was stored")


# --------------------------------------------------------------------------- the bot under test
def make_bot(database: Database, slack_api_url: str, *, deadline: float | None = None) -> Bot:
    """The bot as `kpibot serve` builds it; `deadline` (seconds) for the tests of the command
    deadline itself (others keep the test session's roomy KPIBOT_COMMAND_DEADLINE)."""
    settings = build_settings(
        DATABASE_URL=database.engine.url.render_as_string(hide_password=False),
        SLACK_BOT_TOKEN="xoxb-reliability",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api_url,
        KPIBOT_TIMEZONE="Europe/Oslo",
        **({"KPIBOT_COMMAND_DEADLINE": deadline} if deadline is not None else {}),
    )
    return build_bot(settings, database=database)


@contextmanager
def serving(database: Database, slack_api_url: str, *,
            deadline: float | None = None) -> Iterator[str]:
    """The real aiohttp + Bolt app on a loopback port; yields its base URL."""
    with running_server(make_bot(database, slack_api_url, deadline=deadline)) as base_url:
        yield base_url


# --------------------------------------------------------------------------- one request
@dataclass(frozen=True)
class Answer:
    trigger_id: str
    status: int
    text: str
    outcome: str
    event_id: int | None = None
    error: str | None = None  # a client-side failure (timeout, reset)


def classify(status: int, payload: Any) -> tuple[str, int | None, str]:
    text = payload.get("text", "") if isinstance(payload, dict) else str(payload)
    if status != 200:
        return OTHER, None, text
    match = _LOGGED.match(text)
    if match:
        event_id = int(match.group(1))
        duplicate = f"already stored as #{event_id}" in text
        return (DUPLICATE if duplicate else CONFIRMED), event_id, text
    if text.startswith(_REFUSALS):
        return REFUSED, None, text
    if text == COMMIT_LATE_FOLLOWED_REPLY:
        return LATE, None, text
    return OTHER, None, text


def late_outcome(body: dict) -> str:
    """What the follow-up of a `late` answer (its response_url's body) says: CONFIRMED,
    REFUSED or OTHER."""
    text = body.get("text", "")
    _, _, answer = text.partition(", which the database answered late: ")
    return classify(200, {"text": answer})[0] if text.startswith("Update on ") else OTHER


def send_log(base_url: str, text: str, *, user_id: str, trigger_id: str,
             retry_num: int | None = None, timeout: float = 15.0,
             response_url: str | None = None) -> Answer:
    """One signed `/kpi <text>` from `user_id`; never raises. `response_url`: where a late
    outcome follows (default: an address nobody listens on)."""
    extra = None
    if retry_num is not None:
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    try:
        status, payload, _ = post_slash_command(
            base_url, text, secret=SECRET, team_id=TEAM, team_domain="reliability",
            user_id=user_id, user_name=user_id.lower(), channel_id="C0REL",
            trigger_id=trigger_id, extra_headers=extra, timeout=timeout,
            **({"response_url": response_url} if response_url else {}))
    except OSError as error:  # connection reset, timeout: counted, never hidden
        return Answer(trigger_id, 0, "", OTHER, error=f"{type(error).__name__}: {error}")
    outcome, event_id, reply = classify(status, payload)
    return Answer(trigger_id, status, reply, outcome, event_id)


# --------------------------------------------------------------------------- many clients
def run_clients(clients: int, work: Callable[[int], list[Answer]]) -> list[Answer]:
    """Run `work(client_index)` on `clients` threads that start together; all answers."""
    start = threading.Barrier(clients)

    def one(index: int) -> list[Answer]:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="slack-client") as pool:
        results = list(pool.map(one, range(clients)))
    return [answer for answers in results for answer in answers]


def outcomes(answers: list[Answer]) -> Counter[str]:
    return Counter(a.outcome for a in answers)


def unexpected(answers: list[Answer], allowed: tuple[str, ...]) -> list[Answer]:
    return [a for a in answers if a.outcome not in allowed]


# --------------------------------------------------------------------------- what is stored
def stored_events(database: Database) -> dict[str, tuple[int, int]]:
    """idempotency key -> (event id, count) of every event of the test workspace."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(Event.idempotency_key, Event.id, Event.count)
            .where(Event.workspace_id == WORKSPACE)).all()
    return {key: (event_id, count) for key, event_id, count in rows}


def event_total(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(Event)).scalar_one()


def rollup_sums(database: Database) -> tuple[int, int]:
    """(sum of rollup event counts, sum of rollup count_sum) over the test workspace."""
    with database.engine.connect() as connection:
        events, counts = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(DailyRollup.events), 0),
                      sa.func.coalesce(sa.func.sum(DailyRollup.count_sum), 0))
            .where(DailyRollup.workspace_id == WORKSPACE)).one()
    return int(events), int(counts)


def deals_out_of_step(database: Database) -> dict[str, tuple[dict, dict]]:
    """Deals whose stored row differs from a fresh rewrite from their events (rolled back):
    key -> (stored, recomputed). Empty when no concurrent write left a stale deal."""
    skip = {"id", "updated_at"}
    columns = [c for c in Deal.__table__.columns if c.name not in skip]

    def rows(session) -> dict[str, dict]:
        found = session.execute(sa.select(*columns).where(Deal.workspace_id == WORKSPACE))
        return {row.key: dict(row._mapping) for row in found}

    with database.write() as session:
        stored = rows(session)
        refresh_deals(session=session, workspace_id=WORKSPACE, deal_keys=list(stored))
        session.flush()
        recomputed = rows(session)
        session.rollback()
    return {key: (stored[key], recomputed.get(key)) for key in stored
            if stored[key] != recomputed.get(key)}


def key_of(trigger_id: str) -> str:
    return f"slack:{trigger_id}"


# --------------------------------------------------------------------------- figures
@dataclass
class Figures:
    """The numbers a test reports: one line, `reliability | name | key=value ...`."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def add(self, **values: Any) -> None:
        for key, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.values[key] = self.values.get(key, 0) + value
            else:
                self.values[key] = value

    def finish(self) -> None:
        self.seconds = time.perf_counter() - self.started

    def line(self) -> str:
        seconds = getattr(self, "seconds", time.perf_counter() - self.started)
        parts = " ".join(f"{k}={v}" for k, v in self.values.items())
        return f"reliability | {self.name} | {parts} seconds={seconds:.1f}"

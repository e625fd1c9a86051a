"""The SQL floor: the bare aggregate behind each command's numbers, straight on `events`.

One statement per command, run in-process on the same database with the same driver and
connection settings as the server (storage.engine), timed like the HTTP figures. It is what a
query that ignores the bot (no rollups, no deal table, no HTTP, no Slack verification, no
formatting) costs for the same period:

- log: one INSERT of an event row in a write transaction;
- funnel this-quarter: distinct deals with each stage event in the quarter;
- quota (this month): deal-won amounts and demo-booked counts per rep in the month;
- win-rate this-year: distinct deals won and lost in the year.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from reports.periods import parse_period
from storage.engine import Database
from storage.models import Event

STAGE_KINDS = ("lead", "mql", "sql", "opportunity", "demo-booked", "deal-won")


def _window(text: str, now: datetime, tz: str) -> tuple[datetime, datetime]:
    period = parse_period(text, now=now, tz=tz)
    return period.start, period.end


def _events_in(workspace_id: str, start: datetime, end: datetime, kinds) -> list:
    return [Event.workspace_id == workspace_id, Event.occurred_at >= start,
            Event.occurred_at < end, Event.voided_at.is_(None), Event.kind.in_(kinds)]


def statements(workspace_id: str, now: datetime, tz: str) -> dict[str, sa.Select]:
    """The read floors, by the command they stand under."""
    quarter = _window("this-quarter", now, tz)
    month = _window("this-month", now, tz)
    year = _window("this-year", now, tz)
    distinct_deals = sa.func.count(sa.distinct(Event.deal_key))
    return {
        "funnel": sa.select(Event.kind, distinct_deals)
        .where(*_events_in(workspace_id, *quarter, STAGE_KINDS)).group_by(Event.kind),
        "quota": sa.select(Event.user_id, Event.kind, sa.func.sum(Event.count),
                           sa.func.sum(Event.amount_minor))
        .where(*_events_in(workspace_id, *month, ("deal-won", "demo-booked")))
        .group_by(Event.user_id, Event.kind),
        "win-rate": sa.select(Event.kind, distinct_deals)
        .where(*_events_in(workspace_id, *year, ("deal-won", "deal-lost")))
        .group_by(Event.kind),
    }


def time_floors(url: str, workspace_id: str, user_id: str, now: datetime, tz: str, *,
                warmup: int, requests: int) -> dict[str, list[float]]:
    """Milliseconds per run of each floor statement (after `warmup` untimed runs)."""
    database = Database.from_url(url)
    samples: dict[str, list[float]] = {}
    try:
        for name, statement in statements(workspace_id, now, tz).items():
            with database.engine.connect() as connection:
                def read(connection=connection, statement=statement) -> None:
                    connection.execute(statement).all()
                    connection.rollback()
                samples[name] = _timed(read, warmup, requests)

        def insert() -> None:
            with database.write() as session:
                session.execute(sa.insert(Event).values(
                    workspace_id=workspace_id, kind="call", count=1, user_id=user_id,
                    logged_by=user_id, occurred_at=now, logged_at=now,
                    idempotency_key=f"bench-floor:{uuid.uuid4()}"))
        samples["log"] = _timed(insert, warmup, requests)
    finally:
        database.dispose()
    return samples


def _timed(run: Callable[[], None], warmup: int, requests: int) -> list[float]:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples

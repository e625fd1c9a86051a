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


class Floors:
    """Each floor statement ready to run once (`run(name)`, milliseconds), on connections
    held open for the whole benchmark, so the floors can be interleaved with the requests."""

    def __init__(self, url: str, workspace_id: str, user_id: str, now: datetime,
                 tz: str) -> None:
        self.database = Database.from_url(url)
        self.workspace_id, self.user_id, self.now = workspace_id, user_id, now
        self.statements = statements(workspace_id, now, tz)
        self.connections = {name: self.database.engine.connect() for name in self.statements}
        self.names = (*self.statements, "log")

    def run(self, name: str) -> float:
        started = time.perf_counter()
        if name == "log":
            self._insert()
        else:
            connection = self.connections[name]
            connection.execute(self.statements[name]).all()
            connection.rollback()
        return (time.perf_counter() - started) * 1000

    def _insert(self) -> None:
        with self.database.write() as session:
            session.execute(sa.insert(Event).values(
                workspace_id=self.workspace_id, kind="call", count=1, user_id=self.user_id,
                logged_by=self.user_id, occurred_at=self.now, logged_at=self.now,
                idempotency_key=f"bench-floor:{uuid.uuid4()}"))

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.database.dispose()

"""A command's deadline (storage/engine.py `Database.until`, migration 0010): nothing commits
after it, checked by the bot before COMMIT and, on PostgreSQL, by the server at COMMIT."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage.engine import DeadlinePassed
from storage.event_queries import list_events
from storage.recording import NewEvent, record_event
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TDEAD"


def _workspace(session):
    return ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack",
                            timezone="UTC", now=NOW)


def _event(key: str) -> NewEvent:
    return NewEvent(kind="call", idempotency_key=key, user_id="U1", logged_by="U1",
                    occurred_at=NOW)


def _stored(database) -> list[str]:
    with database.read() as session:
        return [e.idempotency_key for e in list_events(session=session, workspace_id=WORKSPACE)]


def test_a_write_whose_deadline_passes_before_commit_is_rolled_back(database):
    with database.write() as session:
        _workspace(session)
    command = database.until(time.monotonic() + 0.5)
    with pytest.raises((DeadlinePassed, sa.exc.OperationalError)), command.write() as session:
        record_event(session=session, workspace=_workspace(session), new=_event("late"))
        session.flush()
        time.sleep(0.6)  # the deadline passes before the commit
    with pytest.raises(DeadlinePassed), command.write():
        pass  # past the deadline nothing even starts
    in_time = database.until(time.monotonic() + 30)
    with in_time.write() as session:
        record_event(session=session, workspace=_workspace(session), new=_event("on-time"))
    assert _stored(database) == ["on-time"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_refuses_a_commit_that_reaches_it_after_the_deadline(database):
    """The COMMIT a frozen server receives before the deadline and runs after it (the bot has
    answered "nothing was stored" meanwhile) is refused by the server itself."""
    with database.write() as session:
        _workspace(session)

    def write(key: str, commit_by_ms: int | None) -> None:
        with Session(database.engine, expire_on_commit=False) as session:
            if commit_by_ms is not None:
                session.execute(sa.text(
                    "SELECT set_config('kpibot.commit_by', CAST(clock_timestamp() + "
                    "make_interval(secs => :ms / 1000.0) AS text), true)"), {"ms": commit_by_ms})
            record_event(session=session, workspace=_workspace(session), new=_event(key))
            session.execute(sa.text("SELECT pg_sleep(0.3)"))  # the server "froze" here
            session.commit()

    with pytest.raises(sa.exc.OperationalError, match="deadline passed"):
        write("late", commit_by_ms=100)
    write("in-time", commit_by_ms=30_000)
    write("no-deadline", commit_by_ms=None)  # imports, the scheduler, the CLI: no check
    assert sorted(_stored(database)) == ["in-time", "no-deadline"]

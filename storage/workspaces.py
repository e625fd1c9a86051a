"""Workspace and user rows (created on first sight), and workspace-wide bookkeeping:
its time zone, its history version and the lock on its derived rows."""

from __future__ import annotations

import functools
import secrets
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class

from storage import driver, workspace_guess
from storage.engine import dialect_insert
from storage.models import User, Workspace

if TYPE_CHECKING:
    from storage.engine import Database


def ensure_workspace(
    *,
    session: Session,
    workspace_id: str,
    platform: str,
    timezone: str = "UTC",
    currency: str = "USD",
    fiscal_year_start: int = 1,
    name: str | None = None,
    now: datetime | None = None,
) -> Workspace:
    """The workspace row, created with the given defaults on first sight (race-safe)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is not None:
        return workspace
    _insert_if_missing(session, Workspace, {
        "id": workspace_id, "platform": platform, "name": name, "timezone": timezone,
        "currency": currency, "fiscal_year_start": fiscal_year_start,
        "created_at": now or datetime.now(UTC),
    })
    return session.get(Workspace, workspace_id, populate_existing=True)


def ensure_user(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    display_name: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """The user row, created on first sight (race-safe); name and email kept current."""
    user = session.get(User, (workspace_id, user_id))
    if user is None:
        _insert_if_missing(session, User, {
            "workspace_id": workspace_id, "id": user_id, "display_name": display_name,
            "email": email, "is_admin": False, "created_at": now or datetime.now(UTC),
        })
        user = session.get(User, (workspace_id, user_id), populate_existing=True)
    elif (display_name and user.display_name != display_name) or (
            email and user.email != email):
        user.display_name = display_name or user.display_name
        user.email = email or user.email
        session.add(user)
        session.flush()
    return user


def workspace_and_user(database: Database, workspace_id: str, user_id: str
                       ) -> tuple[Workspace | None, tuple[str | None, str | None] | None]:
    """The workspace row and the user's (display name, email), in one statement; None for
    either that does not exist (the workspace None: the user None too).

    Every command asks this first: the row is read with Core (`Database.read_first`: on
    SQLite without a session or transaction) and the Workspace built from it as a detached
    object (what a closed session leaves), which costs a sixth of loading it through the ORM.
    PostgreSQL: what it answers is remembered for the caller's next command, which may guess
    it (`guessed_workspace_and_user`, storage/workspace_guess.py)."""
    postgresql = database.dialect == "postgresql"
    row = database.read_first(_workspace_and_user(postgresql), {
        "workspace_id": workspace_id, "user_id": user_id})
    if row is None:
        return None, None
    user = None
    if postgresql:  # the server's clock, for a write that sends its COMMIT at once
        *row, digest, server_now = row
        answered = time.monotonic()
        database.note_server_clock(server_now, answered)
        workspace_guess.note_clock(database.engine, server_now, answered)
    *columns, found, name, email = row
    if found is not None:
        user = (name, email)
        if postgresql:  # the next command of this caller may guess it (storage/workspace_guess.py)
            workspace_guess.remember(database.engine, workspace_id, user_id,
                                     workspace_guess.Guess(tuple(columns), user, digest))
    return _workspace_of(columns), user


def guessed_workspace_and_user(database: Database, workspace_id: str, user_id: str
                               ) -> tuple[Workspace, tuple[str | None, str | None],
                                          workspace_guess.WorkspaceCheck] | None:
    """PostgreSQL: what `workspace_and_user` answered this process last for this caller, with
    the check that the command's first transaction must carry (`Database.checking`); None when
    nothing is remembered (storage/workspace_guess.py)."""
    guess = workspace_guess.recall(database.engine, workspace_id, user_id)
    if guess is None:
        return None
    return _workspace_of(guess.columns), guess.user, workspace_guess.WorkspaceCheck(
        database.engine, workspace_id, user_id, guess.digest)


def _workspace_of(columns) -> Workspace:
    """A detached Workspace of the row's columns, built as the ORM builds a loaded row (a new
    instance, its values in its __dict__): Workspace(**values) validated them again and took
    55 µs of every command, this 8."""
    workspace = _workspaces().new_instance()
    workspace.__dict__.update(zip(_WORKSPACE_COLUMNS, columns, strict=True))
    make_transient_to_detached(workspace)
    return workspace


_WORKSPACE_COLUMNS = tuple(Workspace.__table__.c.keys())


@functools.cache
def _workspaces():
    """Workspace's class manager, its mappers configured first (the ORM does that on first use
    of a constructor or a query; a process's first command may read its workspace first)."""
    configure_mappers()
    return manager_of_class(Workspace)


@functools.cache
def _workspace_and_user(postgresql: bool = False):
    """workspace_and_user's statement, built once (building it cost more than running it);
    PostgreSQL's with the row's digest (storage/workspace_guess.py) and the server's
    `statement_timestamp()` last (`Database.note_server_clock`)."""
    workspaces, users = Workspace.__table__, User.__table__
    clock = (sa.literal_column(workspace_guess.DIGEST_SQL), sa.func.statement_timestamp()
             ) if postgresql else ()
    return (sa.select(*workspaces.c, users.c.id, users.c.display_name, users.c.email, *clock)
            .outerjoin(users, sa.and_(users.c.workspace_id == workspaces.c.id,
                                      users.c.id == sa.bindparam("user_id")))
            .where(workspaces.c.id == sa.bindparam("workspace_id")))


def _insert_if_missing(session: Session, model: type, values: dict) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so two first requests at once both succeed."""
    dialect = session.get_bind().dialect.name
    insert = dialect_insert(dialect)
    session.execute(insert(model.__table__).values(**values).on_conflict_do_nothing())


def workspace_zone(session: Session, workspace_id: str) -> ZoneInfo:
    """The workspace's time zone, whose days order a deal's history (UTC when unknown)."""
    zone = session.execute(select(Workspace.timezone).where(
        Workspace.id == workspace_id)).scalar_one_or_none()
    return ZoneInfo(zone or "UTC")


def local_day(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def note_history_change(*, session: Session, workspace_id: str) -> None:
    """Give the workspace a new history_version: what was remembered about past windows is
    stale. The process's guesses of the workspace's row are dropped (they would miss,
    storage/workspace_guess.py): its callers' next commands read it."""
    session.execute(sa.update(Workspace).where(Workspace.id == workspace_id)
                    .values(history_version=secrets.randbits(62)))
    workspace_guess.forget_workspace(session.get_bind(), workspace_id)


_DERIVED_ROWS_LOCK = 0x6B70_6431  # first key of the advisory lock (second: the workspace)


def lock_derived_rows(session: Session, workspace_id: str) -> None:
    """PostgreSQL: one writer at a time rewrites a workspace's deals and accounts.

    Without it two transactions logging on the same deal at once each read the events without
    the other's uncommitted one: both insert the new deal (a unique violation, so one command
    fails), or the later one overwrites the deal with a state that misses an event. Taken before
    the events are read and held to commit, the lock makes the second writer read the first
    one's event. SQLite needs nothing: BEGIN IMMEDIATE already serializes writers.
    """
    if session.get_bind().dialect.name != "postgresql" or _holds_lock(session, workspace_id):
        return
    session.flush()  # the lock goes to the connection, past the session (storage/pg_driver.py)
    driver.run(session.connection(), _LOCK_DERIVED_ROWS,
               {"space": _DERIVED_ROWS_LOCK, "workspace": workspace_id})


_LOCK_DERIVED_ROWS = sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:workspace))")


def derived_rows_lock_statement(workspace_id: str) -> tuple[sa.TextClause, dict]:
    """PostgreSQL: the lock of `lock_derived_rows` as a statement and its parameters, for a
    transaction that sends it itself (`Database.write_one(..., first=...)`)."""
    return _LOCK_DERIVED_ROWS, {"space": _DERIVED_ROWS_LOCK, "workspace": workspace_id}
_LOCK_HELD = "kpibot_derived_rows_locked"


def derived_rows_lock(workspace_id) -> sa.ColumnElement:
    """PostgreSQL: the lock of `lock_derived_rows` as an expression, for a statement that
    takes it on its way (an event's insert, storage/rollups.py `with_rollups`); then
    `note_derived_rows_locked`."""
    # the lock's first key written in: an anonymous bind parameter of a CTE that two parts
    # of a statement read (the stamp, storage/deals.py) is compiled twice
    return sa.func.pg_advisory_xact_lock(sa.literal_column(str(_DERIVED_ROWS_LOCK)),
                                         sa.func.hashtext(workspace_id))


def note_derived_rows_locked(session: Session, workspace_id: str) -> None:
    """The session's transaction holds the workspace's derived-rows lock: `lock_derived_rows`
    sends nothing more in it."""
    if not session.in_nested_transaction():  # a savepoint rolled back would release it
        session.info[_LOCK_HELD] = (workspace_id, session.get_transaction())


def _holds_lock(session: Session, workspace_id: str) -> bool:
    held = session.info.get(_LOCK_HELD)
    return held is not None and held[0] == workspace_id and held[1] is session.get_transaction()

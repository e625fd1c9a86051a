"""A SQLite read transaction through sqlite3 alone: `kpibot kpi NAME --json` without SQLAlchemy.

`Reader` opens the database file as storage/engine.py's SQLite engine does (the same PRAGMAs
on connect, a deferred `BEGIN` for the read) and runs the facts' statements by key: the SQLite
text of the same SQLAlchemy statements the chat commands run (`storage.prepared.Prepared`),
kept compiled on disk (storage/compiled.py). A key not compiled yet is compiled then, which
imports SQLAlchemy (a first run, or after kpibot or SQLAlchemy changed); the answer is the
same either way.

It offers what storage/facts.py asks of a session: `connection()` (itself: `dialect.name`,
`engine`, and `Prepared.rows` runs on it) and `get_bind()` (itself: the process-wide caches
are per database). `listeners` are told of every statement (`(sql, values)`), as an engine's
`before_cursor_execute` listeners are.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from storage import compiled

BUSY_TIMEOUT_MS = 10_000  # storage/engine.py SQLITE_BUSY_TIMEOUT_MS (tests check they agree)
_FILE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///([^?#]+)$")


def _plain_file(url: str) -> str | None:
    """The path of a plain SQLite URL (`sqlite:///path`, no options, not memory), or None."""
    found = _FILE_URL.match(url)
    return None if found is None or found.group(1) == ":memory:" else found.group(1)


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL, when it exists; None for anything else (another
    database, memory, URL options, a file not created yet): those keep the SQLAlchemy path."""
    path = _plain_file(url)
    return path if path is not None and Path(path).is_file() else None


def missing_file(url: str) -> str | None:
    """The file of a plain SQLite URL that is not there (yet), else None: connecting to it,
    even to ask its revision, would create it."""
    path = _plain_file(url)
    return path if path is not None and not Path(path).exists() else None


@dataclass(frozen=True)
class WorkspaceRow:
    """The workspace fields a KPI answer needs (bot/usecases/kpi.py, storage/facts.py)."""

    id: str
    currency: str
    timezone: str
    fiscal_year_start: int


class Reader:
    """One read transaction on the SQLite file `path`; `close()` ends it and writes the
    statements compiled meanwhile to `cache`."""

    dialect = SimpleNamespace(name="sqlite")

    def __init__(self, path: str, cache: compiled.Cache) -> None:
        self.cache = cache
        self.listeners: list[Callable[[str, tuple], None]] = []
        self._dialect: Any = None  # SQLAlchemy's, on a miss
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON",
                       f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}", "PRAGMA synchronous=NORMAL"):
            self._db.execute(pragma).fetchall()
        self.execute("BEGIN")

    # What storage/facts.py asks of a Session and its Connection.
    def connection(self) -> Reader:
        return self

    def get_bind(self) -> Reader:
        return self

    @property
    def engine(self) -> Reader:
        return self

    def close(self) -> None:
        """End the read (nothing was written) and save the statements compiled in it."""
        try:
            if self._db.in_transaction:
                self.execute("ROLLBACK")
        finally:
            self._db.close()
            self.cache.save()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def execute(self, sql: str, values: tuple = ()) -> list[tuple]:
        """`sql` on the driver with `values`; its rows."""
        for listener in self.listeners:
            listener(sql, values)
        return self._db.execute(sql, values).fetchall()

    def keyed_rows(self, key: tuple, build: Callable[[], Any],
                   params: Mapping[str, Any]) -> list[tuple]:
        """The rows of the statement `build()` makes, known by `key`: its compiled text from
        the cache, else compiled now (SQLAlchemy) and remembered."""
        text = self.cache.get(key)
        if text is None:
            text = compiled.compile_text(build(), self._sqlalchemy_dialect())
            self.cache.put(key, text)
        sql, values = text.request(params)
        return text.converted(self.execute(sql, values))

    def _sqlalchemy_dialect(self) -> Any:
        """SQLAlchemy's SQLite dialect, initialized as an engine's is (only on a miss)."""
        if self._dialect is None:
            import sqlalchemy as sa

            engine = sa.create_engine("sqlite://")
            with engine.connect():
                self._dialect = engine.dialect
            engine.dispose()
        return self._dialect

    # ------------------------------------------------------------------ the CLI's reads

    def workspace(self, workspace_id: str | None) -> WorkspaceRow | list[str]:
        """The workspace `workspace_id` (none: the only one), else the ids there are
        ([] when `workspace_id` is not there)."""
        if workspace_id:
            rows = self.keyed_rows(("storage.lite", "workspace"), _workspace_statement,
                                   {"id": workspace_id})
            return WorkspaceRow(*rows[0]) if rows else []
        rows = self.keyed_rows(("storage.lite", "workspaces"), _workspaces_statement, {})
        return WorkspaceRow(*rows[0]) if len(rows) == 1 else [row[0] for row in rows]


def _workspaces_statement() -> Any:
    import sqlalchemy as sa

    from storage.models import Workspace

    return (sa.select(Workspace.id, Workspace.currency, Workspace.timezone,
                      Workspace.fiscal_year_start).order_by(Workspace.id))


def _workspace_statement() -> Any:
    import sqlalchemy as sa

    from storage.models import Workspace

    return _workspaces_statement().where(Workspace.id == sa.bindparam("id"))


def stored_revisions(path: str) -> list[str]:
    """The revisions in the SQLite file's alembic_version table (none when absent), read
    with sqlite3 (storage/migrate.py `stored_revisions`, without SQLAlchemy)."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                          "AND name = 'alembic_version'").fetchall():
            return []
        return [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
    finally:
        db.close()

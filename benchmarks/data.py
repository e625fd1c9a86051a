"""Generated histories for the benchmark, cached between runs.

A history of N events (sampledata.seed_workspace, seed S) is generated once and kept:

- SQLite: `<cache>/sqlite-<N>-seed<S>.db` (+ `.json` beside it: when the history ends, how long
  it took). Each run works on a copy, so the events `/kpi log` adds never reach the cache.
  Every copy is on disk (`os.sync()`) before anything is timed on it.
- PostgreSQL: a database `kpibench_<N>_s<S>` on the server (a throwaway cluster keeps its data
  directory under `<cache>/postgresql/`, so it survives between runs too; the database's comment
  says when its history ends, whatever port the server has next time); each run works on a
  `CREATE DATABASE ... TEMPLATE` copy of it (`STRATEGY = FILE_COPY`: `_copy_database`).

The history ends when it was generated and the server answers with the real clock, so a cached
history is reused only while it is fresh: generated less than `max_age` ago and in the current
calendar quarter (otherwise `/kpi funnel this-quarter` would measure an empty quarter), and made
by the current generator (`sampledata.STORY_VERSION`). Every
cached database is upgraded to the newest schema before use (a new index migration applies to
it once).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from sampledata import STORY_VERSION, seed_workspace
from storage import migrate
from storage.engine import Database

WORKSPACE_ID = "slack:TBENCH"
TEAM_ID = "TBENCH"
TIMEZONE = "Europe/Oslo"
CURRENCY = "USD"
DEFAULT_MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class History:
    """A generated history ready to serve: the URL of a private working copy."""

    events: int
    seed: int
    url: str  # the working copy the server and the floors use
    end: datetime  # the generated history ends here
    generated_seconds: float | None  # how long generating it took (None: reused from cache)
    cached: bool
    cleanup: Callable[[], None]


def _quarter(instant: datetime) -> tuple[int, int]:
    return instant.year, (instant.month - 1) // 3


def _fresh(meta: dict, now: datetime, max_age: timedelta) -> bool:
    end = datetime.fromisoformat(meta["end"])
    return (now - end < max_age and _quarter(end) == _quarter(now) and "events" in meta
            and meta.get("story") == STORY_VERSION)


def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _generate(url: str, events: int, seed: int, end: datetime,
              progress: Callable[[str], None]) -> dict:
    migrate.upgrade(url)
    database = Database.from_url(url)
    started = time.perf_counter()
    last = [started]

    def report(done: int, target: int) -> None:
        if time.perf_counter() - last[0] > 15:
            last[0] = time.perf_counter()
            progress(f"  generating {target:,} events: {done:,} done")

    try:
        stats = seed_workspace(database=database, workspace_id=WORKSPACE_ID,
                               target_events=events, end=end, seed=seed, timezone=TIMEZONE,
                               currency=CURRENCY, progress=report)
    finally:
        database.dispose()
    return {"end": end.isoformat(), "events": stats["generated"], "deals": stats["deals"],
            "seed": seed, "target_events": events, "workspace_id": WORKSPACE_ID,
            "story": STORY_VERSION,
            "generated_seconds": round(time.perf_counter() - started, 1)}


def sqlite_history(cache_dir: Path, work_dir: Path, events: int, seed: int, *,
                   max_age: timedelta = DEFAULT_MAX_AGE, now: datetime | None = None,
                   progress: Callable[[str], None] = print) -> History:
    """The cached SQLite history of `events` events (generated when missing or stale), copied
    into `work_dir`."""
    now = now or datetime.now(UTC)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / f"sqlite-{events}-seed{seed}.db"
    meta_path = _meta_path(cached)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and cached.exists() else None
    reused = meta is not None and _fresh(meta, now, max_age)
    if not reused:
        progress(f"generating a {events:,}-event SQLite history (seed {seed}) into {cached}")
        for stale in (cached, meta_path, *cache_dir.glob(f"{cached.name}-*")):
            stale.unlink(missing_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.unlink(missing_ok=True)
        meta = _generate(f"sqlite:///{partial}", events, seed, now.replace(microsecond=0),
                         progress)
        _checkpoint(partial)
        partial.rename(cached)
        meta_path.write_text(json.dumps(meta, indent=1))
    else:
        migrate.upgrade(f"sqlite:///{cached}")  # a newer schema applies to the cache once
        _checkpoint(cached)
    work_dir.mkdir(parents=True, exist_ok=True)
    copy = work_dir / f"bench-{events}-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(cached, copy)
    # On disk before the server starts: else the first WAL checkpoint's fsync (a /kpi log
    # commit, about every 100) writes the whole freshly copied file out (230 ms at 1M). And
    # whatever else the machine holds unwritten (a history generated just before, say): the
    # kernel would write it back while the figures are timed.
    os.sync()

    def cleanup() -> None:
        for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            path.unlink(missing_ok=True)

    return History(events=int(meta["events"]), seed=seed, url=f"sqlite:///{copy}",
                   end=datetime.fromisoformat(meta["end"]),
                   generated_seconds=None if reused else meta["generated_seconds"],
                   cached=reused, cleanup=cleanup)


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the database file, so that one file is the whole database."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("ANALYZE")  # planner statistics, as a long-running database has
    finally:
        connection.close()


# ------------------------------------------------------------------------------ PostgreSQL

def _admin(server_url: str, statement: str) -> None:
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _with_database(server_url: str, name: str) -> str:
    return sa.engine.make_url(server_url).set(database=name).render_as_string(
        hide_password=False)


def postgres_history(server_url: str, cache_dir: Path, events: int, seed: int, *,
                     max_age: timedelta = DEFAULT_MAX_AGE, now: datetime | None = None,
                     progress: Callable[[str], None] = print) -> History:
    """The cached PostgreSQL history (database `kpibench_<N>_s<S>` on the server at
    `server_url`, generated when missing or stale), copied into a fresh database.

    What a cached database holds (when its history ends, ...) is its own comment
    (`COMMENT ON DATABASE`), so it travels with the data: a throwaway cluster that starts on
    another port next time still finds its histories."""
    now = now or datetime.now(UTC)
    name = f"kpibench_{events}_s{seed}"
    cache_url = _with_database(server_url, name)
    meta = _database_meta(server_url, name)
    reused = meta is not None and _fresh(meta, now, max_age)
    if not reused:
        progress(f"generating a {events:,}-event PostgreSQL history (seed {seed}) as {name}")
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(server_url, f'CREATE DATABASE "{name}"')
        meta = _generate(cache_url, events, seed, now.replace(microsecond=0), progress)
        engine = sa.create_engine(cache_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")  # planner statistics, once
        finally:
            engine.dispose()
        quoted = json.dumps(meta).replace("'", "''")
        _admin(server_url, f"COMMENT ON DATABASE \"{name}\" IS '{quoted}'")
    else:
        migrate.upgrade(cache_url)
    copy = f"kpibench_run_{uuid.uuid4().hex[:8]}"
    _copy_database(server_url, name, copy)

    def cleanup() -> None:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')

    return History(events=int(meta["events"]), seed=seed, url=_with_database(server_url, copy),
                   end=datetime.fromisoformat(meta["end"]),
                   generated_seconds=None if reused else meta["generated_seconds"],
                   cached=reused, cleanup=cleanup)


def _copy_database(server_url: str, template: str, copy: str) -> None:
    """`copy`, a copy of `template`, on disk before anything is timed on it, as a SQLite
    history's copy is. Since PostgreSQL 15 CREATE DATABASE copies a template block by block
    through the WAL (420 MB of it for the 1M history), which the server and then the kernel
    write out while the benchmark runs; FILE_COPY copies the files between two checkpoints (as
    every CREATE DATABASE did before 15), and os.sync() writes them out when the server is
    this machine's (the throwaway cluster)."""
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            strategy = (" STRATEGY = FILE_COPY"
                        if connection.dialect.server_version_info >= (15,) else "")
            connection.exec_driver_sql(
                f'CREATE DATABASE "{copy}" TEMPLATE "{template}"{strategy}')
    finally:
        engine.dispose()
    os.sync()


def _database_meta(server_url: str, name: str) -> dict | None:
    """The metadata a cached database carries as its comment; None if there is none."""
    engine = sa.create_engine(server_url)
    try:
        with engine.connect() as connection:
            comment = connection.execute(sa.text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :n"), {"n": name}).scalar()
    finally:
        engine.dispose()
    try:
        return json.loads(comment) if comment else None
    except ValueError:
        return None

"""A throwaway PostgreSQL cluster for tests.

    cluster = PostgresCluster()      # finds the binaries, picks a free port
    cluster.start()                  # initdb (first time) + pg_ctl start, ~1-2 s
    url = fresh_postgres_url(cluster)  # new database → "postgresql+psycopg://..."
    cluster.restart()                # same port, same data directory
    cluster.close()                  # stop and delete everything

Binaries: ``$KPIBOT_PG_BIN``, else ``pg_config --bindir``, else the highest
``/usr/lib/postgresql/*/bin``, else ``initdb`` on ``PATH``.

PostgreSQL refuses to run as root: when the tests run as root, the server runs
as the ``postgres`` OS user if it exists (``$KPIBOT_PG_OS_USER`` overrides),
else as ``kpibot-pg``, which is created with ``useradd`` when missing.

With ``$KPIBOT_TEST_POSTGRES_URL`` set (e.g. ``postgresql://user:pw@host:5432/postgres``)
no cluster is started: databases are created on (and dropped from) that server.

Fixtures: ``postgres_cluster`` (session scope, one cluster per pytest process) and
``postgres_url`` (function scope, a fresh database dropped after the test).
Without binaries the fixtures skip, unless ``KPIBOT_REQUIRE_POSTGRES=1`` (then they fail).
Finding the binaries and the OS user, free ports: tests/support/postgres_host.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres_host import (
    DB_SUPERUSER,
    ENV_EXTERNAL_URL,
    ENV_PG_BIN,
    ENV_REQUIRE,
    PostgresError,
    PostgresNotAvailable,
    find_pg_bin,
    free_port,
    log_tail,
    os_user_for_root,
    quote_ident,
)

__all__ = [
    "ENV_EXTERNAL_URL",
    "ENV_PG_BIN",
    "ENV_REQUIRE",
    "PostgresCluster",
    "PostgresError",
    "PostgresNotAvailable",
    "acquire_shared_cluster",
    "find_pg_bin",
    "fresh_postgres_url",
    "postgres_cluster",
    "postgres_url",
    "release_shared_cluster",
]

_PORT_IN_USE = ("could not bind", "address already in use", "could not create any tcp/ip sockets")


# ---------------------------------------------------------------------------- cluster
_live_clusters: set[PostgresCluster] = set()


@atexit.register
def _stop_leftovers() -> None:
    for cluster in list(_live_clusters):
        with contextlib.suppress(Exception):
            cluster.close()


class PostgresCluster:
    """A private PostgreSQL server in a temporary directory (or an external server)."""

    def __init__(
        self,
        bin_dir: str | Path | None = None,
        *,
        port: int | None = None,
        base_dir: str | Path | None = None,
        extra_options: list[str] | None = None,
    ) -> None:
        self.external_url: str | None = None
        self.bin_dir = Path(bin_dir) if bin_dir else find_pg_bin()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._fixed_port = port is not None
        self.user = DB_SUPERUSER
        self.extra_options = list(extra_options or [])
        self._run_as = os_user_for_root() if os.geteuid() == 0 else None
        self._own_base_dir = base_dir is None
        self._base_dir_arg = Path(base_dir) if base_dir else None
        self.base_dir: Path | None = None
        self._initialized = False
        self._running = False
        self._created: set[str] = set()
        self._lock = threading.RLock()
        self.startup_seconds: float | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresCluster:
        """Use an existing server; ``url`` is any libpq/SQLAlchemy PostgreSQL URL."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self = cls.__new__(cls)
        self.external_url = url
        self.bin_dir = None  # type: ignore[assignment]
        self.host = parsed.host or "127.0.0.1"
        self.port = parsed.port or 5432
        self._fixed_port = True
        self.user = parsed.username or DB_SUPERUSER
        self.extra_options = []
        self._run_as = None
        self._own_base_dir = False
        self._base_dir_arg = None
        self.base_dir = None
        self._initialized = True
        self._running = True
        self._created = set()
        self._lock = threading.RLock()
        self.startup_seconds = 0.0
        return self

    # -------------------------------------------------------------- properties
    @property
    def external(self) -> bool:
        return self.external_url is not None

    @property
    def can_restart(self) -> bool:
        return not self.external

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def os_user(self) -> str | None:
        """OS account the server runs as when the tests run as root (else None)."""
        return self._run_as.pw_name if self._run_as else None

    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._base() / "sock"

    @property
    def log_file(self) -> Path:
        return self._base() / "postgres.log"

    def _base(self) -> Path:
        if self.base_dir is None:
            raise PostgresError("cluster has no directory (external server or not started)")
        return self.base_dir

    # -------------------------------------------------------------- URLs
    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL: ``postgresql+psycopg://postgres@127.0.0.1:PORT/DBNAME``."""
        return self._render(dbname, "postgresql+psycopg")

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq URL for ``psycopg.connect``: ``postgresql://postgres@127.0.0.1:PORT/DBNAME``."""
        return self._render(dbname, "postgresql")

    def _render(self, dbname: str, driver: str) -> str:
        if self.external_url is not None:
            from sqlalchemy.engine import make_url

            parsed = make_url(self.external_url).set(drivername=driver, database=dbname)
            return parsed.render_as_string(hide_password=False)
        return f"{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        """An autocommit psycopg connection (caller closes it)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(self.dsn(dbname), **kwargs)

    # -------------------------------------------------------------- databases
    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); returns its URL.

        The template must have no open connections (dispose engines first).
        """
        ident = quote_ident(name)
        statement = f"CREATE DATABASE {ident}"
        if template is not None:
            statement += f" TEMPLATE {quote_ident(template)}"
        with self.connect() as conn:
            conn.execute(statement)
        with self._lock:
            self._created.add(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting any remaining sessions."""
        ident = quote_ident(name)
        with self.connect() as conn:
            if conn.info.server_version >= 130000:
                conn.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
            else:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(f"DROP DATABASE IF EXISTS {ident}")
        with self._lock:
            self._created.discard(name)

    def list_databases(self) -> list[str]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate"
            ).fetchall()
        return sorted(r[0] for r in rows)

    # -------------------------------------------------------------- lifecycle
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_"))}
        env.update({"LANG": "C", "LC_ALL": "C", "TZ": "UTC"})
        if self.base_dir is not None:
            env["HOME"] = str(self.base_dir)
        return env

    def _run(self, args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        try:
            return subprocess.run(
                args,
                env=self._env(),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
                **kwargs,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(
                f"{' '.join(args)} timed out after {timeout}s\n{exc.output or ''}\n"
                f"--- {self.log_file} (tail) ---\n{log_tail(self.log_file)}"
            ) from exc

    def _fail(self, what: str, result: subprocess.CompletedProcess[str]) -> PostgresError:
        as_user = f" (as OS user {self.os_user})" if self.os_user else ""
        return PostgresError(
            f"{what} failed{as_user} with exit code {result.returncode}: "
            f"{' '.join(map(str, result.args))}\n{result.stdout.strip()[-4000:]}\n"
            f"--- {self.log_file} (tail) ---\n{log_tail(self.log_file)}"
        )

    def _make_base_dir(self) -> None:
        if self.base_dir is not None:
            return
        if self._base_dir_arg is not None:
            self._base_dir_arg.mkdir(parents=True, exist_ok=True)
            self.base_dir = self._base_dir_arg
        else:
            # Under /tmp (world-traversable) so the unprivileged server user can reach it,
            # and short, because unix socket paths are limited to ~107 bytes.
            parent = "/tmp" if os.path.isdir("/tmp") else None
            self.base_dir = Path(tempfile.mkdtemp(prefix="kpibot-pg-", dir=parent))
        os.chmod(self.base_dir, 0o755)
        (self.base_dir / "sock").mkdir(exist_ok=True)
        if self._run_as is not None:
            for path in (self.base_dir, self.base_dir / "sock"):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _initdb(self) -> None:
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=120,
        )
        (self._base() / "initdb.log").write_text(result.stdout)
        if result.returncode != 0:
            raise self._fail("initdb", result)
        self._initialized = True

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            f"-k {self.socket_dir}",
            f"-h {self.host}",
            "-F",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=200",
            "-c shared_buffers=32MB",
            "-c TimeZone=UTC",
            *self.extra_options,
        ]
        return " ".join(options)

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                self._server_options(),
                "start",
            ],
            timeout=90,
        )

    def start(self) -> PostgresCluster:
        """initdb (first time only) and start the server; waits until it accepts connections."""
        with self._lock:
            if self._running:
                return self
            started = time.monotonic()
            self._make_base_dir()
            if not self._initialized:
                self._initdb()
            for attempt in range(5):
                log_size = self.log_file.stat().st_size if self.log_file.exists() else 0
                result = self._pg_ctl_start()
                if result.returncode == 0:
                    break
                new_log = ""
                with contextlib.suppress(OSError), open(self.log_file, errors="replace") as fh:
                    fh.seek(log_size)
                    new_log = fh.read().lower()
                port_taken = any(m in new_log for m in _PORT_IN_USE)
                if port_taken and not self._fixed_port and attempt < 4:
                    self.port = free_port()
                    continue
                raise self._fail("pg_ctl start", result)
            self._running = True
            _live_clusters.add(self)
            self.startup_seconds = time.monotonic() - started
            return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate — immediate simulates a crash)."""
        with self._lock:
            if not self._running or self.external:
                return
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "stop",
                ],
                timeout=90,
            )
            if result.returncode != 0:
                raise self._fail("pg_ctl stop", result)
            self._running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port and data directory."""
        if self.external:
            raise PostgresError("cannot restart an external server (KPIBOT_TEST_POSTGRES_URL)")
        with self._lock:
            self.stop(mode)
            self._fixed_port = True  # clients hold URLs with this port
            self.start()

    def close(self) -> None:
        """Stop the server and delete its directory; on an external server, drop the
        databases this object created."""
        with self._lock:
            if self.external:
                for name in list(self._created):
                    with contextlib.suppress(Exception):
                        self.drop_database(name)
                return
            try:
                if self._running:
                    try:
                        self.stop()
                    except PostgresError:
                        self.stop("immediate")
            finally:
                _live_clusters.discard(self)
                if self._own_base_dir and self.base_dir is not None:
                    shutil.rmtree(self.base_dir, ignore_errors=True)
                    self.base_dir = None
                    self._initialized = False

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.external_url and "external" or str(self.base_dir)
        return f"<PostgresCluster {self.host}:{self.port} {where} running={self._running}>"


# ---------------------------------------------------------------------------- sharing
_shared_lock = threading.Lock()
_shared: PostgresCluster | None = None
_shared_refs = 0


def acquire_shared_cluster() -> PostgresCluster:
    """The process-wide cluster (started on first use); pair with release_shared_cluster().

    Lets several fixture definitions (conftest and a test module importing the same
    fixture) share one server instead of starting one each.
    """
    global _shared, _shared_refs
    with _shared_lock:
        if _shared is None:
            external = os.environ.get(ENV_EXTERNAL_URL)
            cluster = PostgresCluster.from_url(external) if external else PostgresCluster()
            try:
                cluster.start()
            except BaseException:
                cluster.close()
                raise
            _shared = cluster
        _shared_refs += 1
        return _shared


def release_shared_cluster() -> None:
    global _shared, _shared_refs
    with _shared_lock:
        _shared_refs -= 1
        if _shared_refs <= 0 and _shared is not None:
            cluster, _shared, _shared_refs = _shared, None, 0
            cluster.close()


def fresh_postgres_url(
    cluster: PostgresCluster, prefix: str = "kpibot_test", *, template: str | None = None
) -> str:
    """Create a uniquely named database on ``cluster`` (optionally from ``template``);
    return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return cluster.create_database(name, template=template)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started PostgreSQL cluster shared by the whole test session."""
    try:
        cluster = acquire_shared_cluster()
    except PostgresNotAvailable as exc:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(f"PostgreSQL is required ({ENV_REQUIRE}=1) but {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield cluster
    finally:
        release_shared_cluster()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database, dropped after the test."""
    from sqlalchemy.engine import make_url

    url = fresh_postgres_url(postgres_cluster)
    yield url
    name = make_url(url).database
    if name and postgres_cluster.is_running:
        postgres_cluster.drop_database(name)

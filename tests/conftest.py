"""Shared fixtures: the same tests on a SQLite file and on a throwaway PostgreSQL cluster.

`database` is parametrized over both backends. Each test gets a fresh, migrated database:
a copy of a migrated SQLite file, or `CREATE DATABASE ... TEMPLATE` of a migrated template.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import migrate
from storage.engine import Database
from tests.support import long_run
from tests.support.postgres import postgres_cluster  # noqa: F401  (fixture)
from tests.support.slack_api import slack_api  # noqa: F401  (fixture)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_ran_on: Counter[str] = Counter()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="also run the long reliability tests")


def pytest_configure(config: pytest.Config) -> None:
    long_run.LONG = bool(config.getoption("--long"))
    # The 2 s command deadline is production's answer to a database that does not answer; on a
    # loaded 2-core test machine it would also refuse healthy commands. Tests of other
    # behaviour get room; the deadline's own tests set it (tests/reliability/
    # test_frozen_database.py, tests/storage/test_deadline.py). Subprocesses inherit it.
    os.environ.setdefault("KPIBOT_COMMAND_DEADLINE", "30")
    # `kpibot kpi NAME --json` keeps compiled statements (storage/compiled.py): not in the
    # home of whoever runs the tests.
    os.environ.setdefault("KPIBOT_CACHE_DIR", tempfile.mkdtemp(prefix="kpibot-test-cache-"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long run: pass --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for backend in ("sqlite", "postgresql"):
            if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid \
                    or f"-{backend}-" in report.nodeid:
                _ran_on[backend] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(
        f"kpibot: {_ran_on['sqlite']} tests passed on sqlite, "
        f"{_ran_on['postgresql']} tests passed on postgresql"
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster) -> str:  # noqa: F811
    name = "kpibot_template"
    _pg_admin_execute(postgres_cluster, f'DROP DATABASE IF EXISTS "{name}"')
    _pg_admin_execute(postgres_cluster, f'CREATE DATABASE "{name}"')
    migrate.upgrade(postgres_cluster.url(name))
    return name


def _pg_admin_execute(cluster, statement: str) -> None:
    engine = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database on each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kpibot.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    _pg_admin_execute(cluster, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield cluster.url(name)
    _pg_admin_execute(cluster, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


class FixedClock:
    """An injectable clock: `clock()` returns `now`; tests move it with `advance`/assignment."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 18, 14, 30, tzinfo=UTC))  # a Wednesday

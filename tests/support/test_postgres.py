"""Tests of the throwaway PostgreSQL cluster (tests/support/postgres.py)."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import postgres as pg_support
from tests.support.postgres import (
    PostgresCluster,
    PostgresError,
    PostgresNotAvailable,
    find_pg_bin,
    fresh_postgres_url,
)

# Fixtures used here (the project conftest may import them too: the PostgreSQL
# cluster is shared per process either way).
postgres_cluster = pg_support.postgres_cluster
postgres_url = pg_support.postgres_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_pg_bin_env_var_must_point_at_binaries(monkeypatch, tmp_path):
    monkeypatch.setenv("KPIBOT_PG_BIN", str(tmp_path))
    with pytest.raises(PostgresNotAvailable, match="KPIBOT_PG_BIN"):
        find_pg_bin()


@pytest.mark.parametrize(("require", "outcome"), [("0", "skipped"), ("1", "error")])
def test_fixture_without_binaries_skips_or_fails(tmp_path, require, outcome):
    test_file = tmp_path / "test_pg_missing.py"
    test_file.write_text(
        textwrap.dedent(
            """
            from tests.support.postgres import postgres_cluster  # noqa: F401

            def test_needs_pg(postgres_cluster):
                pass
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIBOT_")}
    env.update(
        KPIBOT_PG_BIN=str(tmp_path / "nowhere"),
        KPIBOT_REQUIRE_POSTGRES=require,
        PYTHONPATH=str(REPO_ROOT),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert f"1 {outcome}" in result.stdout, result.stdout + result.stderr
    assert "KPIBOT_PG_BIN" in result.stdout


@pytest.mark.postgres
class TestPostgres:
    def test_select_1(self, postgres_cluster):
        with postgres_cluster.connect() as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("show server_encoding").fetchone() == ("UTF8",)
        assert postgres_cluster.url("x").startswith("postgresql+psycopg://")

    def test_sqlalchemy_url(self, postgres_url):
        from sqlalchemy import create_engine, text

        assert postgres_url.startswith("postgresql+psycopg://")
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as conn:
                assert (
                    conn.execute(text("select current_database()")).scalar()
                    == (postgres_url.rsplit("/", 1)[1])
                )
                tables = conn.execute(
                    text("select count(*) from pg_tables where schemaname = 'public'")
                ).scalar()
                assert tables == 0
        finally:
            engine.dispose()

    def test_create_and_drop_database(self, postgres_cluster):
        url = fresh_postgres_url(postgres_cluster)
        name = url.rsplit("/", 1)[1]
        assert name.startswith("kpibot_test_")
        assert name in postgres_cluster.list_databases()
        other = fresh_postgres_url(postgres_cluster)
        assert other != url
        postgres_cluster.drop_database(other.rsplit("/", 1)[1])
        with postgres_cluster.connect(name) as conn:  # an open session does not block the drop
            conn.execute("create table t (x int)")
            postgres_cluster.drop_database(name)
        assert name not in postgres_cluster.list_databases()
        postgres_cluster.drop_database(name)  # dropping twice is fine
        with pytest.raises(ValueError):
            postgres_cluster.create_database('bad"name')

    def test_create_from_template(self, postgres_cluster):
        template = fresh_postgres_url(postgres_cluster, "kpibot_tpl").rsplit("/", 1)[1]
        with postgres_cluster.connect(template) as conn:
            conn.execute("create table migrated (x int)")
            conn.execute("insert into migrated values (42)")
        copy = fresh_postgres_url(postgres_cluster, template=template).rsplit("/", 1)[1]
        with postgres_cluster.connect(copy) as conn:
            assert conn.execute("select x from migrated").fetchone() == (42,)
        postgres_cluster.drop_database(copy)
        postgres_cluster.drop_database(template)

    def test_runs_unprivileged(self, postgres_cluster):
        if postgres_cluster.external:
            pytest.skip("external server")
        owner = os.stat(postgres_cluster.data_dir).st_uid
        assert owner != 0
        if os.geteuid() == 0:
            assert pwd.getpwuid(owner).pw_name == postgres_cluster.os_user

    def test_restart_keeps_data(self):
        cluster = PostgresCluster()
        with cluster:
            url = fresh_postgres_url(cluster)
            name = url.rsplit("/", 1)[1]
            with cluster.connect(name) as conn:
                conn.execute("create table deals (id int primary key, amount int)")
                conn.execute("insert into deals values (1, 500)")
            port = cluster.port
            cluster.restart()
            assert cluster.port == port and cluster.is_running
            with cluster.connect(name) as conn:
                assert conn.execute("select amount from deals").fetchone() == (500,)
            # a crash (immediate stop) loses nothing committed either
            cluster.stop(mode="immediate")
            assert not cluster.is_running
            with pytest.raises(Exception):  # noqa: B017 - any connection error
                cluster.connect(name, connect_timeout=2)
            cluster.start()
            with cluster.connect(name) as conn:
                assert conn.execute("select count(*) from deals").fetchone() == (1,)
            base_dir = cluster.base_dir
            assert cluster.startup_seconds is not None and cluster.startup_seconds < 5
        assert base_dir is not None and not base_dir.exists()

    def test_external_url_mode(self, postgres_cluster):
        external = PostgresCluster.from_url(postgres_cluster.dsn("postgres"))
        assert external.external and not external.can_restart
        url = fresh_postgres_url(external)
        assert url.startswith("postgresql+psycopg://") and url.endswith(url.rsplit("/", 1)[1])
        name = url.rsplit("/", 1)[1]
        assert name in postgres_cluster.list_databases()
        with pytest.raises(PostgresError):
            external.restart()
        external.close()  # drops what it created, leaves the server running
        assert name not in postgres_cluster.list_databases()
        with postgres_cluster.connect() as conn:
            assert conn.execute("select 1").fetchone() == (1,)

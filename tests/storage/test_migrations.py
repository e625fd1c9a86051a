"""Alembic: upgrade from empty works and `alembic check` is clean, on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from storage import migrate


def test_upgrade_from_empty_then_check_is_clean(database_url):
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in sa.inspect(connection).get_table_names():
                connection.exec_driver_sql(f'DROP TABLE "{table}"')
        else:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.is_at_head(database_url)
    migrate.check(database_url)  # raises when models and migrations disagree
    tables = set(sa.inspect(sa.create_engine(database_url)).get_table_names())
    assert {"workspaces", "users", "events", "deals", "daily_rollups", "accounts",
            "quotas"} <= tables

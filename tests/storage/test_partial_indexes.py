"""The partial indexes declared in storage/models.py (`partial_index`: the predicate in
`info["where"]`, created by the migrations) are in every migrated database with exactly that
predicate, and the database has no partial index the models do not declare."""

from __future__ import annotations

import re

from storage.models import Table

DATABASE_PREDICATES = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'",
    "postgresql": "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
                  "JOIN pg_class c ON c.oid = i.indexrelid "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE i.indpred IS NOT NULL AND n.nspname = current_schema()",
}


def _words(predicate: str) -> str:
    """The predicate without parentheses, case or spacing (PostgreSQL adds parentheses)."""
    return " ".join(re.sub(r"[()]", " ", predicate).lower().split())


def declared() -> dict[str, str]:
    return {index.name: index.info["where"] for table in Table.metadata.tables.values()
            for index in table.indexes if "where" in index.info}


def test_the_declared_partial_indexes_are_the_databases(database):
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(DATABASE_PREDICATES[database.dialect]).all()
    found = {name: (sql.split(" WHERE ", 1)[1] if database.dialect == "sqlite" else sql)
             for name, sql in rows}
    assert len(declared()) == 5
    assert {name: _words(where) for name, where in found.items()} == {
        name: _words(where) for name, where in declared().items()}

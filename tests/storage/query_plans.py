"""Capturing the statements a piece of storage code sends, and checking their SQLite query
plans: no scan of a table, nor of a whole workspace's history."""

from __future__ import annotations

import re

import sqlalchemy as sa

_FULL_SCAN = re.compile(r"\bSCAN (events|deals|daily_rollups|monthly_rollups|accounts|quotas)\b")
# An index search on the workspace alone reads that workspace's whole history.
_WORKSPACE_SCAN = re.compile(
    r"\bSEARCH (events|deals|daily_rollups|monthly_rollups) USING .*\(workspace_id=\?\)$")


def _captured(database, run) -> list[tuple[str, object]]:
    """The SELECT/UPDATE/DELETE statements `run()` sends (workspace lookups left out)."""
    captured: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, _context, many) -> None:
        if not many:
            captured.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", grab)
    try:
        run()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", grab)
    return [(q, p) for q, p in captured
            if q.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
            and "FROM workspaces" not in q]


def _plans(database, statements, label: str) -> str:
    """EXPLAIN QUERY PLAN of each statement; fails on a scan of a table or a workspace."""
    lines = []
    with database.engine.connect() as connection:
        for statement, parameters in statements:
            plan = [row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters)]
            scans = [line for line in plan
                     if _FULL_SCAN.search(line) or _WORKSPACE_SCAN.search(line)]
            assert not scans, f"{label}: {scans}\n{statement}"
            lines += plan
    return "\n".join(lines)

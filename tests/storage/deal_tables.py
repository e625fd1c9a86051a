"""What the tests of the tables kept by triggers on `deals` share (open_deal_stages,
deal_counts, deal_durations): an import through the real importer, the triggers a database
holds, and the SQLite instructions a fact costs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from storage.facts import SqlFacts
from storage.models import Workspace


def import_rows(database, tmp_path: Path, rows: list[str], *, workspace_id: str,
                now: datetime) -> None:
    """Import canonical CSV `rows` into `workspace_id`; every row must be stored."""
    path = tmp_path / "import.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n" + "".join(f"{r}\n" for r in rows),
                    encoding="utf-8")
    result = import_csv(database=database, path=path, now=now,
                        options=ImportOptions(workspace_id=workspace_id))
    assert result.problems == [] and result.stored, result.problems


def trigger_names(database, tables: tuple[str, ...] = ("deals",)) -> set[str]:
    """The names of the triggers on `tables` (PostgreSQL: none of its internal ones)."""
    with database.read() as session:
        if database.dialect == "sqlite":
            query = ("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                     "AND tbl_name IN :tables")
        else:
            query = ("SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
                     "WHERE relname IN :tables AND NOT tgisinternal")
        statement = sa.text(query).bindparams(sa.bindparam("tables", expanding=True))
        return set(session.execute(statement, {"tables": list(tables)}).scalars())


def sqlite_instructions(database, workspace_id: str, call) -> tuple[int, object]:
    """SQLite virtual-machine instructions `call(facts)` runs (the cost of its statements),
    on a second call: statements built and pages cached by the first."""
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, workspace_id))
        call(facts)
        raw = session.connection().connection.dbapi_connection
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1)
        try:
            result = call(facts)
        finally:
            raw.set_progress_handler(None, 1)
    return steps[0], result

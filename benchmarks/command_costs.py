"""`python -m benchmarks.command_costs DATABASE_URL`: what one chat command costs in-process.

A command (default `/kpi funnel this-quarter`) is answered through the real command handler
(bot.core.CommandHandler: the workspace row, the grammar, the handler, the reply), no HTTP,
with the deadline and lock timeout `kpibot serve` gives a chat command, on an existing
database (a cached generated history), after a few untimed answers. Reported:
the statements it sends (transaction control left out), the transactions it opens, on
PostgreSQL the round trips (libpq's, pings, BEGIN and COMMIT included), on SQLite
the virtual machine's instructions (the progress handler, in steps of 100) — counts that do
not depend on the machine's load — and the fastest and median CPU and wall milliseconds of
`--repeat` answers. Two code versions run one after the other on copies of the same history
compare by these counts first (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

WORKSPACE = "slack:TBENCH"  # benchmarks/data.py's workspace


class _Admins:
    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        return True


def main(argv: list[str] | None = None) -> dict:
    import sqlalchemy as sa

    from bot.core import COMMAND_DEADLINE, BotContext, CommandRequest
    from bot.handlers.registry import COMMANDS, build_command_handler
    from bot.wiring import COMMAND_LOCK_TIMEOUT_MS
    from storage.engine import Database

    p = argparse.ArgumentParser(prog="python -m benchmarks.command_costs",
                                description=__doc__.split("\n")[0])
    p.add_argument("database_url")
    p.add_argument("--command", default="funnel this-quarter", help="the text after /kpi")
    p.add_argument("--workspace", default=WORKSPACE)
    p.add_argument("--now", default=None, help="the instant answered at (ISO, default: now)")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    database = Database.from_url(args.database_url)
    # as `kpibot serve` answers: the lock timeout and deadline of a chat command (bot/wiring.py)
    handler = build_command_handler(
        BotContext(database=database.with_lock_timeout(COMMAND_LOCK_TIMEOUT_MS),
                   admins=_Admins(), clock=lambda: now), COMMANDS)
    request = CommandRequest(platform="slack", workspace_id=args.workspace,
                             user_id="U_BENCH_COSTS", user_name="Bench Costs", text=args.command,
                             channel_id="C1")

    def answer():
        return handler.handle(request, time.monotonic() + COMMAND_DEADLINE)

    for _ in range(5):
        answer()
    counted = _count(database, sa, answer)
    counted["round_trips"] = _round_trips(database, answer)
    cpu, wall = [], []
    for _ in range(args.repeat):
        started_cpu, started = time.process_time(), time.perf_counter()
        answer()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    cpu.sort()
    wall.sort()
    middle = len(cpu) // 2
    figures = {"command": args.command, **counted,
               "cpu_ms_min": round(cpu[0], 3), "cpu_ms_p50": round(cpu[middle], 3),
               "wall_ms_min": round(wall[0], 3), "wall_ms_p50": round(wall[middle], 3)}
    database.dispose()
    print(json.dumps(figures), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return figures


def _round_trips(database, answer, commands: int = 10) -> float | None:
    """PostgreSQL: libpq round trips per answer, the mean of `commands` answers on a pool
    that starts empty (tests/support/round_trips.py: pings, BEGIN and COMMIT included)."""
    if database.dialect != "postgresql":
        return None
    from tests.support.round_trips import RoundTrips

    with RoundTrips(database.engine) as trips:
        for _ in range(commands):
            answer()
    return trips.count / commands


def _count(database, sa, answer) -> dict:
    """Statements, transactions and (SQLite) VM instructions of one `answer()`."""
    from storage import plans

    engine = database.engine
    sqlite = engine.dialect.name == "sqlite"
    statements: list[str] = []
    transactions = [0]
    instructions = [0]

    def record(_connection, _cursor, statement, *_args) -> None:
        if not statement.lstrip().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK")) \
                and "set_config(" not in statement:
            statements.append(statement)
        elif not sqlite and statement.startswith(plans.BEGIN_READ):
            transactions[0] += 1  # a PostgreSQL read's own BEGIN (storage/plans.py)

    def begin(connection) -> None:
        if sqlite or connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            transactions[0] += 1  # (PostgreSQL's reads: their own BEGIN, counted above)

    def tick() -> int:
        instructions[0] += 100
        return 0

    def checkout(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_progress_handler(tick, 100)

    def checkin(dbapi_connection, _record) -> None:
        dbapi_connection.set_progress_handler(None, 0)

    listeners = [("before_cursor_execute", record), ("begin", begin)]
    if sqlite:
        listeners += [("checkout", checkout), ("checkin", checkin)]
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    try:
        answer()
    finally:
        for name, listener in listeners:
            sa.event.remove(engine, name, listener)
    return {"statements": len(statements), "transactions": transactions[0],
            "sqlite_instructions": instructions[0] if sqlite else None}


if __name__ == "__main__":
    main()

"""`python -m benchmarks.log_mix DATABASE_URL`: what the benchmark's `/kpi log` mix costs, by kind.

The logs `python -m benchmarks` sends (benchmarks/harness.py: `call 3`, `email-sent 40x`,
`meeting-booked DEAL`, `demo-booked DEAL` over the sender's open deals, in that order), answered
in-process through the real command handler as `kpibot serve` answers a chat command (its
deadline and lock timeout, the real clock, a new Slack request each), on an existing database
(a copy of a cached generated history: each log is stored). Reported per kind, after
`--warmup` logs: on PostgreSQL the libpq round trips of each of `--logs` logs counted alone
(tests/support/round_trips.py, on a pool that starts empty, so nothing is pinged; the deals
met as the benchmark meets them), then the statements each of as many more logs sends
(transaction control left out) and their median and fastest CPU milliseconds (process time)
on a warm pool (the same kinds on the same deals, met before: a meeting is then a stamp).
Counts that do not depend on the machine's load come first (docs/performance.md).
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

    from benchmarks.harness import _log_text, _sender
    from bot.core import COMMAND_DEADLINE, BotContext, CommandRequest
    from bot.handlers.registry import COMMANDS, build_command_handler
    from bot.wiring import COMMAND_LOCK_TIMEOUT_MS
    from storage.engine import Database

    p = argparse.ArgumentParser(prog="python -m benchmarks.log_mix",
                                description=__doc__.split("\n")[0])
    p.add_argument("database_url")
    p.add_argument("--logs", type=int, default=120, help="logs answered (default 120)")
    p.add_argument("--warmup", type=int, default=20, help="of which left out first (default 20)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    user_id, user_name, deals = _sender(args.database_url)
    database = Database.from_url(args.database_url)
    handler = build_command_handler(
        BotContext(database=database.with_lock_timeout(COMMAND_LOCK_TIMEOUT_MS),
                   admins=_Admins(), clock=lambda: datetime.now(UTC)), COMMANDS)
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        if not statement.lstrip().startswith(("BEGIN", "COMMIT", "ROLLBACK")) \
                and "set_config(" not in statement:
            statements.append(statement)

    kinds: dict[str, dict[str, list]] = {}

    def answer(i: int, count_trips: bool) -> None:
        text = _log_text(i, deals)
        statements.clear()
        request = CommandRequest(platform="slack", workspace_id=WORKSPACE, user_id=user_id,
                                 user_name=user_name, text=text, channel_id="C1",
                                 idempotency_key=f"log-mix:{time.time_ns()}:{i}")
        if count_trips:
            trips = _round_trips(database, handler, request, COMMAND_DEADLINE)
        else:
            cpu = _timed(handler, request, COMMAND_DEADLINE)
        if i % args.logs >= args.warmup:
            figures = kinds.setdefault(text.split()[1], {
                "statements": [], "round_trips": [], "cpu_ms": []})
            if count_trips:
                figures["round_trips"].append(trips)
            else:
                figures["statements"].append(len(statements))
                figures["cpu_ms"].append(cpu)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        if database.dialect == "postgresql":  # round trips, each log on a pool that starts
            for i in range(args.logs):  # empty, the deals as the benchmark first meets them
                answer(i, True)
        for i in range(args.logs):  # CPU and statements, the pool warm, the deals met before
            answer(i + args.logs, False)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
        database.dispose()
    result = {"logs": args.logs - args.warmup, "kinds": {
        kind: _summary(figures) for kind, figures in kinds.items()}}
    every = [trips for figures in kinds.values() for trips in figures["round_trips"]]
    result["round_trips_mean"] = round(sum(every) / len(every), 2) if every else None
    print(json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


def _round_trips(database, handler, request, seconds: float) -> int:
    """libpq round trips of one answer (tests/support/round_trips.py: the pool starts empty)."""
    from tests.support.round_trips import RoundTrips

    with RoundTrips(database.engine) as trips:
        _timed(handler, request, seconds)
    return trips.count


def _timed(handler, request, seconds: float) -> float:
    started = time.process_time()
    reply = handler.handle(request, time.monotonic() + seconds)
    cpu = (time.process_time() - started) * 1000
    if not reply.text.startswith("Logged"):
        raise RuntimeError(f"not logged: {request.text!r}: {reply.text}")
    return cpu


def _summary(figures: dict[str, list]) -> dict:
    cpu = sorted(figures["cpu_ms"])
    trips = figures["round_trips"]
    return {"n": len(cpu),
            "statements_mean": round(sum(figures["statements"]) / len(cpu), 2),
            "round_trips_mean": round(sum(trips) / len(trips), 2) if trips else None,
            "cpu_ms_p50": round(cpu[len(cpu) // 2], 3), "cpu_ms_min": round(cpu[0], 3)}


if __name__ == "__main__":
    main()

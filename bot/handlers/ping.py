"""`/kpi ping` — "pong" and the server's time; touches no database at all.

A health check for people (it answers while the database is down), and the floor the
benchmark (benchmarks/) measures every other command against: the same signed request, parsed
and dispatched, with no database work anywhere (not even the workspace lookup).
"""

from __future__ import annotations

from datetime import datetime

from bot.grammar import PingCommand
from bot.replies import Reply


def handle_ping(command: PingCommand, now: datetime) -> Reply:
    return Reply(text=f"pong · server time {now.isoformat(timespec='milliseconds')}")

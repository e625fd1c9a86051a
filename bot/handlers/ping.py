"""`/kpi ping` — "pong" and the server's time; reads and writes nothing.

A health check for people, and the floor the benchmark (benchmarks/) measures every other
command against: the same signed request, parsed and dispatched, with no database work in the
handler.
"""

from __future__ import annotations

from bot.core import Invocation
from bot.grammar import PingCommand
from bot.replies import Reply


def handle_ping(command: PingCommand, invocation: Invocation) -> Reply:
    return Reply(text=f"pong · server time {invocation.now.isoformat(timespec='milliseconds')}")

"""`/kpi ping` — "pong" and the server's time; touches no database at all.

A health check for people (it answers while the database is down), and the floor the
benchmark (benchmarks/) measures every other command against: the same signed request, parsed
and dispatched, with no database work anywhere (not even the workspace lookup).
"""

from __future__ import annotations

from datetime import datetime

from bot.grammar import CommandSpec, PingCommand
from bot.grammar.about import parse_ping
from bot.replies import Reply
from reports.i18n import Translator, translator


def handle_ping(command: PingCommand, now: datetime, t: Translator | None = None) -> Reply:
    t = t or translator("en")
    return Reply(text=t.gettext("pong · server time {time}",
                                time=now.isoformat(timespec="milliseconds")))


PING = CommandSpec(
    word="ping", command=PingCommand, parse=parse_ping, handle=handle_ping,
    help='Answers "pong" with the server\'s time without touching the database: a quick check '
         "that kpibot is up.",
    database_free=True, usage="/kpi ping", example="/kpi ping",
    summary='"pong" and the server\'s time, without touching the database (a liveness check; '
            "the benchmark's floor)")

"""`kpibot demo` — offline, no tokens: a local SQLite database, real commands, real replies."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

DEMO_WORKSPACE = "demo:acme-sales"
DEMO_PEOPLE = {"U_ALICE": "Alice Ek", "U_BOB": "Bob Lund", "U_CAROL": "Carol Berg",
               "U_MANAGER": "Sales Manager"}  # the people who type the scripted commands
DEMO_EVENTS = 20_000
DEMO_SCRIPT: tuple[tuple[str, str], ...] = (
    ("U_ALICE", "log lead acme source=referral"),
    ("U_ALICE", "log call 12"),
    ("U_ALICE", "log demo-booked acme"),
    ("U_BOB", 'log opportunity "Globex Corp" 40k'),
    ("U_BOB", 'log deal-won "Globex Corp" $38.5k mrr=3.2k'),
    ("U_CAROL", "log deal-lost initech reason=price competitor=rival"),
    ("U_CAROL", "log email-sent 40 on yesterday"),
    ("U_CAROL", "log deal-won acme 12000 EUR"),
    ("U_ALICE", "log wonn acme"),
    ("U_BOB", "undo"),
)


def add_parser(commands) -> None:
    demo = commands.add_parser(
        "demo", help="offline demo on a local SQLite database",
        description="Create a SQLite database with a generated history of a sales team, print "
                    "this week's digest and /kpi funnel this-month, and log a few events "
                    "through the real command path. No tokens, no network.")
    demo.add_argument("--database", default="kpibot-demo.db",
                      help="SQLite file to (re)create (default: kpibot-demo.db)")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_demo(database_path=args.database, settings=settings, program=_program())


def _program() -> str:
    """How this command was started, to repeat it in hints: `.venv/bin/kpibot` when run by
    that path (relative to the working folder), else `kpibot`."""
    started = sys.argv[0]
    if os.path.basename(started) != "kpibot" or os.sep not in started:
        return "kpibot"
    relative = os.path.relpath(started)
    return relative if not relative.startswith("..") else started


def run_demo(*, database_path: str, settings: Settings, out=sys.stdout,
             events: int = DEMO_EVENTS, program: str = "kpibot") -> int:
    import uuid
    from dataclasses import replace
    from datetime import timedelta

    from bot.core import CommandRequest
    from bot.digests.compose import compose_digest
    from bot.wiring import build_bot
    from reports.digest.render import render_text
    from reports.format import format_amount
    from sampledata import seed_workspace
    from storage import migrate
    from storage.event_queries import list_events

    path = Path(database_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    settings = replace(settings, database_url=url)
    bot = build_bot(settings)
    now = bot.context.now()
    stats = seed_workspace(database=bot.database, workspace_id=DEMO_WORKSPACE,
                           target_events=events, end=now, timezone=settings.timezone,
                           currency=settings.currency, platform="console")
    out.write(f"kpibot demo — database {path}: generated {stats['events']:,} events, "
              f"{stats['deals']:,} deals, {stats['users']} people in {stats['seconds']:.1f} s\n\n")
    digest = compose_digest(database=bot.database, workspace_id=DEMO_WORKSPACE,
                            cadence="weekly", timezone=settings.timezone, language="en",
                            now=now)
    out.write(render_text(digest) + "\n\n")
    out.write("=" * 72 + "\n/kpi funnel this-month\n" + "=" * 72 + "\n")
    out.write(_ask(bot, "U_MANAGER", "funnel this-month") + "\n\n")
    out.write("=" * 72 + "\nLogging through the command path\n" + "=" * 72 + "\n")
    for user, text in DEMO_SCRIPT:
        reply = bot.handler.handle(CommandRequest(
            platform="console", workspace_id=DEMO_WORKSPACE, user_id=user, text=text,
            user_name=DEMO_PEOPLE[user], idempotency_key=str(uuid.uuid4()),
        ))
        out.write(f"{user}> /kpi {text}\n{_indent(reply.plain_text())}\n\n")
    with bot.database.read() as session:
        logged = [e for e in list_events(session=session, workspace_id=DEMO_WORKSPACE,
                                         start=now - timedelta(days=2), include_void=True)
                  if not e.idempotency_key.startswith("gen:")]
    out.write(f"Stored by these commands ({len(logged)}):\n")
    for e in logged:
        amount = (f" {format_amount(e.amount_minor, e.currency)}"
                  if e.amount_minor is not None and e.currency else "")
        void = "  [void]" if e.voided_at else ""
        who = DEMO_PEOPLE.get(e.user_id, e.user_id)
        out.write(f"  #{e.id} {e.occurred_at:%Y-%m-%d %H:%M} {who} {e.kind}"
                  f" x{e.count} {e.deal_name or ''}{amount}{void}\n")
    bot.database.dispose()
    out.write(next_steps(path, program))
    return 0


def next_steps(path: Path, program: str = "kpibot") -> str:
    """How to go on with the demo's data: the console, one KPI, a digest preview; `program`
    is how the demo was started (`.venv/bin/kpibot` after the README's quick start)."""
    url = f"DATABASE_URL=sqlite:///{path}"
    return (
        "\nGo on with this data:\n"
        f"  {url} {program} console --user UGEN001    type /kpi commands as a rep "
        "(try: me, funnel, leaderboard)\n"
        f"  {url} {program} kpi win-rate --period this-quarter\n"
        f"  {url} {program} digest preview --cadence weekly --lang nb\n"
    )


def _ask(bot, user: str, text: str) -> str:
    from bot.core import CommandRequest

    reply = bot.handler.handle(CommandRequest(platform="console", workspace_id=DEMO_WORKSPACE,
                                              user_id=user, text=text,
                                              user_name=DEMO_PEOPLE[user]))
    return reply.plain_text()


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())

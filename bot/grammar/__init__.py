"""The `/kpi` command grammar: the text after `/kpi` in, one typed command out.

`parse_command` is pure and deterministic (no database, no clock: `today` is passed in). It
returns one of the frozen command dataclasses (`commands.py`) or raises `UsageError`, whose
`problem` names exactly what is wrong; it raises nothing else, whatever the input. Each command
is one `CommandSpec` (`spec.py`), declared next to its handler in `bot/handlers/` and listed in
`bot/handlers/registry.py`; `parse_command` reads with that standard table.

Shared rules for every command:

* Keywords are case-insensitive; surrounding whitespace is ignored.
* Ending with the word `public` or with `!` (`/kpi me!`) posts the answer in the channel.
* Names with spaces go in quotes: `"Acme Corp"` (smart quotes work too). An apostrophe inside
  a word (`O'Brien`, `didn't`) is just a letter.
* People are picked from the @ autocomplete (the client sends `<@U123>`); a typed `@alice`
  is looked up among the workspace's known users (`people`): read as meant when one matches,
  asked about when several do.
* Sloppy input is asked about, never guessed (SPEC section 4; the words are read by
  `bot.grammar.words`): `log demo booked` asks "Did you mean /kpi log demo-booked?";
  `log call 5 yesterday` is logged on yesterday; `log call twelve`, `1e3`, `0x10`, `NaN` or
  full-width digits are asked about or refused; `win rate`, `Q3`, `last quarter` and
  `november` are read as `win-rate`, `2026-Q3`, `last-quarter` and `2026-11`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from bot.grammar.commands import (
    ChurnCommand,
    Command,
    DigestCommand,
    DigestHereCommand,
    FunnelCommand,
    HelpCommand,
    KpiCommand,
    LeaderboardCommand,
    ListCommand,
    LogCommand,
    MeCommand,
    PingCommand,
    QuotaCommand,
    QuotaHistoryCommand,
    QuotaSetCommand,
    RepLinkCommand,
    RepListCommand,
    UndoCommand,
)
from bot.grammar.errors import UsageError
from bot.grammar.reading import Context
from bot.grammar.spec import CommandSpec, Grammar
from bot.grammar.tokens import Token, tokenize
from bot.grammar.words import Person

__all__ = [
    "COMMAND_USAGE",
    "ChurnCommand",
    "Command",
    "CommandSpec",
    "Context",
    "DigestCommand",
    "DigestHereCommand",
    "FunnelCommand",
    "Grammar",
    "HelpCommand",
    "KpiCommand",
    "LeaderboardCommand",
    "ListCommand",
    "LogCommand",
    "MeCommand",
    "PingCommand",
    "QuotaCommand",
    "QuotaHistoryCommand",
    "QuotaSetCommand",
    "RepLinkCommand",
    "RepListCommand",
    "Token",
    "UndoCommand",
    "UsageError",
    "parse_command",
    "tokenize",
]


def parse_command(text: str, *, today: date, currency: str,
                  kpi_names: Collection[str] = (), people: Collection[Person] = ()) -> Command:
    """The standard command in the text after `/kpi` (`Grammar.parse` with the table of
    `bot/handlers/registry.py`); raises UsageError (and nothing else)."""
    return _standard().parse(text, today=today, currency=currency, kpi_names=kpi_names,
                             people=people)


def _standard() -> Grammar:
    # Read when first asked, not at import: the table binds each parser to its handler, and
    # the handlers import this package for their command types.
    from bot.handlers.registry import GRAMMAR

    return GRAMMAR


def __getattr__(name: str) -> object:
    if name == "COMMAND_USAGE":  # command words -> (usage, example), in the table's order
        return {word: _standard().usage(word) for word in _standard().specs}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

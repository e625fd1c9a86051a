"""One declaration per chat command (`CommandSpec`), and the grammar derived from a table of them.

A `CommandSpec` says everything about a command: its word(s), usage line and example (shown in
errors, `/kpi help` and the README), its help text, the function that reads its words into its
command dataclass, and the handler that answers that dataclass. `Grammar` dispatches on the
first word (and a second word such as `quota set`); `bot.handlers.registry` builds the command
handler, `/kpi help` and the README table from the same specs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

from bot.grammar.commands import Command, HelpCommand
from bot.grammar.errors import MAX_TEXT, UsageError, did_you_mean, q, suggest
from bot.grammar.reading import Context, kpi_at
from bot.grammar.reports import kpi_command
from bot.grammar.tokens import Token, split_public, tokenize
from bot.grammar.words import Person, WordProblem, kpis_counting
from reports.events import resolve_kind
from reports.text import Text, plural_text


@dataclass(frozen=True)
class CommandSpec:
    """A chat command: `/kpi WORD ...` read by `parse` into a `command`, answered by `handle`.

    `word` is one word (`churn`) or a word and its action (`quota set`). `parse(tokens, ctx)`
    reads the words after `word` and returns a `command` or raises UsageError. `handle(command,
    invocation)` returns the Reply; with `database_free` it is `handle(command, now)` and runs
    before any database work (`/kpi ping`); `guesses_workspace`: see bot/core.py
    `_guessed`. `summary` is the README's "what it does"; `help`
    the lines of `/kpi help WORD` (default: the handler's docstring).
    """

    word: str
    command: type
    parse: Callable[[Sequence[Token], Context], Any]
    usage: str
    example: str
    summary: str
    help: str = ""
    handle: Callable[..., Any] | None = None
    database_free: bool = False
    # PostgreSQL: the handler's first transaction may check a guess of the caller's workspace
    # and user rows instead of a read of its own before it (storage/workspace_guess.py)
    guesses_workspace: bool = False

    def help_lines(self) -> tuple[str, ...]:
        text = self.help or inspect.getdoc(self.handle) or ""
        return tuple(line.strip() for line in inspect.cleandoc(text).splitlines()
                     if line.strip())


class Grammar:
    """Reads the text after `/kpi` into the command of one of `specs` (pure: no database, no
    clock; `today` is passed in). Raises UsageError, and nothing else, whatever the input."""

    def __init__(self, specs: Iterable[CommandSpec]) -> None:
        self.specs: dict[str, CommandSpec] = {spec.word: spec for spec in specs}
        self.words = tuple(dict.fromkeys(word.split()[0] for word in self.specs))

    def usage(self, word: str) -> tuple[str, str]:
        spec = self.specs.get(word)
        return (spec.usage, spec.example) if spec is not None else ("", "")

    def parse(self, text: str, *, today: date, currency: str,
              kpi_names: Collection[str] = (), people: Collection[Person] = ()) -> Command:
        """The command in the text after `/kpi`; raises UsageError (and nothing else).

        `people` are the workspace's known users, among whom a typed `@alice` is looked up.
        """
        usage, example = self.usage("help")
        try:
            if len(text) > MAX_TEXT:
                raise UsageError(plural_text(
                    "That command is {length} character long; the limit is {limit}.",
                    "That command is {length} characters long; the limit is {limit}.",
                    len(text), length=len(text), limit=MAX_TEXT))
            words = text.split(maxsplit=1)
            if words and words[0].lower() in self.specs:
                usage, example = self.usage(words[0].lower())
            tokens, public = split_public(tokenize(text))
            kpis = _casefolded(tuple(kpi_names))
            ctx = Context(today=today, currency=currency, kpis=kpis, public=public,
                          people=tuple(people))
            if not tokens:
                return HelpCommand(topic=None, public=public)
            first, rest = tokens[0], tokens[1:]
            word = first.text.casefold() if first.escape is None else ""
            phrase = kpi_at(tokens, 0, ctx)
            if word in self.words and not (phrase is not None and phrase[1] > 1):
                action = f"{word} {rest[0].word}" if rest and rest[0].word else ""
                if action in self.specs:
                    word, rest = action, rest[1:]
                if word in self.specs:
                    usage, example = self.usage(word)
                    return self.specs[word].parse(rest, ctx)
            if phrase is not None:  # `/kpi win-rate`, `/kpi win rate`, `/kpi churn rate`
                usage, example = self.usage("show")
                return kpi_command(tokens, ctx, command=phrase[0])
            raise unknown_command(first.text, kpis, self.words)
        except WordProblem as problem:
            raise UsageError(problem.text, usage, example) from None
        except UsageError as error:
            error.usage = error.usage or usage
            error.example = error.example or example
            raise


def unknown_command(word: str, kpis: dict[str, str], commands: Collection[str]) -> UsageError:
    kind = resolve_kind(word)
    if kind is not None:
        found = suggest(word, kpis.values()) or next(iter(kpis_counting(kind.name, kpis)), None)
        log = f"/kpi log {kind.example}"
        text = (Text("{word} is not a command; to log it, start with log: {log}. For the KPI: "
                     "{kpi}", word=q(word), log=log, kpi="/kpi " + found) if found else
                Text("{word} is not a command; to log it, start with log: {log}", word=q(word),
                     log=log))
        return UsageError(text, example=log)
    hint = did_you_mean(word, (*commands, *kpis.values()))
    if kpis:
        return UsageError(Text("{word} is not a command or KPI.", word=q(word)) + hint
                          + Text("Try {help}, or {list} for every KPI.", help="/kpi help",
                                 list="/kpi list"))
    return UsageError(Text("{word} is not a command.", word=q(word)) + hint
                      + Text("Try {help}.", help="/kpi help"))


@functools.lru_cache(maxsize=16)
def _casefolded(kpi_names: tuple[str, ...]) -> MappingProxyType[str, str]:
    """Casefolded KPI name -> name, built once per set of names (every command's parse asks
    for it, `/kpi ping` too; read only)."""
    return MappingProxyType({name.casefold(): name for name in kpi_names if name.strip()})

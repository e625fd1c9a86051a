"""`UsageError` (one sentence naming what is wrong), the grammar's limits, and the helpers that
quote a word or suggest the word that was meant.

The grammar speaks no language: a UsageError carries its sentence as a `reports.text.Text`
(an English msgid and its fields), which the edge renders in the reader's language
(`error.message(t)`); `error.problem` and `str(error)` are the English sentence. Quoted user
words and command words are fields, never translated.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from reports.events import MAX_NAME
from reports.i18n import Translator
from reports.text import Message, Text, plural_text, render


class UsageError(Exception):
    """The command text can't be read. `text` names what is wrong (`problem`: in English)."""

    def __init__(self, problem: Message | str, usage: str = "", example: str = "") -> None:
        super().__init__(str(problem))
        self.text = problem
        self.problem = str(problem)
        self.usage = usage
        self.example = example

    def message(self, t: Translator) -> str:
        """The problem in the language of `t`."""
        return render(self.text, t)

    def __str__(self) -> str:
        return self.problem


MAX_TEXT = 3000  # characters of command text
MAX_COUNT = 100_000
MAX_QUOTA_COUNT = 1_000_000
MAX_MINOR = 10**15  # ten trillion in major units; keeps sums far inside BIGINT


def q(text: str) -> str:
    """A token quoted for a message, shortened when long."""
    text = " ".join(text.split())
    return f'"{text if len(text) <= 40 else text[:39] + "…"}"'


def suggest(word: str, choices: Collection[str]) -> str | None:
    """The choice closest to `word` (spelling, else a shared start like wins → win-rate)."""
    word = word.lower()
    if not word or len(word) > 60:
        return None
    lowered = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(word, list(lowered), n=1, cutoff=0.6)
    if found:
        return lowered[found[0]]
    stem = word.rstrip("s")
    starts = [choice for key, choice in lowered.items() if len(stem) >= 3 and key.startswith(stem)]
    return min(starts, key=len) if starts else None


def did_you_mean(word: str, choices: Collection[str]) -> Text | None:
    """`Did you mean "win-rate"?` for the choice closest to `word`; None when none is close."""
    found = suggest(word, choices)
    return meant(found) if found else None


def meant(found: str) -> Text:
    return Text('Did you mean "{found}"?', found=found)


def collapse(text: str) -> str:
    return " ".join(text.split())


def limited(text: str, what: Text, limit: int = MAX_NAME) -> str:
    """`text` with its whitespace collapsed; `what` (`Text("note")`) names it in the error
    when it is empty or longer than `limit`."""
    value = collapse(text)
    if not value:
        raise UsageError(Text("The {what} is empty.", what=what))
    if len(value) > limit or len(value.casefold()) > limit:
        raise UsageError(plural_text(
            "The {what} {value} is {length} character long; the limit is {limit}.",
            "The {what} {value} is {length} characters long; the limit is {limit}.",
            len(value), what=what, value=q(value), length=str(len(value)), limit=str(limit)))
    return value

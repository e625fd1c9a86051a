"""`UsageError` (one sentence naming what is wrong), the grammar's limits, and the helpers that
quote a word or suggest the word that was meant."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from reports.events import MAX_NAME


class UsageError(Exception):
    """The command text can't be read. `problem` is one sentence naming what is wrong."""

    def __init__(self, problem: str, usage: str = "", example: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage
        self.example = example

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


def did_you_mean(word: str, choices: Collection[str]) -> str:
    found = suggest(word, choices)
    return f' Did you mean "{found}"?' if found else ""


def collapse(text: str) -> str:
    return " ".join(text.split())


def limited(text: str, what: str, limit: int = MAX_NAME) -> str:
    value = collapse(text)
    if not value:
        raise UsageError(f"The {what} is empty.")
    if len(value) > limit or len(value.casefold()) > limit:
        raise UsageError(f"The {what} {q(value)} is {len(value)} characters long; "
                         f"the limit is {limit}.")
    return value

"""What can go wrong reading a CSV: the file as a whole (ImportRefused), one row (RowError), and
a bad row as reported (Problem: line number and reason)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass


class ImportRefused(Exception):
    """The file as a whole cannot be read; str(error) says why and what to do."""


class RowError(ValueError):
    """One row cannot be read; str(error) is the reason (without the line number)."""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The choice closest to `word` in spelling (for "did you mean ...?"), or None."""
    found = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


__all__ = ["ImportRefused", "Problem", "RowError", "suggest"]

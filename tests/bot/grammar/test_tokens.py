"""The tokenizer's shortcut for plain commands (no quote, no `<...>` escape) gives the tokens
the character-by-character reading gives."""

from __future__ import annotations

import random

import pytest

from bot.grammar import UsageError, tokens
from bot.grammar.tokens import Token, tokenize


def _read_every_character(text: str) -> list[Token]:
    """tokenize without its shortcuts: every token read by `_read_token`."""
    text = tokens._clean(text)
    found, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        else:
            token, i = tokens._read_token(text, i)
            found.append(token)
    return found


def test_a_plain_command_is_split_without_reading_each_character(monkeypatch):
    def refused(text, start):
        raise AssertionError(f"read character by character: {text!r}")

    monkeypatch.setattr(tokens, "_read_token", refused)
    assert [t.word for t in tokenize("log demo-booked krusty-48941")] == [
        "log", "demo-booked", "krusty-48941"]
    assert [t.text for t in tokenize("funnel  This-Quarter\tteam=&lt;x&gt;")] == [
        "funnel", "This-Quarter", "team=<x>"]


ALPHABET = ["a", "B", "7", " ", "  ", "\t", "\n", "-", "=", "!", "&amp;", "&lt;", "\u00a0",
            "\u2003", "\u200b", "\x07", "é", "ø", "\u201c", "\u2019", ".", "x=", "$", "%"]


@pytest.mark.parametrize("seed", range(20))
def test_the_shortcut_gives_the_tokens_of_the_full_reading(seed):
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        assert _outcome(tokenize, text) == _outcome(_read_every_character, text), repr(text)


def _outcome(read, text: str):
    try:
        return [(t, t.text, t.word, t.bare, t.quoted) for t in read(text)]
    except UsageError as error:  # an unclosed quote
        return str(error)

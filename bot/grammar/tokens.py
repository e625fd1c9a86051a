"""The tokenizer: words, quoted phrases (smart quotes too), Slack escapes (`<@U1|name>`, links),
the trailing `public` or `!`, and `key=value` options."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass

from bot.grammar.errors import UsageError, q
from reports.text import Text

BARE, _QUOTED, _ESCAPE = "bare", "quoted", "escape"
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'",
                               "‚": "'", "‛": "'"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff"))
_ESCAPE_RE = re.compile(r"<([@#!][^<>]*|(?:https?|mailto):[^<>\s]*(?:\|[^<>]*)?)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_SPECIAL = re.compile("[\"'<]")  # what only the character-by-character reading handles


@dataclass(frozen=True)
class Token:
    """One word of the command: pieces of (kind, text), kind bare, quoted or escape (`<@U1>`)."""

    pieces: tuple[tuple[str, str], ...]

    @functools.cached_property  # a token is read many times, never changed
    def text(self) -> str:
        return "".join(text for _, text in self.pieces)

    @functools.cached_property
    def quoted(self) -> bool:
        return any(kind == _QUOTED for kind, _ in self.pieces)

    @functools.cached_property
    def bare(self) -> bool:
        return all(kind == BARE for kind, _ in self.pieces)

    @property
    def escape(self) -> str | None:
        """The `<...>` escape when the token is exactly one."""
        if len(self.pieces) == 1 and self.pieces[0][0] == _ESCAPE:
            return self.pieces[0][1]
        return None

    @functools.cached_property
    def word(self) -> str | None:
        """The lower-cased text of a bare token (keywords are never quoted), else None."""
        return self.text.lower() if self.bare else None

    @property
    def head(self) -> str:
        """The bare text before the first quote or escape (`deal=` in `deal="Acme Corp"`)."""
        head = []
        for kind, text in self.pieces:
            if kind != BARE:
                break
            head.append(text)
        return "".join(head)


def _clean(text: str) -> str:
    """Smart quotes as plain quotes; control characters as spaces; zero-width marks removed."""
    if text.isascii() and text.isprintable():  # nothing to change (most commands)
        return text
    text = text.translate(_SMART_QUOTES).translate(_INVISIBLE)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def _unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def _closing_quote(text: str, start: int, quote: str) -> int:
    """Index of the quote closing one opened just before `start`, or -1.

    A `'` only closes before a space, `!` or the end, so `'Acme's shop'` is one name.
    """
    if quote == '"':
        return text.find('"', start)
    i = text.find("'", start)
    while i != -1:
        if i + 1 == len(text) or text[i + 1].isspace() or text[i + 1] == "!":
            return i
        i = text.find("'", i + 1)
    return -1


def tokenize(text: str) -> list[Token]:
    """Split on whitespace, keeping quoted phrases and `<@U1|name>` escapes whole.

    A quote opens a phrase only at the start of a word or right after `=`; elsewhere it is a
    letter. An unclosed quote is a UsageError.
    """
    text = _clean(text)
    if not _SPECIAL.search(text):  # no quote, no escape: each word is one bare piece
        return [Token(((BARE, _unescape(word)),)) for word in text.split()]
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        else:
            token, i = _read_token(text, i)
            tokens.append(token)
    return tokens


def _read_token(text: str, start: int) -> tuple[Token, int]:
    """The token starting at text[start] and the index just after it."""
    pieces: list[tuple[str, str]] = []
    i = start
    while i < len(text) and not text[i].isspace():
        char = text[i]
        match = _ESCAPE_RE.match(text, i) if char == "<" else None
        if char in "\"'" and (i == start or text[i - 1] == "="):
            end = _closing_quote(text, i + 1, char)
            if end == -1:
                raise _unclosed(text[i + 1:], char)
            pieces.append((_QUOTED, _unescape(text[i + 1:end])))
            i = end + 1
        elif match:
            inner = match.group(1)
            if inner[0] in "@#!":
                pieces.append((_ESCAPE, match.group(0)))
            else:  # a link: keep its label, else the address
                address, _, label = inner.partition("|")
                pieces.append((BARE, label or address))
            i = match.end()
        else:
            pieces.append((BARE, char))
            i += 1
    return Token(_merge(pieces)), i


def _unclosed(rest: str, char: str) -> UsageError:
    if not rest.strip():
        return UsageError(Text("The quote {quote} at the end is never closed.", quote=char))
    return UsageError(Text("The quote {quote} before {words} is never closed; end the name with "
                           "{quote}.", quote=char, words=q(rest)))


def _merge(pieces: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Join runs of bare pieces and decode Slack's &lt; &gt; &amp; in them."""
    merged: list[tuple[str, str]] = []
    for bare, run in itertools.groupby(pieces, key=lambda piece: piece[0] == BARE):
        if bare:
            merged.append((BARE, _unescape("".join(text for _, text in run))))
        else:
            merged.extend(run)
    return tuple(merged)


def split_public(tokens: list[Token]) -> tuple[list[Token], bool]:
    """Remove a trailing `!` (own word or end of the last word) and a trailing `public`."""
    public = False
    if tokens:
        kind, text = tokens[-1].pieces[-1]
        if kind == BARE and text.endswith("!"):
            public = True
            rest = tokens[-1].pieces[:-1] + (((BARE, text.rstrip("!")),)
                                             if text.rstrip("!") else ())
            tokens = tokens[:-1] + ([Token(rest)] if rest else [])
    if tokens and tokens[-1].word == "public":
        public = True
        tokens = tokens[:-1]
    return tokens, public


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


_OPTION_RE = re.compile(r"([A-Za-z][A-Za-z_-]*)=")


def option_of(token: Token) -> tuple[str, str] | None:
    """(key, value) of a `key=value` token (the value may be quoted), or None."""
    match = _OPTION_RE.match(token.head)
    if not match:
        return None
    key = match.group(1)
    return key.lower().replace("_", "-"), token.text[len(key) + 1:]

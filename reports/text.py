"""Sentences to translate later: `Text` (an English msgid and its fields) and `TextError`.

Code that must stay free of any language (the command grammar, amount and period parsing)
says what is wrong as a `Text` instead of a finished string; the edge that knows the reader
renders it with their `Translator` (`text.render(t)`). `str(text)` is the English sentence.

    problem = Text("{word} is not an event.", word=q(word)) + did_you_mean(word, KINDS)
    problem.render(translator("nb"))

* Fields are filled after translating. A field that is itself a `Text` is translated too (the
  name of what is missing: `Text("person")`); a `str` field is shown as given (the user's
  quoted words, command words like `demo-booked` or `mrr=`, which are never translated); an
  `int` field is formatted with the reader's digit grouping (`100,000`, `100 000`), a `date`
  as its weekday and ISO date (`Fri 2026-10-02`, `fre. 2026-10-02`), a `MonthName` as the
  month's name (`February`, `februarie`), a `Share` as a whole percentage (`50%`, `50 %`).
* `plural_text(singular, plural, n, ...)` picks the form of `n` in the reader's language.
* `a + b` joins sentences with a space (none in Chinese, whose full stops take the room);
  `None` is left out (an absent hint).

Every msgid is extracted by `bash scripts/i18n` (keywords `Text` and `plural_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.i18n import Translator

_ENGLISH = "en"
_NO_SPACE_BETWEEN_SENTENCES = frozenset({"zh"})


class Text:
    """One sentence (or phrase) to translate: msgid, optional plural msgid and count, fields."""

    __slots__ = ("fields", "msgid", "n", "plural")

    def __init__(self, msgid: str, /, **fields: object) -> None:
        self.msgid = msgid
        self.plural: str | None = None
        self.n: int | None = None
        self.fields: Mapping[str, object] = fields

    def render(self, t: Translator) -> str:
        values = {name: _shown(value, t) for name, value in self.fields.items()}
        if self.plural is not None:
            return t.ngettext(self.msgid, self.plural, self.n or 0, **values)
        return t.gettext(self.msgid, **values)

    def __add__(self, other: Text | Sentences | None) -> Sentences:
        return Sentences((self,)) + other

    def __eq__(self, other: object) -> bool:  # a value: the same sentence with the same fields
        if not isinstance(other, Text):
            return NotImplemented
        return (self.msgid, self.plural, self.n, dict(self.fields)) == (
            other.msgid, other.plural, other.n, dict(other.fields))

    def __hash__(self) -> int:
        return hash((self.msgid, self.plural, self.n))

    def __str__(self) -> str:
        return _english(self)

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, {dict(self.fields)!r})"


def plural_text(singular: str, plural: str, n: int, /, **fields: object) -> Text:
    """A `Text` whose form follows the count `n` (`{n}` is not filled unless in `fields`)."""
    text = Text(singular, **fields)
    text.plural, text.n = plural, int(n)
    return text


class MonthName(int):
    """A month (1-12) in a sentence, shown by its name in the reader's language."""


class Share(float):
    """A share (0.5) in a sentence, shown as the reader's percentage (`50%`, `50 %`)."""


class Money(int):
    """An amount in minor units in a sentence, shown as the reader's money (`$52,839.00`)."""

    currency: str = "USD"

    def __new__(cls, minor: int, currency: str) -> Money:
        money = super().__new__(cls, minor)
        money.currency = currency
        return money


class Sentences:
    """Sentences shown one after the other, separated by a space (none in Chinese)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Text, ...]) -> None:
        self.parts = parts

    def render(self, t: Translator) -> str:
        space = "" if t.language in _NO_SPACE_BETWEEN_SENTENCES else " "
        return space.join(part.render(t) for part in self.parts)

    def __add__(self, other: Text | Sentences | None) -> Sentences:
        if other is None:
            return self
        more = other.parts if isinstance(other, Sentences) else (other,)
        return Sentences(self.parts + more)

    def __str__(self) -> str:
        return _english(self)

    def __repr__(self) -> str:
        return f"Sentences({self.parts!r})"


Message = Text | Sentences


def render(message: Message | str, t: Translator) -> str:
    """`message` in the language of `t` (a plain string is shown as it is)."""
    return message if isinstance(message, str) else message.render(t)


class TextError(ValueError):
    """An error whose user-facing sentence is a `Text` (`error.text`); str(error) is English."""

    def __init__(self, text: Message | str) -> None:
        super().__init__(str(text))
        self.text = text


def quoted(text: str) -> str:
    """`text` in double quotes, as user words are shown in a sentence."""
    return '"' + text + '"'


def one_of(items: Sequence[str]) -> Text | str:
    """`a, b or c` (translated `or`; one item as it is)."""
    if len(items) < 2:
        return "".join(items)
    return Text("{items} or {last}", items=", ".join(items[:-1]), last=items[-1])


def all_of(items: Sequence[str]) -> Text | str:
    """`a, b and c` (translated `and`; one item as it is)."""
    if len(items) < 2:
        return "".join(items)
    return Text("{items} and {last}", items=", ".join(items[:-1]), last=items[-1])


def _english(message: Message) -> str:
    # Babel (through reports.i18n) is read when a sentence is first shown, not at import:
    # `kpibot --help` imports the grammar and stays light (tests/bot/test_startup_imports.py).
    from reports.i18n import translator

    return message.render(translator(_ENGLISH))


def _shown(value: object, t: Translator) -> object:
    from babel.dates import format_date, get_month_names
    from babel.numbers import format_decimal, format_percent

    if isinstance(value, Text | Sentences):
        return value.render(t)
    if isinstance(value, Share):
        return format_percent(float(value), locale=t.locale)
    if isinstance(value, Money):
        from reports.format import format_amount  # format reads Text: imported when shown

        return format_amount(int(value), value.currency, t.locale)
    if isinstance(value, MonthName):
        return get_month_names("wide", locale=t.locale)[int(value)]
    if isinstance(value, date):
        return format_date(value, "EEE yyyy-MM-dd", locale=t.locale)
    if isinstance(value, int) and not isinstance(value, bool):
        return format_decimal(value, locale=t.locale)
    return value


__all__ = ["Message", "Money", "MonthName", "Sentences", "Share", "Text", "TextError", "all_of",
           "one_of", "plural_text", "quoted", "render"]

"""Counts, amounts (in the workspace currency, with an optional code: `12000 EUR`) and durations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.grammar.errors import MAX_COUNT, MAX_MINOR, UsageError, q
from bot.grammar.reading import Context, about
from bot.grammar.tokens import Token
from reports.text import Text
from reports.units import AmountError, is_currency_code, parse_amount, parse_duration

_INT_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)", re.ASCII)
_TIMES_RE = re.compile(r"([+-]?[\d,]+)[x×]", re.IGNORECASE | re.ASCII)
PLAIN_NUMBER_RE = re.compile(r"[+-]?[\d.,]+[km]?", re.IGNORECASE | re.ASCII)


def integer(text: str) -> int | None:
    """The value of a plain integer (`12`, `1,200`, `-3`), or None. Beyond 10**30 it is capped
    there, which is out of range for every use."""
    if not _INT_RE.fullmatch(text):
        return None
    digits = text.replace(",", "").lstrip("+-")
    value = int(digits) if len(digits) <= 30 else 10**30
    return -value if text.startswith("-") else value


def read_count(text: str, shown: str) -> int:
    value = integer(text)
    if value is None or not 1 <= value <= MAX_COUNT:
        raise UsageError(Text("A count is a whole number from 1 to {limit}; {word} was given.",
                              limit=MAX_COUNT, word=q(shown)))
    return value


def times_at(tokens: Sequence[Token], i: int) -> tuple[int, int] | None:
    """A count written `3x`, `3×` or `3 x` at tokens[i]: (count, next index), or None."""
    token = tokens[i]
    if not token.bare:
        return None
    match = _TIMES_RE.fullmatch(token.text)
    if match:
        return read_count(match.group(1), token.text), i + 1
    if (_INT_RE.fullmatch(token.text) and i + 1 < len(tokens)
            and tokens[i + 1].word in ("x", "×")):
        return read_count(token.text, f"{token.text} x"), i + 2
    return None


def money(text: str, ctx: Context, *, signed: bool = False, what: Text | None = None,
           strict: bool = True) -> int | None:
    """Minor units of an amount in the workspace currency; None if `text` isn't amount-shaped.

    A word that starts like a number but can't be read (`12kk`, `2nd`) is a UsageError when
    `strict`, else None (a free word). `what` names the amount in errors (default "amount").
    """
    what = what or Text("amount")
    try:
        money = parse_amount(text, default_currency=ctx.currency)
    except AmountError as error:
        if not strict:
            return None
        raise UsageError(about(text, error.text, Text("it is not an amount"))) from None
    except (ValueError, ArithmeticError):
        if not strict:
            return None
        raise UsageError(Text("{word} is not an amount; write it like 12000, 12k or $1.5m.",
                              word=q(text))) from None
    if money is None:
        if strict and PLAIN_NUMBER_RE.fullmatch(text):
            raise UsageError(_too_large(text, what))
        return None
    if money.currency.upper() != ctx.currency.upper():
        raise UsageError(Text("Amounts must be in {currency}, this workspace's currency; "
                              "{given} was given.", currency=ctx.currency,
                              given=q(money.currency)))
    if money.minor < 0 and not signed:
        if what.msgid == "amount":
            raise UsageError(Text("{word} is negative; only {kind} takes a negative amount.",
                                  word=q(text), kind="mrr-change"))
        raise UsageError(Text("{word} is negative; the {what} can't be negative.", word=q(text),
                              what=what))
    if abs(money.minor) > MAX_MINOR:
        raise UsageError(_too_large(text, what))
    return money.minor


def _too_large(text: str, what: Text) -> Text:
    return Text("{word} is too large for an {what}.", word=q(text), what=what)


# Codes joined to an amount even in lower case (`12000 eur`); other codes only when written in
# upper case, so `20k top priority` or `12k all good` keep their words.
_COMMON_CURRENCIES = frozenset(("USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "RON", "CNY",
                                "JPY", "CAD", "AUD"))


def is_currency_word(token: Token, ctx: Context) -> bool:
    """Whether the word after an amount is its currency code (`12000 EUR`)."""
    text = token.text
    if not token.bare or len(text) != 3 or not text.isascii() or not text.isalpha():
        return False
    if not (text.isupper() or text.upper() in _COMMON_CURRENCIES
            or text.upper() == ctx.currency.upper()):
        return False
    try:
        return bool(is_currency_code(text.upper()))
    except (ValueError, ArithmeticError):
        return False


def amount_at(tokens: Sequence[Token], i: int, ctx: Context, *, signed: bool = False,
               what: Text | None = None, strict: bool = True) -> tuple[int, int] | None:
    """An amount at tokens[i], with a currency code as the next word (`12000 EUR`).

    Returns (minor units, next index), or None when tokens[i] is not amount-shaped.
    """
    token = tokens[i]
    if not token.bare:
        return None
    minor = money(token.text, ctx, signed=signed, what=what, strict=strict)
    if minor is None:
        return None
    if i + 1 < len(tokens) and is_currency_word(tokens[i + 1], ctx):
        joined = money(token.text + tokens[i + 1].text.upper(), ctx, signed=signed, what=what)
        if joined is not None:
            return joined, i + 2
    return minor, i + 1


def duration(text: str) -> int | None:
    """Seconds of a duration such as `4m` or `1h30m`; None when `text` isn't one."""
    try:
        return parse_duration(text)
    except (ValueError, ArithmeticError):
        return None


def is_money(text: str, currency: str) -> bool:
    """Whether `text` reads as an amount (`5k`, `$12`, `1.5`); unreadable words are not."""
    try:
        return parse_amount(text, default_currency=currency) is not None
    except (ValueError, ArithmeticError):
        return False


def starts_like_number(text: str) -> bool:
    return text[:1] in "0123456789$€£¥+-−." and any(c.isdigit() for c in text[:3])


# ---------------------------------------------------------------------------------------------
# /kpi log

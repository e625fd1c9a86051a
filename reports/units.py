"""Amounts, currencies and durations as users type them (`12k`, `$1.5m`, `12000 EUR`, `4m`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import (
    format_compact_currency,
    format_currency,
    get_currency_precision,
    list_currencies,
)


class AmountError(ValueError):
    """An amount-shaped token that cannot be read; str(error) is the user-facing problem."""


@dataclass(frozen=True)
class Money:
    minor: int  # integer minor units (cents)
    currency: str  # ISO 4217, upper case


MAX_MAJOR = Decimal(10) ** 12
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_SUFFIX = {"": Decimal(1), "k": Decimal(1_000), "m": Decimal(1_000_000)}
_AMOUNT = re.compile(
    r"""^(?P<sign>[-+−]?)
        (?P<pre>[$€£¥]|[A-Za-z]{3}(?=[\d.]))?
        (?P<sign2>[-+−]?)
        (?P<number>[\d.,]*\d[\d.,]*|\.\d+)
        (?P<suffix>[kKmM]*)
        (?P<post>[A-Za-z]{3})?$""",
    re.VERBOSE,
)
_CURRENCIES = frozenset(code.upper() for code in list_currencies())


def is_currency_code(token: str) -> bool:
    """True for an ISO 4217 code such as `usd` or `EUR`."""
    return len(token) == 3 and token.upper() in _CURRENCIES


def currency_exponent(code: str) -> int:
    """Digits after the decimal point in the currency's minor unit (USD 2, JPY 0)."""
    return int(get_currency_precision(code.upper()))


def _looks_like_amount(text: str) -> bool:
    stripped = text.strip().lstrip("-+−").lstrip("$€£¥")
    return bool(stripped) and (stripped[0].isdigit() or (stripped[0] == "." and len(stripped) > 1
                                                         and stripped[1].isdigit()))


def _number(text: str, shown: str) -> Decimal:
    if "," in text:
        head, *groups = text.split(",")
        if not head or len(head) > 3 or any(len(g.split(".")[0]) != 3 for g in groups) \
                or any("." in g for g in groups[:-1]) or "." in head:
            raise AmountError(f'"{shown}" is not a number (use 12000, 12,000 or 12k)')
        text = head + "".join(groups)
    if text.count(".") > 1:
        raise AmountError(f'"{shown}" is not a number (use 12000, 12,000 or 12k)')
    try:
        return Decimal(text)
    except InvalidOperation:
        raise AmountError(f'"{shown}" is not a number (use 12000, 12,000 or 12k)') from None


def parse_amount(text: str, *, default_currency: str) -> Money | None:
    """Read `12000`, `12,000`, `12k`, `1.5m`, `$12k`, `12000EUR`, `EUR12000`, `-200`.

    None when the text is not amount-shaped at all; AmountError when it is but can't be read.
    """
    raw = text.strip()
    if not raw or len(raw) > 40:
        return None
    match = _AMOUNT.match(raw)
    if match is None:
        if _looks_like_amount(raw):
            raise AmountError(f'"{raw}" is not an amount (use 12000, 12,000, 12k, 1.5m or $12k)')
        return None
    pre, post = match["pre"], match["post"]
    if pre and post:
        raise AmountError(f'"{raw}" names two currencies')
    if match["sign"] and match["sign2"]:
        raise AmountError(f'"{raw}" is not an amount')
    suffix = match["suffix"].lower()
    if len(suffix) > 1:
        raise AmountError(f'"{raw}" is not an amount (one k or m at most: 12k, 1.5m)')
    currency = default_currency.upper()
    code = SYMBOLS.get(pre or "", pre) or post
    if code:
        if not is_currency_code(code):
            raise AmountError(f"{code.upper()} is not a currency code")
        currency = code.upper()
    value = _number(match["number"], raw) * _SUFFIX[suffix]
    if match["sign"] in ("-", "−") or match["sign2"] in ("-", "−"):
        value = -value
    if abs(value) > MAX_MAJOR:
        raise AmountError(f'"{raw}" is too large')
    exponent = currency_exponent(currency)
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise AmountError(f'"{raw}" has too many decimals for {currency}')
    return Money(minor=int(minor), currency=currency)


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)(?:m|min|mins))?(?:(\d+)s)?$")


def parse_duration(text: str) -> int | None:
    """Seconds for `45s`, `4m`, `4min`, `2h`, `1h30m`, `1d`; None for anything else."""
    raw = text.strip().lower()
    if not raw or raw.isdigit() or len(raw) > 20:
        return None
    match = _DURATION.match(raw)
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def format_duration(seconds: float) -> str:
    """`45s`, `4m`, `1h 30m`, `2d 3h`."""
    total = int(round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs and minutes < 10 else f"{minutes}m"
    return f"{secs}s"


def format_money(minor: int, currency: str, locale: str = "en") -> str:
    """`$12,000.00` (locale-aware, via Babel)."""
    major = Decimal(minor).scaleb(-currency_exponent(currency))
    return format_currency(major, currency, locale=locale)


def format_money_short(minor: int, currency: str, locale: str = "en") -> str:
    """`$12K`, `$1.2M` (locale-aware compact form)."""
    major = Decimal(minor).scaleb(-currency_exponent(currency))
    return format_compact_currency(major, currency, locale=locale, fraction_digits=1)

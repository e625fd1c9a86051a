"""Amounts, currencies and durations as users type them (`12k`, `$1.5m`, `12000 EUR`, `4m`).

Amounts: 12000, 12,000, 12000.50, 12k, 1.5m (k = thousand, m = million), a sign (-200, -$200),
a symbol before or after ($ € £ ¥: $12k, 5000€) or an ISO 4217 code (EUR12000, 12000EUR,
12000 EUR; any case). Money is kept as integer minor units at the currency's real precision
(JPY 0 digits, USD 2, KWD 3), computed with Decimal, never float.

Durations: 45s, 4m, 4min, 2h, 1h30m, 1h30 (= 1h30m), 1.5h, 2d3h; a bare number is not one.
Pure code; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel.numbers import (
    get_currency_precision,
    list_currencies,
)

from reports.text import Text, TextError, quoted


class AmountError(TextError):
    """An amount-shaped token that cannot be read; `error.text` is the user-facing problem
    (str(error) in English)."""


@dataclass(frozen=True)
class Money:
    minor: int  # integer minor units (cents)
    currency: str  # ISO 4217, upper case

    @property
    def major(self) -> Decimal:
        """The amount in major units, exactly (`Money(1250, "USD").major == Decimal("12.50")`)."""
        return Decimal(self.minor).scaleb(-currency_exponent(self.currency))


MAX_MAJOR = Decimal(10) ** 12  # the largest amount accepted, in major units
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
AMOUNT_FORMS = "12000, 12,000, 12000.50, 12k, 1.5m, $12k or 12000 EUR"
_SUFFIX = {"": Decimal(1), "k": Decimal(1_000), "m": Decimal(1_000_000)}
_AMOUNT = re.compile(
    r"""^(?P<sign>[-+−]?)
        (?:(?P<pre>[$€£¥]|[A-Za-z]{3}(?=\s*[-+−]?[\d.]))\s*)?
        (?P<sign2>[-+−]?)
        (?P<number>[0-9.,]*[0-9][0-9.,]*|\.[0-9]+)
        (?P<suffix>[kKmM]*)
        (?:\s*(?P<post>[$€£¥]|[A-Za-z]{3}))?$""",
    re.VERBOSE,
)


@cache
def _currencies() -> frozenset[str]:
    """ISO 4217 codes; read when first asked (Babel's global data: not at a server's start)."""
    return frozenset(code.upper() for code in list_currencies())


def is_currency_code(token: str) -> bool:
    """True for an ISO 4217 code such as `usd` or `EUR` (any case)."""
    return len(token) == 3 and token.isascii() and token.upper() in _currencies()


def currency_exponent(code: str) -> int:
    """Digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(code.upper()))


def _looks_like_amount(text: str) -> bool:
    stripped = text.strip().lstrip("-+−").lstrip("$€£¥").lstrip("-+−")
    return bool(stripped) and (stripped[0].isdigit() or (stripped[0] == "." and len(stripped) > 1
                                                         and stripped[1].isdigit()))


def _not_a_number(shown: str) -> AmountError:
    return AmountError(Text("{word} is not a number (use 12000, 12,000 or 12k)",
                            word=quoted(shown)))


def _number(text: str, shown: str) -> Decimal:
    """The value of digits with optional thousands commas (groups of 3) and one decimal point."""
    if "," in text:
        head, *groups = text.split(",")
        if not head or len(head) > 3 or "." in head or any("." in g for g in groups[:-1]) \
                or any(len(g.split(".")[0]) != 3 for g in groups):
            raise _not_a_number(shown)
        text = head + "".join(groups)
    if text.count(".") > 1:
        raise _not_a_number(shown)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _not_a_number(shown) from None


def parse_amount(text: str, *, default_currency: str) -> Money | None:
    """Read `12000`, `12,000`, `12k`, `1.5m`, `$12k`, `5000€`, `12000EUR`, `EUR12000`, `-200`.

    Returns None when the text is not amount-shaped at all (`acme`, `k`); raises AmountError
    when it is but can't be read (`12kk`, `1,2,3`, `12.345` dollars, `XYZ12`, over 10^12).
    The sign is kept; the caller decides whether a negative amount is allowed.
    """
    raw = text.strip()
    if not raw or len(raw) > 40:
        return None
    match = _AMOUNT.match(raw)
    if match is None:
        if _looks_like_amount(raw):
            raise AmountError(Text("{word} is not an amount (use 12000, 12,000, 12000.50, 12k, "
                                   "1.5m, $12k or 12000 EUR)", word=quoted(raw)))
        return None
    pre, post = match["pre"], match["post"]
    if pre and post:
        raise AmountError(Text("{word} names two currencies", word=quoted(raw)))
    if match["sign"] and match["sign2"]:
        raise AmountError(Text("{word} is not an amount (one sign at most)", word=quoted(raw)))
    suffix = match["suffix"].lower()
    if len(suffix) > 1:
        raise AmountError(Text("{word} is not an amount (one k or m at most: 12k, 1.5m)",
                               word=quoted(raw)))
    currency = default_currency.upper()
    code = pre or post
    if code:
        code = SYMBOLS.get(code, code).upper()
        if not is_currency_code(code):
            raise AmountError(Text("{code} is not a currency code", code=code))
        currency = code
    value = _number(match["number"], raw) * _SUFFIX[suffix]
    if match["sign"] in ("-", "−") or match["sign2"] in ("-", "−"):
        value = -value
    if abs(value) > MAX_MAJOR:
        raise AmountError(Text("{word} is too large (at most {limit})", word=quoted(raw),
                               limit=int(MAX_MAJOR)))
    minor = value.scaleb(currency_exponent(currency))
    if minor != minor.to_integral_value():
        raise AmountError(Text("{word} has too many decimals for {currency}", word=quoted(raw),
                               currency=currency))
    return Money(minor=int(minor), currency=currency)


_UNITS = {"d": 86_400, "day": 86_400, "days": 86_400,
          "h": 3_600, "hr": 3_600, "hrs": 3_600, "hour": 3_600, "hours": 3_600,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.ASCII)


def parse_duration(text: str) -> int | None:
    """Seconds for `45s`, `4m`, `4min`, `2h`, `1h30m`, `1h30`, `1.5h`, `1d`; None otherwise.

    Parts go from larger to smaller units, each unit once; only a single part may have
    decimals. A bare number (`90`) is not a duration.
    """
    raw = text.strip().lower()
    if not raw or len(raw) > 30 or not raw.isascii():
        return None
    if re.fullmatch(r"\d+\s*h\s*\d{1,2}", raw):  # 1h30 = 1h30m
        raw += "m"
    matches = list(_PART.finditer(raw))
    if not matches or sum(len(m[0]) for m in matches) != len(raw):
        return None
    parts = [(m[1], m[2]) for m in matches]
    sizes = [_UNITS.get(unit) for _, unit in parts]
    if None in sizes or any(a <= b for a, b in zip(sizes, sizes[1:], strict=False)):
        return None
    if len(parts) > 1 and any("." in number for number, _ in parts):
        return None
    total = sum(Decimal(number) * size for (number, _), size in zip(parts, sizes, strict=True))
    return int(total.to_integral_value(rounding=ROUND_HALF_UP))


__all__ = ["AMOUNT_FORMS", "MAX_MAJOR", "SYMBOLS", "AmountError", "Money", "currency_exponent",
           "is_currency_code",
           "parse_amount", "parse_duration"]

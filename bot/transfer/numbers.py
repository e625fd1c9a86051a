"""Numbers in CSV cells: money (`12000`, `12,000.50`, `12.000,50`, `12 000`, `$12,000`,
`12000 USD`, `(200)`, `12k`; another currency than the workspace's is refused), with the decimal
mark of the whole file (bot.transfer.evidence), counts and response times."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_symbol

from bot.transfer.problems import RowError
from reports.events import MAX_DURATION
from reports.units import MAX_MAJOR, currency_exponent, parse_duration

MAX_COUNT = 1_000_000_000  # a CSV row may stand for many events (the chat grammar: 100,000)
_LARGEST = int(MAX_MAJOR)  # the largest amount in major units, as the chat grammar's

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'’")
_NUMBER_AREA = re.compile(r"(?a)\d[\d.,\s\u00a0\u202f\u2009'’]*\d|\d")
_PLAIN = re.compile(r"(?a)^\d+(?:\.\d+)?$")
# Symbols → the currencies they may stand for (to tell "another currency" from "not a number").
_SYMBOLS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP"}),
    "us$": frozenset({"USD"}), "ca$": frozenset({"CAD"}), "c$": frozenset({"CAD"}),
    "a$": frozenset({"AUD"}), "au$": frozenset({"AUD"}), "nz$": frozenset({"NZD"}),
    "hk$": frozenset({"HKD"}), "s$": frozenset({"SGD"}), "r$": frozenset({"BRL"}),
    "mx$": frozenset({"MXN"}), "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}), "￥": frozenset({"JPY", "CNY"}), "元": frozenset({"CNY"}),
    "cn¥": frozenset({"CNY"}), "kr": frozenset({"NOK", "SEK", "DKK", "ISK"}),
    "kr.": frozenset({"DKK", "NOK", "SEK"}), ",-": frozenset({"NOK", "SEK", "DKK"}),
    "zł": frozenset({"PLN"}), "lei": frozenset({"RON"}), "₹": frozenset({"INR"}),
    "₩": frozenset({"KRW"}), "₽": frozenset({"RUB"}), "₺": frozenset({"TRY"}),
    "₪": frozenset({"ILS"}), "kč": frozenset({"CZK"}), "ft": frozenset({"HUF"}),
    "fr.": frozenset({"CHF"}), "r": frozenset({"ZAR"}),
}
_LOCALES = ("en", "en_US", "en_GB", "nb", "sv", "da", "ro", "zh", "de", "fr", "ja")


@dataclass(frozen=True)
class MoneyReader:
    currency: str
    precision: int
    decimal: str = "."  # the decimal mark of the file
    symbols: frozenset[str] = frozenset()

    @classmethod
    def for_currency(cls, currency: str, decimal: str = ".") -> MoneyReader:
        code = currency.upper()
        symbols = {code.lower()}
        for locale in _LOCALES:
            with contextlib.suppress(Exception):
                symbols.add(get_currency_symbol(code, locale=locale).lower())
        symbols.update(s for s, codes in _SYMBOLS.items() if code in codes)
        return cls(code, currency_exponent(code), decimal, frozenset(symbols))

    def read(self, text: str, what: str, *, signed: bool = False) -> int | None:
        """Minor units, or None for an empty cell. Raises RowError naming `what`."""
        s = text.strip()
        if not s:
            return None
        if self.decimal == "." and _PLAIN.match(s):  # fast path: 12000 or 12000.00
            whole, _, part = s.partition(".")
            return self._minor(whole, part, Decimal(1), negative=False, text=text, what=what,
                               signed=signed)
        area = _NUMBER_AREA.search(s)
        if area is None:
            raise RowError(f'{what} "{text}" is not a number')
        prefix, number, suffix = s[: area.start()], area.group(), s[area.end():]
        negative = False
        prefix = prefix.replace(" ", "").replace("\u00a0", "")
        suffix = suffix.replace(" ", "").replace("\u00a0", "")
        if prefix.startswith("(") and suffix.endswith(")"):
            negative, prefix, suffix = True, prefix[1:], suffix[:-1]
        for sign in ("-", "−"):
            if prefix.startswith(sign) or prefix.endswith(sign):
                negative, prefix = True, prefix.replace(sign, "", 1)
            if suffix.endswith(sign) and suffix != ",-":
                negative, suffix = True, suffix[:-1]
        prefix = prefix.removeprefix("+")
        multiplier = Decimal(1)
        low = suffix.lower()
        if low and low not in self.symbols and low not in _SYMBOLS and low[0] in "km" and (
            len(low) == 1 or low[1:] in self.symbols or low[1:] in _SYMBOLS
            or re.fullmatch(r"[a-z]{3}", low[1:])
        ):
            multiplier = Decimal(1000) if low[0] == "k" else Decimal(1_000_000)
            suffix = suffix[1:]
        for marker in (prefix, suffix):
            if marker:
                self._check_marker(marker, text, what)
        whole, part = self._split(number.translate(_SPACES), text, what)
        return self._minor(whole, part, multiplier, negative=negative, text=text, what=what,
                           signed=signed)

    def _check_marker(self, marker: str, text: str, what: str) -> None:
        low = marker.lower()
        if low in self.symbols:
            return
        if re.fullmatch(r"[a-z]{3}", low):
            raise RowError(f'{what} "{text}" is in {low.upper()}; this workspace counts in '
                           f"{self.currency} (convert it first)")
        if low in _SYMBOLS:
            codes = "/".join(sorted(_SYMBOLS[low]))
            raise RowError(f'{what} "{text}" is in {marker} ({codes}); this workspace counts in '
                           f"{self.currency} (convert it first)")
        raise RowError(f'{what} "{text}" is not a number')

    def _split(self, number: str, text: str, what: str) -> tuple[str, str]:
        d = self.decimal
        g = "," if d == "." else "."
        if re.fullmatch(rf"[0-9]+(?:{re.escape(d)}[0-9]+)?", number):
            whole, _, part = number.partition(d)
            return whole, part
        if re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(g)}[0-9]{{3}})+(?:{re.escape(d)}[0-9]+)?",
                        number):
            whole, _, part = number.partition(d)
            return whole.replace(g, ""), part
        raise RowError(f'{what} "{text}" is not a number')

    def _minor(self, whole: str, part: str, multiplier: Decimal, *, negative: bool, text: str,
               what: str, signed: bool) -> int:
        if multiplier == 1:
            extra = part[self.precision:]
            if extra.strip("0"):
                raise RowError(f'{what} "{text}" has more decimals than {self.currency} has '
                               f"({self.precision})")
            minor = int(whole) * 10**self.precision + int(
                (part[: self.precision]).ljust(self.precision, "0") or "0")
        else:
            try:
                value = Decimal(f"{whole}.{part or '0'}") * multiplier * 10**self.precision
            except InvalidOperation:
                raise RowError(f'{what} "{text}" is not a number') from None
            if value != value.to_integral_value():
                raise RowError(f'{what} "{text}" has more decimals than {self.currency} has '
                               f"({self.precision})")
            minor = int(value)
        if negative:
            if not signed:
                raise RowError(f'{what} "{text}" must not be negative')
            minor = -minor
        if abs(minor) > _LARGEST * 10**self.precision:
            raise RowError(f'{what} "{text}" is too large')
        return minor


def classify_decimal(text: str) -> str | None:
    """Evidence an amount cell gives about the decimal mark: "dot", "comma",
    "ambiguous-dot" (12.000), "ambiguous-comma" (12,000) or None."""
    if "," not in text and "." not in text:
        return None
    area = _NUMBER_AREA.search(text)
    if area is None:
        return None
    core = area.group().translate(_SPACES)
    dot, comma = core.rfind("."), core.rfind(",")
    if dot >= 0 and comma >= 0:
        return "dot" if dot > comma else "comma"
    mark = "." if dot >= 0 else ","
    parts = core.split(mark)
    if len(parts) > 2:
        return "comma" if mark == "." else "dot"
    if len(parts[1]) == 3:
        return "ambiguous-dot" if mark == "." else "ambiguous-comma"
    return "dot" if mark == "." else "comma"


def read_count(text: str, grouping: str) -> int:
    s = text.strip()
    if not s:
        return 1
    digits = s
    if not (s.isascii() and s.isdigit()):
        candidate = s.translate(_SPACES)
        if re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(grouping)}[0-9]{{3}})+", candidate):
            digits = candidate.replace(grouping, "")
        elif candidate.isascii() and candidate.isdigit():
            digits = candidate
        else:
            raise RowError(f'count "{text}" must be a positive whole number')
    value = int(digits)
    if value < 1:
        raise RowError(f'count "{text}" must be a positive whole number')
    if value > MAX_COUNT:
        raise RowError(f'count "{text}" is too large (at most {MAX_COUNT:,})')
    return value


def read_duration(text: str) -> int:
    """Seconds: a whole number of seconds, or a duration like 4m, 45s, 1h30m."""
    s = text.strip()
    seconds = int(s) if s.isdigit() else parse_duration(s.replace(" ", ""))
    if seconds is None:
        raise RowError(f'duration "{text}" is not a duration (seconds, or like 4m, 1h30m)')
    if seconds > MAX_DURATION:
        raise RowError(f'duration "{text}" is longer than 365 days')
    return seconds


# ---------------------------------------------------------------------------------------------
# Rows → events
# ---------------------------------------------------------------------------------------------


__all__ = ["MAX_COUNT", "MoneyReader", "classify_decimal", "read_count", "read_duration"]

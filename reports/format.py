"""Locale-aware presentation of KPI results: `38% (19/50)`, `n/a (0/0)`, `$12.5K`, `4.2 days`,
`3m 10s`, and changes against the previous period: `▲ 4 pts`, `▼ 12%`, `new`, `—`.

Every number goes through Babel (percentages, decimals, currencies, compact currencies and
CLDR units), so another `locale` ("nb", "sv", "ro", "zh_Hans") already gets its own decimal
signs, grouping, percent spacing and unit words; the few remaining English words ("n/a",
"pts", "new") are the strings to translate when the digest is localized. Display rounding is
half-up (12.5% shows as 13%), applied to the shortest decimal form of the float.

Money values are in minor units (as in every KpiResult). Absolute amounts of 1,000 or more
(major units) are shown compact (`$12.5K`, Babel's compact currency format for the locale),
smaller ones in full (`$714.29`).
"""

from __future__ import annotations

import copy
import decimal
import functools
from decimal import Decimal
from typing import TYPE_CHECKING

from babel import Locale
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    format_currency,
    format_decimal,
    parse_pattern,
)
from babel.numbers import (
    format_percent as _babel_percent,
)
from babel.units import format_compound_unit, format_unit

from reports.kpis.catalog import Change
from reports.kpis.result import KpiResult
from reports.periods import Period
from reports.text import Text
from reports.units import currency_exponent

if TYPE_CHECKING:
    from reports.i18n import Translator

NA = "n/a"
NO_CHANGE = "—"
NEW = "new"
COMPACT_FROM = 1_000  # major units
MONEY_COUNT_KPIS = frozenset({"quota-attainment", "monthly-progress", "mrr-churn"})


def _dec(value: float | int | Decimal) -> Decimal:
    """The shortest decimal form of a float (0.145 -> Decimal("0.145"), not 0.14499...)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


def _half_up():
    """Display rounding: half up (Babel rounds with the decimal context's rounding)."""
    return decimal.localcontext(rounding=decimal.ROUND_HALF_UP)


def format_number(value: float | int | None, locale: str = "en", *, digits: int = 2) -> str:
    """`1,500`, `12.5` (at most `digits` decimals, none for whole numbers)."""
    if value is None:
        return NA
    if type(value) not in _CACHED:  # a Decimal keeps its exponent: 1.0 and 1.00 apart
        return _number_text.__wrapped__(value, locale, digits)
    return _number_text(value, locale, digits)


def format_percent(value: float | None, locale: str = "en", *, digits: int | None = None
                   ) -> str:
    """`38%`, `4.2%` (one decimal under 10% unless `digits` says otherwise), `n/a` for None.

    Uses the locale's percent pattern (`38 %` in nb and sv)."""
    if value is None:
        return NA
    if digits is None:
        digits = 1 if abs(value) < 0.1 and value != 0 else 0
    if type(value) not in _CACHED:
        return _percent_text.__wrapped__(value, locale, digits)
    return _percent_text(value, locale, digits)


# The texts of the numbers shown lately: a reply shows a dozen, mostly the same as the last
# time it was asked, and Babel takes ~15 µs each. Typed: 1, 1.0 and True are formatted apart.
_CACHED = (int, float)
@functools.lru_cache(maxsize=4096, typed=True)
def _number_text(value: float | int | Decimal, locale: str, digits: int) -> str:
    with _half_up():
        return format_decimal(_dec(value), format=_decimal_pattern(digits),
                              locale=_locale(locale))


@functools.lru_cache(maxsize=4096, typed=True)
def _percent_text(value: float | int | Decimal, locale: str, digits: int) -> str:
    with _half_up():
        return _babel_percent(_dec(value), format=_percent_pattern(locale, digits),
                              locale=_locale(locale))


# Parsed once: reading a locale and a pattern cost more than formatting the number.
_locale = functools.lru_cache(maxsize=64)(Locale.parse)


@functools.lru_cache(maxsize=16)
def _decimal_pattern(digits: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "#" * digits if digits else ""))


@functools.lru_cache(maxsize=64)
def _percent_pattern(locale: str, digits: int) -> NumberPattern:
    """The locale's percent pattern with at most `digits` decimals (never changed by its
    users: Babel only reads a pattern)."""
    pattern = copy.copy(_locale(locale).percent_formats[None])
    pattern.frac_prec = (0, digits)
    return pattern


format_percent_value = format_percent  # the name the bot handlers import


def _unit(value: float, unit: str, locale: str, *, lengths: tuple[str, ...],
          pattern: str | None = None) -> str:
    """A CLDR unit (`4.2 days`, `3m`), trying the lengths in order: Babel falls back to the
    raw unit id when a locale lacks a length."""
    number = _dec(value)
    if number == number.to_integral_value():  # 1.0 -> 1: "1 day", not "1 days"
        number = Decimal(int(number))
    with _half_up():
        for length in (*lengths, "long", "short", "narrow"):
            text = format_unit(number, unit, length=length, format=pattern, locale=locale)
            if unit not in text:
                return text
    return f"{format_number(value, 'en', digits=1)} {unit.split('-')[-1]}s"


def format_days(seconds: float | None, locale: str = "en") -> str:
    """A duration given in seconds, as days with one decimal: `4.2 days`, `1 day`."""
    if seconds is None:
        return NA
    return _days_text(seconds / 86_400, locale)


def _days_text(days: float, locale: str) -> str:
    with _half_up():
        rounded = _dec(days).quantize(Decimal("0.1"))
    return _unit(rounded, "duration-day", locale, lengths=("long",), pattern="#,##0.#")


def format_duration(seconds: float | None, locale: str = "en") -> str:
    """A short duration: `45s`, `3m 10s` (seconds shown under 10 minutes), `1h 30m`,
    `2d 3h`."""
    if seconds is None:
        return NA
    total = int(_dec(seconds).to_integral_value(rounding=decimal.ROUND_HALF_UP))
    if total < 0:
        return "-" + format_duration(-total, locale)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, "duration-day"), (hours, "duration-hour")]
    elif hours:
        parts = [(hours, "duration-hour"), (minutes, "duration-minute")]
    elif minutes:
        parts = [(minutes, "duration-minute"), (secs if minutes < 10 else 0, "duration-second")]
    else:
        parts = [(secs, "duration-second")]
    shown = [parts[0]] + [p for p in parts[1:] if p[0]]
    return " ".join(_unit(n, unit, locale, lengths=("narrow",)) for n, unit in shown)


def format_money(minor: float | int | None, currency: str, locale: str = "en", *,
                 compact: bool | None = None) -> str:
    """Money in minor units: `$12.5K` from 1,000 major units up, else `$714.29`."""
    if minor is None:
        return NA
    currency = currency.upper()
    major = _dec(minor).scaleb(-currency_exponent(currency))
    if compact is None:
        compact = abs(major) >= COMPACT_FROM and _has_compact_form(major, locale)
    with _half_up():
        if compact:
            return format_compact_currency(major, currency, locale=locale, fraction_digits=1)
        return format_currency(major, currency, locale=locale)


def _has_compact_form(major: Decimal, locale: str) -> bool:
    """Whether the locale writes this magnitude shorter: CLDR's pattern "0" means it does not
    (Chinese compacts from 万 = 10,000 up; Babel would print such an amount unrounded)."""
    compacts = [shorter for size, shorter in _compact_sizes(locale) if size <= abs(major)]
    return bool(compacts) and compacts[-1]


@functools.cache
def _compact_sizes(locale: str) -> tuple[tuple[int, bool], ...]:
    """(magnitude, whether it is written shorter) of the locale's compact currency formats."""
    patterns = Locale.parse(locale).compact_currency_formats["short"]["other"]
    return tuple(sorted((int(size), patterns[size].pattern != "0") for size in patterns))


def format_amount(minor: float | int | None, currency: str, locale: str = "en") -> str:
    """An exact amount in minor units, as a receipt shows it: `$12,000.50`, `¥5,000`."""
    return format_money(minor, currency, locale, compact=False)


def _per_day(text: str, locale: str) -> str:
    for length in ("long", "short", "narrow"):
        out = format_compound_unit(text, denominator_unit="duration-day", length=length,
                                   locale=locale)
        if out and "duration-" not in out:
            return out
    return f"{text}/day"


def _counts(result: KpiResult, locale: str, currency: str) -> str:
    metric = result.details.get("metric", "revenue")
    if result.kpi in MONEY_COUNT_KPIS and metric == "mixed":  # quotas on several activities
        return "(see each quota)"
    if result.kpi in MONEY_COUNT_KPIS and metric != "revenue":  # an activity quota
        counts = format_quota_counts(result.numerator, result.denominator, metric, currency,
                                     locale)
        return f"({counts})"
    def one(x):
        if result.kpi in MONEY_COUNT_KPIS:
            return format_money(x or 0, currency, locale)
        return format_number(x or 0, locale)
    return f"({one(result.numerator)}/{one(result.denominator)})"


def format_quota_counts(attained: float | None, target: float | None, metric: str,
                        currency: str, locale: str = "en") -> str:
    """A quota's counts in its metric: `$12K/$15K` for revenue, `5/10 demo-booked` for an
    activity quota (a count of events, never money)."""
    if metric == "revenue":
        return (f"{format_money(round(attained or 0), currency, locale)}/"
                f"{format_money(round(target or 0), currency, locale)}")
    return f"{format_number(attained or 0, locale)}/{format_number(target or 0, locale)} {metric}"


def format_quota(attainment: float | None, attained: float | None, target: float | None,
                 metric: str, currency: str, locale: str = "en") -> str:
    """A quota's attainment with its counts: `80% ($12K/$15K)`, `50% (5/10 demo-booked)`."""
    counts = format_quota_counts(attained, target, metric, currency, locale)
    return f"{format_percent(attainment, locale)} ({counts})"


def format_value(result: KpiResult, locale: str = "en", *, with_counts: bool = True,
                 currency: str | None = None) -> str:
    """The headline value of a result in its unit; a rate with the counts behind it.

    ratio `38% (19/50)` or `n/a (0/0)`; money `$12.5K`; count `1,500`; days `4.2 days`;
    seconds `3m 10s`; money_per_day `$474.36 per day`; multiple (ROI) `620%`."""
    currency = currency or result.details.get("currency") or "USD"
    value, unit = result.value, result.unit
    counts = ""
    if with_counts and unit == "ratio" and result.denominator is not None:
        counts = " " + _counts(result, locale, currency)
    if value is None:
        return NA + counts
    if unit == "ratio":
        return format_percent(value, locale) + counts
    if unit == "money":
        return format_money(value, currency, locale)
    if unit == "money_per_day":
        return _per_day(format_money(value, currency, locale), locale)
    if unit == "days":
        return _days_text(value, locale)
    if unit == "seconds":
        return format_duration(value, locale)
    if unit == "multiple":
        return format_percent(value, locale)
    return format_number(value, locale)


def format_change(change: Change, unit: str, locale: str = "en") -> str:
    """`▲ 4 pts` (rates change in percentage points), `▼ 12%` (other units, relative),
    `new` (from 0 or n/a), `—` (no change, or nothing to compare)."""
    if change.new:
        return NEW
    if change.delta is None or change.delta == 0:
        return NO_CHANGE
    arrow = "▲" if change.delta > 0 else "▼"
    if unit == "ratio":
        points = format_number(abs(change.delta) * 100, locale, digits=1)
        return NO_CHANGE if points == format_number(0, locale) else f"{arrow} {points} pts"
    if change.relative is None:
        return arrow
    text = format_percent(abs(change.relative), locale)
    return NO_CHANGE if text == format_percent(0.0, locale) else f"{arrow} {text}"


# How each KPI detail field reads (KpiResult.details): its unit. Money is in minor units of
# the workspace currency, ratios are shares (0.38 -> 38%), "days" and "seconds" durations,
# "change" a relative change, "times" a multiple (3.2×). A field listed as "hidden" is for
# machines (the API's JSON keeps every field); booleans are never shown and None reads "n/a".
# Any other number is a count.
DETAIL_UNITS: dict[str, str] = {
    **dict.fromkeys(("revenue", "spend", "revenue_mtd", "same_day_last_month", "mrr_at_start",
                     "change", "churned_mrr", "downgrades", "arpc_monthly", "cac",
                     "avg_deal_size_90d"), "money"),
    **dict.fromkeys(("show_rate", "lead_to_won", "win_rate_90d", "pace", "elapsed",
                     "reps_at_quota_share", "price_share", "competitor_share",
                     "monthly_churn_rate", "share_within_target", "response_rate"), "ratio"),
    **dict.fromkeys(("median", "mean", "p90"), "days"),  # a distribution of days
    **dict.fromkeys(("median_seconds", "mean_seconds", "p90_seconds", "target_seconds"),
                    "seconds"),
    "vs_last_month": "change",
    "clv_to_cac": "times",
    **dict.fromkeys(("currency", "formula", "warnings", "new_vs_last_month"), "hidden"),
}
DETAIL_LABELS = {  # a label where the field's name does not read well
    "median_seconds": "median", "mean_seconds": "mean", "p90_seconds": "p90",
    "target_seconds": "target", "avg_deal_size_90d": "avg deal size (90 days)",
    "win_rate_90d": "win rate (90 days)", "arpc_monthly": "ARPC per month",
    "clv_to_cac": "CLV to CAC", "cac": "CAC", "elapsed": "elapsed share", "n": "count",
    "vs_last_month": "vs same day last month",
}


# KPIs whose rows are in another unit than the headline: lead-sources counts leads, each
# source row is its lead-to-won share; stalled-deals counts deals, each row is a deal's idle days.
ROW_UNITS = {"lead-sources": "ratio", "stalled-deals": "days"}


def row_unit(kpi: str, unit: str) -> str:
    """The unit of a result's rows (the result's own unit unless ROW_UNITS says otherwise)."""
    return ROW_UNITS.get(kpi, unit)


def format_detail(key: str, value: object, details: dict, currency: str,
                  locale: str = "en", t: Translator | None = None) -> str | None:
    """One detail field as a person reads it (a sentence in the language of `t`), or None
    when it is not shown (booleans, machine fields, nested lists and maps)."""
    unit = DETAIL_UNITS.get(key, "count")
    if unit == "hidden" or isinstance(value, (bool, dict, list, tuple)):
        return None
    if key == "vs_last_month" and details.get("new_vs_last_month"):
        return NEW
    if value is None:
        return NA
    if isinstance(value, Text):
        return value.render(t) if t is not None else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Period):
        from reports.wording import describe_period  # wording imports this module
        return value.describe() if t is None else describe_period(value, t)
    if unit == "money":
        return format_money(value, currency, locale)
    if unit == "ratio":
        return format_percent(value, locale)
    if unit == "days":
        return _days_text(value, locale)
    if unit == "seconds":
        return format_duration(value, locale)
    if unit == "change":
        return format_change(Change(delta=value, relative=value), "relative", locale)
    if unit == "times":
        return f"{format_number(value, locale, digits=1)}×"
    return format_number(value, locale)


def format_details(details: dict, currency: str, locale: str = "en",
                   t: Translator | None = None) -> tuple[tuple[str, str], ...]:
    """A result's details as (label, text) pairs, in the result's order, shown ones only."""
    pairs = []
    for key, value in details.items():
        text = format_detail(str(key), value, details, currency, locale, t)
        if text is not None:
            pairs.append((DETAIL_LABELS.get(key, str(key).replace("_", " ")), text))
    return tuple(pairs)


__all__ = [
    "DETAIL_UNITS", "NA", "ROW_UNITS", "row_unit", "format_change", "format_detail",
    "format_details", "format_days", "format_duration", "format_money", "format_number",
    "format_percent", "format_percent_value", "format_quota", "format_quota_counts",
    "format_value"
]

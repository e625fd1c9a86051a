"""Locale-aware presentation of KPI values: `38% (19/50)`, `n/a (0/0)`, `$12.5K`, `4.2 days`.

Numbers go through Babel, so a `locale` other than English gets its own separators and signs.
"""

from __future__ import annotations

from babel.numbers import format_decimal, format_percent

from reports.kpis.catalog import Change
from reports.kpis.result import KpiResult
from reports.units import format_duration, format_money, format_money_short

NA = "n/a"


def _count(value: float | None, locale: str) -> str:
    if value is None:
        return "0"
    return format_decimal(value, format="#,##0" if float(value).is_integer() else "#,##0.##",
                          locale=locale)


def format_percent_value(value: float, locale: str = "en") -> str:
    return format_percent(value, format="#,##0%" if abs(value) >= 0.1 or value == 0
                          else "#,##0.#%", locale=locale)


def format_days(seconds: float | None, locale: str = "en") -> str:
    if seconds is None:
        return NA
    return f"{format_decimal(seconds / 86_400, format='#,##0.#', locale=locale)} days"


def format_value(result: KpiResult, *, with_counts: bool = True, locale: str = "en",
                 currency: str | None = None) -> str:
    """The headline value of a result in its unit, with the counts behind a rate."""
    currency = currency or result.details.get("currency") or "USD"
    value = result.value
    counts = ""
    if with_counts and result.denominator is not None and result.unit == "ratio":
        counts = f" ({_count(result.numerator, locale)}/{_count(result.denominator, locale)})"
    if value is None:
        if result.unit in ("ratio", "money", "multiple") and result.denominator is not None:
            return f"{NA}{counts or f' (0/{_count(result.denominator, locale)})'}"
        return NA
    if result.unit == "ratio":
        return f"{format_percent_value(value, locale)}{counts}"
    if result.unit == "money":
        return format_money(int(round(value)), currency, locale) if abs(value) < 100_000_00 \
            else format_money_short(int(round(value)), currency, locale)
    if result.unit == "money_per_day":
        return f"{format_money_short(int(round(value)), currency, locale)}/day"
    if result.unit == "days":
        return f"{format_decimal(value, format='#,##0.#', locale=locale)} days"
    if result.unit == "seconds":
        return format_duration(value)
    if result.unit == "multiple":
        return format_percent_value(value, locale)
    return _count(value, locale)


def format_change(change: Change, unit: str, locale: str = "en") -> str:
    """`▲ 4 pts`, `▼ 12%`, `new`, or "" when there is nothing to compare."""
    if change.new:
        return "new"
    if change.delta is None:
        return ""
    if change.delta == 0:
        return "= no change"
    arrow = "▲" if change.delta > 0 else "▼"
    if unit == "ratio":
        points = format_decimal(abs(change.delta) * 100, format="#,##0.#", locale=locale)
        return f"{arrow} {points} pts"
    if change.relative is None:
        return arrow
    return f"{arrow} {format_percent_value(abs(change.relative), locale)}"

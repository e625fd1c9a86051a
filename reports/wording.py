"""Periods, changes and values as a person reads them in their language (chat replies).

English keeps `Period.describe()` ("October 2026", "week 47, 2026 (Nov 16 – Nov 22)"); other
languages get Babel's dates ("oktober 2026", "16.–22. nov. 2026"). Numbers come from
reports/format.py in the language's locale; its few English words ("new", "pts", "n/a") are
translated here."""

from __future__ import annotations

import calendar
from datetime import timedelta

from babel.dates import format_date, format_interval, format_skeleton

from reports.format import NA, NEW, format_change, format_value
from reports.i18n import Translator
from reports.kpis.catalog import Change
from reports.kpis.result import KpiResult
from reports.periods import Comparison, Period


def describe_period(period: Period, t: Translator) -> str:
    """`period` in the language of `t` (its dates in the language's locale)."""
    if t.language == "en":
        return period.describe()
    first, end = period.start_local.date(), period.end_local.date()
    if end <= first:
        return t.gettext("{period} (no days)", period=period.label)
    last = end - timedelta(days=1)
    if first == last:
        return format_date(first, "medium", locale=t.locale)
    if (first.day, first.month, first.year) == (1, last.month, last.year) \
            and last.day == calendar.monthrange(last.year, last.month)[1]:
        return format_skeleton("yMMMM", first, locale=t.locale)
    return format_interval(first, last, "yMMMd", locale=t.locale)


def describe_comparison(spans: Comparison, t: Translator) -> str:
    """Both spans a change compares: "Dec 1 – Dec 5, 2026 vs Nov 1 – Nov 5, 2026"."""
    if t.language == "en":
        return spans.describe()
    return t.gettext("{current} vs {previous}", current=describe_period(spans.current, t),
                     previous=describe_period(spans.previous, t))


def change_text(change: Change, unit: str, t: Translator) -> str:
    """`▲ 4 pts`, `▼ 12%`, `new`, `—` in the language of `t`."""
    text = format_change(change, unit, t.locale)
    if text == NEW:
        return t.gettext("new")
    if text.endswith(" pts"):
        return text[:-len("pts")] + t.gettext("pts")
    return text


def value_text(result: KpiResult, t: Translator, **options) -> str:
    """A KPI's value (with its counts) in the language of `t`; n/a translated."""
    currency = result.details.get("currency", "USD")
    return format_value(result, t.locale, currency=currency, **options).replace(
        NA, t.gettext("n/a"))

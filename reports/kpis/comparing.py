"""A KPI against the previous period: `Change` and `compare` (the rule every view shows), and
`compute_compared`, like for like (reports.periods.comparison): a running period's elapsed
days against the same days of the previous period, both spans named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reports.kpis.compute import compute_kpi
from reports.kpis.facts import Facts
from reports.kpis.result import KpiResult
from reports.periods import Comparison, Period, comparison


@dataclass(frozen=True)
class Change:
    """A result against the previous period's (see `compare`)."""

    delta: float | None  # value − previous value (ratio units for rates: 0.04 = 4 points)
    relative: float | None  # delta / |previous value|; None when the previous was 0 or n/a
    new: bool = False  # the previous was 0 or n/a and now the value is > 0


def compare(current: KpiResult, previous: KpiResult | None) -> Change:
    """`current` against the previous period's result.

    Both n/a (or no previous result) → Change(None, None). The previous 0 or n/a and now > 0
    → new. Otherwise delta = current − previous (ratio units for rates) and relative =
    delta / |previous|."""
    now = current.value
    before = previous.value if previous is not None else None
    if now is None:
        return Change(None, None)
    if not before:  # 0 or n/a before
        return Change(now - (before or 0), None, new=now > 0)
    delta = now - before
    return Change(delta, delta / abs(before))


@dataclass(frozen=True)
class Compared:
    """A KPI over a period and its change, like for like (reports.periods.comparison): a
    running period's elapsed days against the same days of the previous one."""

    result: KpiResult  # over the period asked for: the figure a view shows
    current: KpiResult  # over spans.current (the same object as `result` for a whole period)
    previous: KpiResult  # over spans.previous
    spans: Comparison

    @property
    def change(self) -> Change:
        return compare(self.current, self.previous)

    def spans_json(self) -> dict[str, Any]:
        """Both spans for JSON: {"current": {...}, "previous": {...}, "partial"}, each span
        with its label, start, end and description."""
        def span(period: Period) -> dict[str, str]:
            return {"label": period.label, "start": period.start.isoformat(),
                    "end": period.end.isoformat(), "describe": period.describe()}
        return {"current": span(self.spans.current), "previous": span(self.spans.previous),
                "partial": self.spans.partial, "describe": self.spans.describe()}


def compute_compared(name: str, *, facts: Facts, period: Period, now: datetime,
                     user: str | None = None, options: Mapping[str, Any] | None = None,
                     result: KpiResult | None = None) -> Compared:
    """`compute_kpi` over `period` (or the given `result` of it) with the comparison spans
    at `now` and the KPI over each of them."""
    spans = comparison(period, now)
    def over(span: Period) -> KpiResult:
        return compute_kpi(name, facts=facts, period=span, now=now, user=user,
                           options=options)
    result = result if result is not None else over(period)
    current = over(spans.current) if spans.partial else result
    return Compared(result, current, over(spans.previous), spans)

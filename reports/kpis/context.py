"""What every KPI formula gets and gives: `Ctx` (the facts, the period, `now`, an optional rep
and options) and `kpi_result`, a formula's `KpiResult` over the context's period."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reports.kpis.facts import Facts
from reports.kpis.result import KpiResult
from reports.periods import Period, local_midnight

DAY = 86_400.0
TRAILING_DAYS = 90


@dataclass(frozen=True)
class Ctx:
    """What a formula gets: the facts, the period, the instant `now`, an optional rep."""

    facts: Facts
    period: Period
    now: datetime
    user: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end

    def trailing(self, days: int = TRAILING_DAYS) -> tuple[datetime, datetime]:
        """The window [now - days, now)."""
        return self.now - timedelta(days=days), self.now

    def trailing_days(self, days: int = TRAILING_DAYS) -> tuple[datetime, datetime]:
        """The `days` whole local days before today: [today - days, today) at local midnights
        in the period's zone. The same all day, so what depends on it holds still all day."""
        today = self.now.astimezone(ZoneInfo(self.period.tz)).date()
        return (local_midnight(today - timedelta(days=days), self.period.tz),
                local_midnight(today, self.period.tz))

    def team(self) -> Ctx:
        """The same question for the whole team (`user` dropped)."""
        return dataclasses.replace(self, user=None)

    def over(self, period: Period) -> Ctx:
        return dataclasses.replace(self, period=period)


def kpi_result(ctx: Ctx, name: str, value: float | None, unit: str, *, numerator=None,
               denominator=None, rows=(), details=None, warnings=()) -> KpiResult:
    """A formula's result over ctx's period (`compute_kpi` adds the spec's formula to it)."""
    return KpiResult(kpi=name, workspace=ctx.facts.workspace_id, period_label=ctx.period.label,
                     start=ctx.start, end=ctx.end, value=value, unit=unit, numerator=numerator,
                     denominator=denominator, rows=tuple(rows), details=dict(details or {}),
                     warnings=tuple(warnings))

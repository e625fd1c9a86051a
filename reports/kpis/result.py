"""A KPI's answer: the value, the counts behind it, breakdown rows and details. Pure data.

`to_json()` is the documented JSON shape of `kpibot kpi NAME --json`:
{"kpi", "workspace", "period": {"label", "start", "end"}, "value", "unit", "numerator",
 "denominator", "rows": [{"key", "value", "numerator", "denominator", ...}], "details": {...}}
`value` is null for n/a (a zero denominator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reports.periods import Period
from reports.text import Message, Text

UNITS = ("ratio", "money", "count", "days", "seconds", "money_per_day", "multiple")


@dataclass(frozen=True)
class KpiRow:
    """One row of a breakdown. `key` names it in JSON (a rep id, a source, a stage, `reason:
    price`); a row that counts something users typed also carries its `kind` ("reason",
    "competitor") and `subject` (the reason or competitor as typed) for views, not in JSON."""

    key: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    subject: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "numerator": self.numerator,
                "denominator": self.denominator, **self.extra}


@dataclass(frozen=True)
class KpiResult:
    kpi: str
    workspace: str
    period_label: str
    start: datetime
    end: datetime
    value: float | None
    unit: str
    numerator: float | None = None
    denominator: float | None = None
    rows: tuple[KpiRow, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[Message, ...] = ()  # data warnings: `Text`s a view translates

    def to_json(self) -> dict[str, Any]:
        details = {key: _json_detail(value) for key, value in self.details.items()}
        if self.warnings:
            details["warnings"] = [str(warning) for warning in self.warnings]
        return {
            "kpi": self.kpi,
            "workspace": self.workspace,
            "period": {"label": self.period_label, "start": self.start.isoformat(),
                       "end": self.end.isoformat()},
            "value": self.value,
            "unit": self.unit,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rows": [row.to_json() for row in self.rows],
            "details": details,
        }


def _json_detail(value: Any) -> Any:
    """A detail as JSON: a text in English, a period by its name ("2026-11")."""
    if isinstance(value, Text):
        return str(value)
    if isinstance(value, Period):
        return value.label
    return value

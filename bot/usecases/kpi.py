"""Answer a KPI for a workspace, a period and filters: `/kpi NAME` in chat, `kpibot kpi NAME`
(text and --json) and `GET /api/v1/kpis/NAME` all ask `answer_kpi`.

The JSON (`kpi_json`) is one object: {"kpi", "workspace", "period": {"label", "start", "end"},
"value", "unit", "numerator", "denominator", "rows": [{"key", "value", "numerator",
"denominator", ...}], "details": {...}, "comparison": {"current": SPAN, "previous": SPAN,
"partial", "describe", "current_value", "previous_value", "change": {"delta", "relative",
"new"}}}; `value` is null for n/a. A SPAN is {"label", "start", "end", "describe"}: a running
period's elapsed days and the same days of the previous period (reports.periods.comparison).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from reports.kpis.catalog import CATALOG, Compared, KpiSpec, compute_compared
from reports.kpis.remembered import RememberedFacts
from reports.periods import Period, parse_period
from storage.facts import SqlFacts

if TYPE_CHECKING:
    from storage.lite import WorkspaceRow
    from storage.models import Workspace


class UnknownKpi(LookupError):
    """No KPI of that name; str(error) says so and where the list is."""


@dataclass(frozen=True)
class KpiAnswer:
    """A KPI over a period: the result compared like for like, and whose names to show."""

    spec: KpiSpec
    period: Period
    compared: Compared
    user: str | None = None
    names: dict[str, str] = field(default_factory=dict)


def answer_kpi(session, workspace: Workspace | WorkspaceRow, name: str, period_text: str, *,
               now: datetime, user: str | None = None, with_names: bool = True) -> KpiAnswer:
    """KPI `name` over `period_text` (read in the workspace's time zone and fiscal year) for
    the workspace, or only `user`'s figures, with the previous period's. Raises UnknownKpi, or
    reports.periods.PeriodError for a period that cannot be read. `with_names` also reads the
    people's display names (for a text answer). `session`: a SQLAlchemy Session, or the light
    SQLite reader (storage/lite.py; then without names)."""
    spec = CATALOG.get(name)
    if spec is None:
        raise UnknownKpi(f"{name!r} is not a KPI (kpibot kpi list shows them)")
    period = parse_period(period_text, now=now, tz=workspace.timezone,
                          fiscal_year_start=workspace.fiscal_year_start)
    # The period, its elapsed part and the previous one often ask the same facts (clv's month,
    # the balances at an instant): each distinct question is read once in this session.
    facts = RememberedFacts(SqlFacts(session=session, workspace=workspace))
    compared = compute_compared(spec.name, facts=facts, period=period, now=now, user=user)
    names = {}
    if with_names:  # a text answer; JSON (the CLI's, the events API's) names nobody
        from storage.users import display_names

        names = display_names(session=session, workspace_id=workspace.id)
    return KpiAnswer(spec=spec, period=period, compared=compared, user=user, names=names)


def kpi_json(session, workspace: Workspace, name: str, period_text: str, *, now: datetime,
             user: str | None = None) -> dict:
    """The object `kpibot kpi NAME --json` prints and GET /api/v1/kpis/NAME answers (plain
    JSON values only). Raises UnknownKpi or PeriodError."""
    answer = answer_kpi(session, workspace, name, period_text, now=now, user=user,
                        with_names=False)
    return answer_json(answer)


def answer_json(answer: KpiAnswer) -> dict:
    """The result's JSON and "comparison": both spans compared (like for like), the value
    over each and the change (delta, relative, new); plain JSON values only."""
    compared = answer.compared
    change = compared.change
    data = {**compared.result.to_json(), "comparison": {
        **compared.spans_json(), "current_value": compared.current.value,
        "previous_value": compared.previous.value,
        "change": {"delta": change.delta, "relative": change.relative, "new": change.new}}}
    return json.loads(json.dumps(data, default=str))

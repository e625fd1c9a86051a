"""`kpibot kpi NAME [--period P] [--workspace W] [--user U] [--json]` — any KPI, as text or JSON.

The JSON is one object: {"kpi", "workspace", "period": {"label", "start", "end"}, "value",
"unit", "numerator", "denominator", "rows": [{"key", "value", "numerator", "denominator",
...}], "details": {...}, "comparison": {"current": SPAN, "previous": SPAN, "partial",
"describe", "current_value", "previous_value", "change": {"delta", "relative", "new"}}};
`value` is null for n/a. A SPAN is {"label", "start", "end", "describe"}: a running period's
elapsed days and the same days of the previous period (reports.periods.comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sqlmodel import select

from bot.settings import Settings, SettingsError
from reports.kpis.catalog import CATALOG, Compared, compute_compared
from reports.periods import DEFAULT_PERIOD, PeriodError, parse_period
from storage.engine import Database
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.users import display_names


def add_parser(commands) -> None:
    kpi = commands.add_parser("kpi", help="any KPI from the catalog, as text or JSON",
                              description=__doc__.splitlines()[0])
    kpi.add_argument("name", help="KPI name (kpibot kpi list shows them)")
    kpi.add_argument("--period", default=DEFAULT_PERIOD, help="period (default this-month)")
    kpi.add_argument("--workspace", help="workspace id (needed when there is more than one)")
    kpi.add_argument("--user", help="only this rep's figures")
    kpi.add_argument("--json", action="store_true", help="print the result as JSON")


def pick_workspace(session, workspace_id: str | None) -> Workspace:
    if workspace_id:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise SettingsError(f"no workspace {workspace_id!r} in the database")
        return workspace
    workspaces = session.exec(select(Workspace).order_by(Workspace.id)).all()
    if len(workspaces) != 1:
        names = ", ".join(w.id for w in workspaces) or "none yet"
        raise SettingsError(f"choose a workspace with --workspace ({names})")
    return workspaces[0]


class UnknownKpi(LookupError):
    """No KPI of that name; str(error) says so and where the list is."""


def compute(session, workspace: Workspace, name: str, period_text: str, *, now: datetime,
            user: str | None = None):
    """(spec, period, compared) of KPI `name` over `period_text` for the workspace: the result
    and its like-for-like comparison. Raises UnknownKpi, or PeriodError for a period that
    cannot be read."""
    spec = CATALOG.get(name)
    if spec is None:
        raise UnknownKpi(f"{name!r} is not a KPI (kpibot kpi list shows them)")
    period = parse_period(period_text, now=now, tz=workspace.timezone,
                          fiscal_year_start=workspace.fiscal_year_start)
    facts = SqlFacts(session=session, workspace=workspace)
    return spec, period, compute_compared(spec.name, facts=facts, period=period, now=now,
                                          user=user)


def kpi_json(session, workspace: Workspace, name: str, period_text: str, *, now: datetime,
             user: str | None = None) -> dict:
    """The object `kpibot kpi NAME --json` prints and GET /api/v1/kpis/NAME answers (plain
    JSON values only). Raises UnknownKpi or PeriodError."""
    _, _, compared = compute(session, workspace, name, period_text, now=now, user=user)
    return json.loads(json.dumps(_json(compared), default=str))


def run(args: argparse.Namespace, settings: Settings, *, out=sys.stdout,
        now: datetime | None = None) -> int:
    if args.name == "list":
        for spec in CATALOG.values():
            out.write(f"{spec.name:24} {spec.formula}\n")
        return 0
    if args.name not in CATALOG:
        raise SettingsError(f"{args.name!r} is not a KPI (kpibot kpi list shows them)")
    now = now or datetime.now(UTC)
    database = Database.from_url(settings.database_url)
    try:
        with database.read() as session:
            workspace = pick_workspace(session, args.workspace)
            try:
                if args.json:
                    data = kpi_json(session, workspace, args.name, args.period, now=now,
                                    user=args.user)
                    out.write(json.dumps(data, indent=2) + "\n")
                    return 0
                spec, period, compared = compute(session, workspace, args.name, args.period,
                                                 now=now, user=args.user)
                names = display_names(session=session, workspace_id=workspace.id)
            except PeriodError as problem:
                raise SettingsError(str(problem)) from None
        from bot.handlers.kpis import render_result  # only the text form needs the replies

        out.write(render_result(compared.result, spec, period, compared=compared,
                                user=args.user, names=names).plain_text() + "\n")
        return 0
    finally:
        database.dispose()


def _json(compared: Compared) -> dict:
    """The result's JSON and "comparison": both spans compared (like for like), the value
    over each and the change (delta, relative, new)."""
    change = compared.change
    return {**compared.result.to_json(), "comparison": {
        **compared.spans_json(), "current_value": compared.current.value,
        "previous_value": compared.previous.value,
        "change": {"delta": change.delta, "relative": change.relative, "new": change.new}}}

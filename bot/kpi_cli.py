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


def run(args: argparse.Namespace, settings: Settings, *, out=sys.stdout,
        now: datetime | None = None) -> int:
    if args.name == "list":
        for spec in CATALOG.values():
            out.write(f"{spec.name:24} {spec.formula}\n")
        return 0
    spec = CATALOG.get(args.name)
    if spec is None:
        raise SettingsError(f"{args.name!r} is not a KPI (kpibot kpi list shows them)")
    now = now or datetime.now(UTC)
    database = Database.from_url(settings.database_url)
    try:
        with database.read() as session:
            workspace = pick_workspace(session, args.workspace)
            try:
                period = parse_period(args.period, now=now, tz=workspace.timezone,
                                      fiscal_year_start=workspace.fiscal_year_start)
            except PeriodError as problem:
                raise SettingsError(str(problem)) from None
            facts = SqlFacts(session=session, workspace=workspace)
            compared = compute_compared(spec.name, facts=facts, period=period, now=now,
                                        user=args.user)
            if args.json:
                out.write(json.dumps(_json(compared), indent=2, default=str) + "\n")
                return 0
        from bot.handlers.kpis import render_result  # only the text form needs the replies

        out.write(render_result(compared.result, spec, period, compared=compared,
                                user=args.user).plain_text() + "\n")
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

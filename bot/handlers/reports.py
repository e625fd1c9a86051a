"""`/kpi funnel|quota|churn|leaderboard|me` — the per-team and per-rep views.

`/kpi funnel [PERIOD] [@user] [cohort]`: stage counts, conversion, median days, stalled deals.
`/kpi quota [PERIOD]`: attainment per rep, team attainment, reps at quota, pace.
`/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC]` (admins).
`/kpi churn [PERIOD]`: customer churn and MRR churn.
`/kpi leaderboard [KPI] [PERIOD]`, `/kpi me [PERIOD]`.
"""

from __future__ import annotations

from bot.core import Invocation
from bot.grammar import (
    ChurnCommand,
    FunnelCommand,
    LeaderboardCommand,
    MeCommand,
    QuotaCommand,
    QuotaSetCommand,
)
from bot.handlers.kpis import PeriodProblem, render_result, resolve_period
from bot.replies import Reply, Section, error_reply
from reports.format import format_change, format_percent_value, format_value
from reports.kpis.catalog import CATALOG, LEADERBOARD_KPIS, compare, compute_kpi, leaderboard
from reports.kpis.result import KpiResult
from reports.units import format_money
from storage.facts import SqlFacts
from storage.quotas import set_quota
from storage.users import display_names


def _compute(invocation: Invocation, names: list[str], period_text: str | None, *,
             user: str | None = None, options=None, previous: bool = False):
    period = resolve_period(period_text, invocation)
    with invocation.context.database.read() as session:
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        results = [compute_kpi(n, facts=facts, period=period, now=invocation.now, user=user,
                               options=options) for n in names]
        earlier = [compute_kpi(n, facts=facts, period=period.previous(), now=invocation.now,
                               user=user, options=options) for n in names] if previous else []
    return period, results, earlier


def _names(invocation: Invocation) -> dict[str, str]:
    with invocation.context.database.read() as session:
        return display_names(session=session, workspace_id=invocation.workspace.id)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else format_percent_value(value)


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def handle_funnel(command: FunnelCommand, invocation: Invocation) -> Reply:
    try:
        period, (funnel,), _ = _compute(invocation, ["funnel"], command.period,
                                        user=command.user, options={"cohort": command.cohort})
    except PeriodProblem as problem:
        return problem.reply
    table = [("stage", "deals", "conversion", "median days")]
    for row in funnel.rows:
        conversion = "" if row.denominator is None else \
            f"{_pct(row.extra['conversion'])} ({row.numerator:.0f}/{row.denominator:.0f})"
        table.append((row.key, f"{row.value:.0f}", conversion, _days(row.extra["median_days"])))
    details = funnel.details
    who = f" · {command.user}" if command.user else ""
    kind = "cohort" if command.cohort else "period"
    sections = [Section(table=tuple(table))]
    stalled = details["stalled_deals"]
    names = _names(invocation)
    lines = tuple(f"{d['key']} — {d['stage']} for {d['days_in_stage']} days (owner "
                  f"{names.get(d['owner'], d['owner'])})" for d in stalled)
    sections.append(Section(title=f"Stalled deals: {details['stalled']}", lines=lines))
    sections.append(Section(context=f"{kind} view · won {details['won']}, lost "
                                    f"{details['lost']} · lead→won {format_value(funnel)} "
                                    f"· /kpi funnel {period.label} cohort for the "
                                    "cohort view"))
    return Reply(text=f"Funnel{who} · {period.describe()}", sections=tuple(sections))


def handle_quota(command: QuotaCommand, invocation: Invocation) -> Reply:
    try:
        period, (result,), _ = _compute(invocation, ["quota-attainment"], command.period,
                                        user=command.user)
    except PeriodProblem as problem:
        return problem.reply
    currency = invocation.workspace.currency
    if not result.rows:
        return Reply(text="No quotas set. An admin can set one: /kpi quota set @rep 50k "
                          "monthly", sections=())
    table = [("rep", "attained", "target", "%", "pace")]
    names = _names(invocation)
    for row in result.rows:
        metric = row.extra["metric"]
        table.append((names.get(row.key, row.key), _quota_amount(row.numerator, metric, currency),
                      _quota_amount(row.denominator, metric, currency),
                      _pct(row.value), _pct(row.extra["pace"])))
    d = result.details
    team = (f"{_pct(result.value)} ({format_money(int(result.numerator or 0), currency)} of "
            f"{format_money(int(round(result.denominator or 0)), currency)})")
    lines = (f"Team revenue: {team}, pace {_pct(d['pace'])} "
             f"({_pct(d['elapsed'])} of the period elapsed)",
             f"Reps at quota: {d['reps_at_quota']}/{d['reps_with_quota']}")
    context = " · ".join(f"⚠ {w}" for w in result.warnings) or \
        "team = total attained / total quota"
    return Reply(text=f"Quota attainment · {period.describe()}", sections=(
        Section(table=tuple(table)), Section(lines=lines), Section(context=context)))


def _quota_amount(value: float | None, metric: str, currency: str) -> str:
    if metric == "revenue":
        return format_money(int(round(value or 0)), currency)
    return f"{value or 0:,.0f} {metric}"


def handle_quota_set(command: QuotaSetCommand, invocation: Invocation) -> Reply:
    if not invocation.is_admin():
        return error_reply("Only admins can set quotas; nothing was changed.",
                           usage="/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC]",
                           example="/kpi quota set @alice 50k monthly")
    with invocation.context.database.write() as session:
        set_quota(session=session, workspace_id=invocation.workspace.id, user_id=command.user,
                  metric=command.metric, cadence=command.cadence, target=command.target,
                  set_by=invocation.request.user_id, now=invocation.now)
    target = (format_money(command.target, invocation.workspace.currency)
              if command.metric == "revenue" else f"{command.target:,} {command.metric}")
    return Reply(text=f"Quota set: {command.user} — {target} {command.cadence}"
                      + ("" if command.metric == "revenue" else f" ({command.metric})"))


def handle_churn(command: ChurnCommand, invocation: Invocation) -> Reply:
    try:
        period, (churn, mrr_churn), (before, _b) = _compute(
            invocation, ["churn-rate", "mrr-churn"], command.period, previous=True)
    except PeriodProblem as problem:
        return problem.reply
    currency = invocation.workspace.currency
    d = mrr_churn.details
    fields = (
        ("Customer churn", f"{format_value(churn)} "
                           f"{format_change(compare(churn, before), 'ratio')}".strip()),
        ("MRR churn", format_value(mrr_churn)),
        ("Churned MRR", format_money(d["churned_mrr"], currency)),
        ("Downgrades", format_money(d["downgrades"], currency)),
        ("New customers", str(churn.details["new_customers"])),
    )
    warnings = " · ".join(f"⚠ {w}" for w in churn.warnings + mrr_churn.warnings)
    return Reply(text=f"Churn · {period.describe()}", sections=(
        Section(fields=fields),
        Section(context=warnings or "customers won inside the period count in neither part"),
    ))


def handle_leaderboard(command: LeaderboardCommand, invocation: Invocation) -> Reply:
    name = command.kpi or "revenue"
    if name not in LEADERBOARD_KPIS:
        return error_reply(f'"{name}" has no per-rep leaderboard.',
                           usage="/kpi leaderboard [KPI] [PERIOD]",
                           example=f"/kpi leaderboard win-rate this-quarter "
                                   f"(or one of {', '.join(LEADERBOARD_KPIS)})")
    try:
        period = resolve_period(command.period, invocation)
    except PeriodProblem as problem:
        return problem.reply
    with invocation.context.database.read() as session:
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        result = leaderboard(name, facts=facts, period=period, now=invocation.now)
    table = [("#", "rep", CATALOG[name].title)]
    names = _names(invocation)
    for rank, row in enumerate(result.rows, 1):
        table.append((str(rank), names.get(row.key, row.key),
                      format_value(_row_result(result, row))))
    if len(table) == 1:
        return Reply(text=f"Leaderboard · {CATALOG[name].title} · {period.describe()}: "
                          "nothing logged yet")
    return Reply(text=f"Leaderboard · {CATALOG[name].title} · {period.describe()}",
                 sections=(Section(table=tuple(table), context=_warnings(result.warnings)),))


def _warnings(warnings) -> str | None:
    return " · ".join(f"⚠ {w}" for w in warnings) or None


def _row_result(result: KpiResult, row) -> KpiResult:
    return KpiResult(kpi=result.kpi, workspace=result.workspace,
                     period_label=result.period_label, start=result.start, end=result.end,
                     value=row.value, unit=result.unit, numerator=row.numerator,
                     denominator=row.denominator, details=result.details)


def handle_me(command: MeCommand, invocation: Invocation) -> Reply:
    user = invocation.request.user_id
    names = ["activities", "deals-won", "revenue", "win-rate", "quota-attainment"]
    try:
        period, results, earlier = _compute(invocation, names, command.period, user=user,
                                            previous=True)
    except PeriodProblem as problem:
        return problem.reply
    fields = []
    for result, before in zip(results, earlier, strict=True):
        change = format_change(compare(result, before), result.unit)
        fields.append((CATALOG[result.kpi].title, f"{format_value(result)} {change}".strip()))
    quota = results[-1]
    if quota.details.get("pace") is not None:
        fields.append(("Pace", _pct(quota.details["pace"])))
    warnings = [w for result in results for w in result.warnings]
    return Reply(text=f"You · {period.describe()}",
                 sections=(Section(fields=tuple(fields), context=_warnings(warnings)),))


__all__ = ["handle_churn", "handle_funnel", "handle_leaderboard", "handle_me", "handle_quota",
           "handle_quota_set", "render_result"]

"""`/kpi funnel|quota|churn|leaderboard|me` — the per-team and per-rep views.

`/kpi funnel [PERIOD] [@user] [cohort]`: stage counts, conversion, median days, stalled deals.
`/kpi quota [PERIOD]`: attainment per rep, team attainment, reps at quota, pace.
`/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]` (admins): the new target
applies from the first day of the month it is set in (or from DATE, today or earlier); earlier
periods keep the target they had. A period spanning a change takes each part pro rata by days.
`/kpi quota history [@user]`: every quota change with the day it applies from.
`/kpi churn [PERIOD]`: customer churn and MRR churn.
`/kpi leaderboard [KPI] [PERIOD]`, `/kpi me [PERIOD]`.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.core import Invocation
from bot.grammar import (
    ChurnCommand,
    CommandSpec,
    FunnelCommand,
    LeaderboardCommand,
    MeCommand,
    QuotaCommand,
    QuotaHistoryCommand,
    QuotaSetCommand,
)
from bot.grammar.quota import parse_quota, parse_quota_history, parse_quota_set
from bot.grammar.reports import parse_churn, parse_funnel, parse_leaderboard, parse_me
from bot.handlers.kpis import (
    PeriodProblem,
    funnel_table,
    render_result,
    resolve_period,
    warning_notes,
)
from bot.handlers.kpis import change_text as compared_text
from bot.replies import Reply, Section, error_reply, person
from reports.digest.build import LABELS
from reports.format import (
    format_amount,
    format_number,
    format_percent,
    format_percent_value,
    format_quota,
)
from reports.i18n import Translator
from reports.kpis.catalog import (
    CATALOG,
    LEADERBOARD_KPIS,
    ME_KPIS,
    Change,
    Compared,
    compare,
    compute_compared,
    compute_kpi,
    leaderboard,
)
from reports.kpis.context import Ctx
from reports.kpis.funnel import FUNNEL_STALLED_LISTED, idle_instants, thresholds_of
from reports.kpis.quotas import effective_from_for
from reports.kpis.quotas import history as quota_history
from reports.kpis.result import KpiResult
from reports.periods import Period, comparison
from reports.wording import change_text, describe_comparison, describe_period, value_text
from storage.facts import SqlFacts
from storage.quotas import set_quota
from storage.users import display_names, team_members


def _compute(invocation: Invocation, names: list[str], period_text: str | None, *,
             user: str | None = None, options=None):
    period = resolve_period(period_text, invocation)
    with invocation.context.database.read() as session:
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        results = [compute_kpi(n, facts=facts, period=period, now=invocation.now, user=user,
                               options=options) for n in names]
    return period, results


def _compared(invocation: Invocation, names: list[str], period_text: str | None, *,
              user: str | None = None) -> tuple[Period, list[Compared]]:
    """The KPIs over the period with their like-for-like comparison (both spans)."""
    period = resolve_period(period_text, invocation)
    with invocation.context.database.read() as session:
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        return period, [compute_compared(n, facts=facts, period=period, now=invocation.now,
                                         user=user) for n in names]


def _names(invocation: Invocation) -> dict[str, str]:
    with invocation.context.database.read() as session:
        return display_names(session=session, workspace_id=invocation.workspace.id)


def _pct(value: float | None, t: Translator | None = None) -> str:
    if t is not None and t.language != "en":
        return t.gettext("n/a") if value is None else format_percent(value, t.locale)
    return "n/a" if value is None else format_percent_value(value)


def handle_funnel(command: FunnelCommand, invocation: Invocation) -> Reply:
    try:
        period = resolve_period(command.period, invocation)
    except PeriodProblem as problem:
        return problem.reply
    if invocation.context.database.dialect == "postgresql":
        from storage.plans import ReadAgain

        # one pipeline with its COMMIT when its statements are likely all known; if they were
        # not (nothing was sent after the COMMIT), once more without; and once again if the
        # server had forgotten the statements prepared on the connection (storage/pg_batch.py)
        attempts = (True, False, False)
        for attempt, whole in enumerate(attempts, 1):
            try:
                funnel, names = _read_funnel(command, invocation, period, whole=whole)
                break
            except ReadAgain:
                if attempt == len(attempts):
                    raise
    else:
        funnel, names = _read_funnel(command, invocation, period, whole=False)
    t = invocation.t
    details = funnel.details
    described = describe_period(period, t)
    who = f" · {names.get(command.user, command.user)}" if command.user else ""
    sections = [Section(table=funnel_table(funnel, t))]
    stalled = details["stalled_deals"]
    lines = tuple(t.ngettext("{deal} — {stage} for {days} day (owner {owner})",
                             "{deal} — {stage} for {days} days (owner {owner})",
                             d["days_in_stage"], deal=d["key"], stage=_stage(d["stage"], t),
                             days=format_number(d["days_in_stage"], t.locale),
                             owner=names.get(d["owner"], d["owner"])) for d in stalled)
    sections.append(Section(title=t.gettext("Stalled deals: {count}",
                                            count=format_number(details["stalled"], t.locale)),
                            lines=lines))
    if command.cohort:
        view = t.gettext("cohort view: deals = the leads created in {period} that reached the "
                         "stage", period=described)
    else:
        cohort = f"/kpi funnel {period.label} cohort"
        view = t.gettext("deals = reaching the stage in {period} · {command} follows its leads",
                         period=described, command=cohort)
    sections.append(Section(context=t.gettext(
        "conversion = of the deals that reached the previous stage, how many reached this one"
        " · {view} · won {won}, lost {lost} · lead→won {rate}", view=view,
        won=format_number(details["won"], t.locale),
        lost=format_number(details["lost"], t.locale), rate=value_text(funnel, t))))
    title = t.gettext("Funnel")
    return Reply(text=f"{title}{who} · {described}", sections=tuple(sections))


def _read_funnel(command: FunnelCommand, invocation: Invocation, period: Period, *,
                 whole: bool) -> tuple[KpiResult, dict[str, str]]:
    """The funnel and the people's names, in one read. PostgreSQL: the statements that
    depend on nothing else in one round trip; `whole`: with the read's COMMIT, on a pooled
    connection without SQLAlchemy's Session (storage/pg_light.py), when they are likely all
    of its statements (storage/facts.py `read_ahead_funnel`); storage.plans.ReadAgain, and
    nothing sent after the COMMIT, when they are not."""
    database = invocation.context.database
    if whole:
        from storage.pg_light import light_read

        reading = light_read(database)
    else:
        reading = database.read()
    with reading as session:  # one read: the figures and names
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        facts.read_ahead_funnel(period.start, period.end, user=command.user,
                                cohort=command.cohort, names=True,
                                stalled=_stalled_guess(facts, period, invocation, command),
                                whole=whole, strict=whole)
        funnel = compute_kpi("funnel", facts=facts,
                             period=period, now=invocation.now, user=command.user,
                             options={"cohort": command.cohort})
        names = display_names(session=session, workspace_id=invocation.workspace.id)
    return funnel, names


def _stalled_guess(facts: SqlFacts, period: Period, invocation: Invocation,
                   command: FunnelCommand) -> tuple[dict, int] | None:
    """What the funnel's stalled deals will most likely be read with: the stalled thresholds
    from the trailing medians this process remembers for the last history version it read
    (PostgreSQL reads them ahead with the rest; if the version moved, the funnel asks again
    with what it finds, storage/pg_batch.py). SQLite reads nothing ahead: None."""
    if invocation.context.database.dialect != "postgresql":
        return None
    ctx = Ctx(facts=facts, period=period, now=invocation.now, user=command.user)
    medians = facts.known_median_stage_times(*ctx.trailing_days())
    if medians is None:
        return None
    return idle_instants(ctx.now, thresholds_of(medians)), FUNNEL_STALLED_LISTED


def _stage(key: str, t: Translator) -> str:
    """A funnel stage's name in the user's language (English keeps the stage word)."""
    return t.gettext(LABELS[key]) if key in LABELS and t.language != "en" else key


def handle_quota(command: QuotaCommand, invocation: Invocation) -> Reply:
    try:
        period, (result,) = _compute(invocation, ["quota-attainment"], command.period,
                                     user=command.user)
    except PeriodProblem as problem:
        return problem.reply
    t = invocation.t
    currency = invocation.workspace.currency
    if not result.rows:
        with invocation.context.database.read() as session:
            any_set = bool(SqlFacts(session=session, workspace=invocation.workspace).quotas())
        if any_set:
            return Reply(text=t.gettext(
                "No quota was in force in {period}; {command} shows the day each one applies "
                "from.", period=describe_period(period, t), command="/kpi quota history"),
                sections=())
        return Reply(text=t.gettext("No quotas set. An admin can set one: {command}",
                                    command="/kpi quota set @rep 50k monthly"), sections=())
    table = [(t.gettext("rep"), t.gettext("attained"), t.gettext("target"), "%",
              t.gettext("pace"))]
    names = _names(invocation)
    for row in result.rows:
        metric = row.extra["metric"]
        table.append((names.get(row.key, row.key),
                      _quota_amount(row.numerator, metric, currency, t.locale),
                      _quota_amount(row.denominator, metric, currency, t.locale),
                      _pct(row.value, t), _pct(row.extra["pace"], t)))
    d = result.details
    metric = d.get("metric", "revenue")
    team = (t.gettext("{share} ({attained} of {target})", share=_pct(result.value, t),
                      attained=format_amount(int(result.numerator or 0), currency, t.locale),
                      target=format_amount(int(round(result.denominator or 0)), currency,
                                           t.locale))
            if metric == "revenue" else value_text(result, t))
    lines = (t.gettext("Team {metric}: {team}, pace {pace} ({elapsed} of the period elapsed)",
                       metric=t.gettext("revenue") if metric == "revenue" else metric,
                       team=team, pace=_pct(d["pace"], t), elapsed=_pct(d["elapsed"], t)),
             t.gettext("Reps at quota: {count}/{total}",
                       count=format_number(d["reps_at_quota"], t.locale),
                       total=format_number(d["reps_with_quota"], t.locale)))
    changed = [t.gettext("{name} ({metric}) from {days}", name=names.get(row.key, row.key),
                         metric=row.extra["metric"],
                         days=", ".join(_day(day, t) for day in row.extra["changed_on"]))
               for row in result.rows if row.extra.get("changed_on")]
    if changed:
        lines += (t.gettext("Target changed during the period (each part counts pro rata by "
                            "days): {changes}", changes="; ".join(changed)),)
    context = " · ".join(warning_notes(result.warnings, t)) or t.gettext(
        "team = total attained / total quota · {command} for the changes",
        command="/kpi quota history")
    title = t.gettext("Quota attainment")
    return Reply(text=f"{title} · {describe_period(period, t)}", sections=(
        Section(table=tuple(table)), Section(lines=lines), Section(context=context)))


def _day(day: date | None, t: Translator | None = None) -> str:
    if t is not None and t.language != "en":
        return t.gettext("the start") if day is None else format_date(day, "medium",
                                                                      locale=t.locale)
    return "the start" if day is None else format_date(day, "d MMM yyyy", locale="en")


def _target(target: int, metric: str, cadence: str, currency: str, t: Translator) -> str:
    """`$50,000.00 monthly`, `20 demo-booked quarterly`: the metric said once."""
    amount = (format_amount(target, currency, t.locale) if metric == "revenue"
              else f"{format_number(target, t.locale)} {metric}")
    if cadence == "quarterly":
        return t.gettext("{amount} quarterly", amount=amount)
    return t.gettext("{amount} monthly", amount=amount)


def _quota_amount(value: float | None, metric: str, currency: str, locale: str = "en") -> str:
    if metric == "revenue":
        return format_amount(int(round(value or 0)), currency, locale)
    if locale == "en":
        return f"{value or 0:,.0f} {metric}"
    return f"{format_number(round(value or 0), locale)} {metric}"


def handle_quota_set(command: QuotaSetCommand, invocation: Invocation) -> Reply:
    t = invocation.t
    if not invocation.is_admin():
        return error_reply(t.gettext("Only admins can set quotas; nothing was changed."),
                           usage=QUOTA_SET.usage, example=QUOTA_SET.example, t=t)
    start = command.effective_from or effective_from_for(invocation.today)
    with invocation.context.database.write() as session:
        set_quota(session=session, workspace_id=invocation.workspace.id, user_id=command.user,
                  metric=command.metric, cadence=command.cadence, target=command.target,
                  set_by=invocation.request.user_id, now=invocation.now, effective_from=start)
    target = _target(command.target, command.metric, command.cadence,
                     invocation.workspace.currency, t)
    return Reply(text=t.gettext(
        "Quota set: {name} — {target}, from {day}. Periods before {day} keep the target they "
        "had · {command}", name=person(command.user, _names(invocation)), target=target,
        day=_day(start, t), command="/kpi quota history"), mentions=(command.user,))


HISTORY_ROWS = 40


def handle_quota_history(command: QuotaHistoryCommand, invocation: Invocation) -> Reply:
    t = invocation.t
    with invocation.context.database.read() as session:
        changes = [q for q in SqlFacts(session=session, workspace=invocation.workspace).quotas()
                   if command.user is None or q.user_id == command.user]
    names = _names(invocation)
    title = t.gettext("Quota history")
    if command.user:
        title += f" · {person(command.user, names)}"
    entries = quota_history(changes)  # by rep id: list them by name (the sort is stable)
    entries.sort(key=lambda e: person(e.quota.user_id, names).casefold())
    if not entries:
        return Reply(text=t.gettext("{title}: no quotas set. An admin can set one: {command}",
                                    title=title, command="/kpi quota set @rep 50k monthly"),
                     sections=())
    currency = invocation.workspace.currency
    table = [(t.gettext("rep"), t.gettext("target"), t.gettext("applies from"),
              t.gettext("set"))]
    for entry in entries[:HISTORY_ROWS]:
        q = entry.quota
        set_on = "" if q.set_at is None else _day(
            q.set_at.astimezone(ZoneInfo(invocation.workspace.timezone)).date(), t)
        if q.set_by:
            set_on = t.gettext("{day} by {name}", day=set_on, name=person(q.set_by, names))
        target = _target(q.target, q.metric, q.cadence, currency, t)
        if entry.replaced:
            target = t.gettext("{target} (replaced)", target=target)
        table.append((person(q.user_id, names), target, _day(q.effective_from, t), set_on))
    left = len(entries) - HISTORY_ROWS
    context = t.gettext("A change applies from its day until the next one; (replaced): a later "
                        "change starts on or before it, so it applies on no day.")
    if left > 0:
        context = t.ngettext("{count} more change not shown: {command} for one rep.",
                             "{count} more changes not shown: {command} for one rep.", left,
                             count=format_number(left, t.locale),
                             command="/kpi quota history @rep") + " " + context
    return Reply(text=title, sections=(Section(table=tuple(table)), Section(context=context)),
                 mentions=(command.user,) if command.user else ())


def handle_churn(command: ChurnCommand, invocation: Invocation) -> Reply:
    try:
        period, (compared, mrr_compared) = _compared(
            invocation, ["churn-rate", "mrr-churn"], command.period)
    except PeriodProblem as problem:
        return problem.reply
    t = invocation.t
    churn, mrr_churn = compared.result, mrr_compared.result
    currency = invocation.workspace.currency
    d = mrr_churn.details
    fields = (
        (t.gettext("Customer churn"), f"{value_text(churn, t)} {compared_text(compared, t)}"),
        (t.gettext("MRR churn"), value_text(mrr_churn, t)),
        (t.gettext("Churned MRR"), format_amount(d["churned_mrr"], currency, t.locale)),
        (t.gettext("Downgrades"), format_amount(d["downgrades"], currency, t.locale)),
        (t.gettext("New customers"), format_number(churn.details["new_customers"], t.locale)),
    )
    warnings = " · ".join(warning_notes(churn.warnings + mrr_churn.warnings, t))
    title = t.gettext("Churn")
    return Reply(text=f"{title} · {describe_period(period, t)}", sections=(
        Section(fields=fields),
        Section(context=warnings or t.gettext(
            "customers won inside the period count in neither part")),
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
    spans = comparison(period, invocation.now)
    with invocation.context.database.read() as session:
        facts = SqlFacts(session=session, workspace=invocation.workspace)
        team = team_members(session=session, workspace_id=invocation.workspace.id)
        board = leaderboard(name, facts=facts, period=period, now=invocation.now, team=team)
        current = leaderboard(name, facts=facts, period=spans.current, now=invocation.now) \
            if spans.partial else board
        before = leaderboard(name, facts=facts, period=spans.previous, now=invocation.now)
    t = invocation.t
    title = t.gettext(CATALOG[name].title)
    heading = t.gettext("Leaderboard · {kpi} · {period}", kpi=title,
                        period=describe_period(period, t))
    if not board.rows:
        return Reply(text=t.gettext("{heading}: nothing logged yet", heading=heading))
    names = _names(invocation)
    now_rows = {_row_key(row): row for row in current.rows}
    before_rows = {_row_key(row): row for row in before.rows}
    table = [("#", t.gettext("rep"), title, t.gettext("change"))]
    for rank, row in enumerate(board.rows, 1):
        rep = names.get(row.key, row.key)
        if row.extra.get("metric", "revenue") != "revenue":
            rep = f"{rep} ({row.extra['metric']})"
        if board.kpi == "quota-attainment":
            change, unit = _quota_change(current, now_rows, before, before_rows, _row_key(row),
                                         partial=spans.partial)
        else:
            change, unit = _row_change(current, now_rows, before, before_rows,
                                       _row_key(row)), board.unit
        table.append((str(rank), rep, _row_value(board, row, t), change_text(change, unit, t)))
    return Reply(text=heading, sections=(
        Section(table=tuple(table)),
        Section(context=_context(t.gettext("change: {spans}",
                                           spans=describe_comparison(spans, t)),
                                 current.warnings, t))))


def _context(line: str, warnings, t: Translator) -> str:
    """A view's footnote: its data warnings first (wins without an amount, ...), then `line`."""
    return " · ".join([*warning_notes(warnings, t), line])


def _row_key(row) -> tuple[str, str]:
    return str(row.key), str(row.extra.get("metric", ""))


def _row_change(current: KpiResult, now_rows: dict, before: KpiResult, before_rows: dict,
                key: tuple[str, str]) -> Change:
    """One rep's change between two results' rows (a rep without a row then: n/a)."""
    if key not in now_rows:
        return Change(None, None)
    earlier = _row_result(before, before_rows[key]) if key in before_rows else None
    return compare(_row_result(current, now_rows[key]), earlier)


def _quota_change(current: KpiResult, now_rows: dict, before: KpiResult, before_rows: dict,
                  key: tuple[str, str], *, partial: bool) -> tuple[Change, str]:
    """(change, unit) of one quota row. A running period's attainment is shown against the
    whole period's target, while its like-for-like span (Dec 1-5 against Nov 1-5) has targets
    cut to those days: their points would not add up to the figure shown. So a running period
    compares what was attained in each span (money or count), a whole period its attainment."""
    if not partial:
        return _row_change(current, now_rows, before, before_rows, key), "ratio"
    unit = "money" if key[1] in ("", "revenue") else "count"
    if key not in now_rows:
        return Change(None, None), unit
    def attained(result, row):
        return dataclasses.replace(_row_result(result, row), value=row.numerator)
    earlier = attained(before, before_rows[key]) if key in before_rows else None
    return compare(attained(current, now_rows[key]), earlier), unit


def _row_value(result: KpiResult, row, t: Translator) -> str:
    """A leaderboard cell: a quota row in its metric (money or a count), else the KPI's
    format."""
    if "metric" in row.extra and result.kpi == "quota-attainment":
        return format_quota(row.value, row.numerator, row.denominator, row.extra["metric"],
                            result.details.get("currency", "USD"), t.locale)
    return value_text(_row_result(result, row), t)


def _row_result(result: KpiResult, row) -> KpiResult:
    return KpiResult(kpi=result.kpi, workspace=result.workspace,
                     period_label=result.period_label, start=result.start, end=result.end,
                     value=row.value, unit=result.unit, numerator=row.numerator,
                     denominator=row.denominator, details=result.details)


def handle_me(command: MeCommand, invocation: Invocation) -> Reply:
    """Your figures over the period, each with its change (both spans named); one line per
    quota you have, revenue in money and activity quotas in counts."""
    user = invocation.request.user_id
    try:  # ME_KPIS ends with quota-attainment: its rows are the quota fields
        period, results = _compared(invocation, list(ME_KPIS), command.period, user=user)
    except PeriodProblem as problem:
        return problem.reply
    t = invocation.t
    fields = []
    for compared in results[:-1]:
        result = compared.result
        fields.append((t.gettext(CATALOG[result.kpi].title),
                       f"{value_text(result, t)} {change_text(compared.change, result.unit, t)}"))
    fields += _quota_fields(results[-1], invocation.workspace.currency, t)
    warnings = [w for compared in results for w in compared.result.warnings]
    return Reply(text=t.gettext("You · {period}", period=describe_period(period, t)), sections=(
        Section(fields=tuple(fields)),
        Section(context=_context(t.gettext("changes: {spans}",
                                           spans=describe_comparison(results[0].spans, t)),
                                 warnings, t))))


def _quota_fields(compared: Compared, currency: str,
                  t: Translator) -> list[tuple[str, str]]:
    """One field per quota of the rep (and its pace), changes against the same span before."""
    rows = compared.result.rows
    if not rows:
        return [(t.gettext("Quota attainment"), t.gettext("no quota set"))]
    now_rows = {_row_key(row): row for row in compared.current.rows}
    before_rows = {_row_key(row): row for row in compared.previous.rows}
    fields = []
    for row in rows:
        metric = row.extra["metric"]
        title = t.gettext("Quota attainment") + ("" if metric == "revenue" and len(rows) == 1
                                                 else f" ({metric})")
        change, unit = _quota_change(compared.current, now_rows, compared.previous,
                                     before_rows, _row_key(row), partial=compared.spans.partial)
        figure = format_quota(row.value, row.numerator, row.denominator, metric, currency,
                              t.locale)
        fields.append((title, f"{figure} {change_text(change, unit, t)}"))
        if row.extra.get("pace") is not None:
            fields.append((t.gettext("Pace") + ("" if len(rows) == 1 else f" ({metric})"),
                           _pct(row.extra["pace"], t)))
    return fields


__all__ = ["handle_churn", "handle_funnel", "handle_leaderboard", "handle_me", "handle_quota",
           "handle_quota_history", "handle_quota_set", "render_result"]


ME = CommandSpec(
    word="me", command=MeCommand, parse=parse_me, handle=handle_me,
    guesses_workspace=True,
    usage="/kpi me [PERIOD]", example="/kpi me this-week",
    summary="your activities, deals won, revenue, win rate, each of your quotas (revenue in "
            "money, activity quotas in counts: `100% (3/3 demo-booked)`) and pace, with changes")
LEADERBOARD = CommandSpec(
    word="leaderboard", command=LeaderboardCommand, parse=parse_leaderboard,
    guesses_workspace=True,
    handle=handle_leaderboard,
    usage="/kpi leaderboard [KPI] [PERIOD]", example="/kpi leaderboard revenue this-month",
    summary="one row per rep, best first (default: revenue), with each rep's change; quota rows "
            "in their metric",
    help="One row per rep for a KPI (default: revenue), best first, with each rep's change "
         "against the same span before.")
FUNNEL = CommandSpec(
    word="funnel", command=FunnelCommand, parse=parse_funnel, handle=handle_funnel,
    guesses_workspace=True,
    usage="/kpi funnel [PERIOD] [@user] [cohort]", example="/kpi funnel last-month cohort",
    summary="deals reaching each stage, stage-to-stage conversion (of the deals that reached the "
            "stage before in the period, how many have reached this one: never above 100%), "
            "median days in stage, stalled deals; `cohort`: the deal counts follow the period's "
            "leads",
    help="Stage counts, conversion, median days in stage and stalled deals, for the team or "
         "one @user; `cohort` follows the period's leads.")
QUOTA = CommandSpec(
    word="quota", command=QuotaCommand, parse=parse_quota, handle=handle_quota,
    guesses_workspace=True,
    usage="/kpi quota [PERIOD] [@user]", example="/kpi quota this-quarter",
    summary="attainment per rep, team attainment (total / total), reps at quota (warning under "
            "60%), pace",
    help="""Attainment per rep, team attainment, reps at quota, pace.
    `/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]` (admins) sets a
    target; `/kpi quota history [@user]` shows every change with the day it applies from.""")
QUOTA_SET = CommandSpec(
    word="quota set", command=QuotaSetCommand, parse=parse_quota_set, handle=handle_quota_set,
    usage="/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]",
    example="/kpi quota set @alice 50k quarterly",
    summary="admins: a revenue quota, or an activity quota such as `20 monthly demo-booked`; it "
            "applies from the first day of the month it is set in, or from `DATE` (today or "
            "earlier: `from 2026-11-16`, `from yesterday`); earlier periods keep the targets "
            "they had",
    help="""(admins) The new target applies from the first day of the month it is set in (or
    from DATE, today or earlier); earlier periods keep the target they had. A period spanning a
    change takes each part pro rata by days. A METRIC other than revenue is an event kind
    (demo-booked); its AMOUNT is a plain count.""")
QUOTA_HISTORY = CommandSpec(
    word="quota history", command=QuotaHistoryCommand, parse=parse_quota_history,
    handle=handle_quota_history,
    usage="/kpi quota history [@user]", example="/kpi quota history @alice",
    summary="every quota change: rep, target and cadence, the day it applies from, when and by "
            "whom it was set",
    help="Every quota change (of everyone, or of one @user) with the day it applies from.")
CHURN = CommandSpec(
    word="churn", command=ChurnCommand, parse=parse_churn, handle=handle_churn,
    guesses_workspace=True,
    usage="/kpi churn [PERIOD]", example="/kpi churn last-quarter",
    summary="customer churn rate, MRR churn, downgrades, new customers",
    help="Customer churn and MRR churn over the period, with downgrades and new customers.")

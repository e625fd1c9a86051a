"""`/kpi NAME [PERIOD] [@user]` and `/kpi show NAME ...` — any KPI in the catalog.

Every rate comes with the counts behind it and the change against the previous period, like
for like (a running period's elapsed days against the same days before), both spans named.
`/kpi list` shows the catalog; `/kpi help NAME` a KPI's formula.
"""

from __future__ import annotations

from bot.core import Invocation
from bot.grammar import CommandSpec, KpiCommand
from bot.grammar.reports import parse_show
from bot.replies import Reply, Section, error_reply
from bot.usecases.kpi import KpiAnswer, UnknownKpi, answer_kpi
from reports.digest.build import LABELS
from reports.format import (
    format_details,
    format_number,
    format_percent,
    format_percent_value,
    format_quota_counts,
    row_unit,
)
from reports.i18n import N_, Translator, translator
from reports.kpis.catalog import CATALOG, Compared, KpiSpec
from reports.kpis.result import KpiResult, KpiRow
from reports.periods import DEFAULT_PERIOD, Period, PeriodError, parse_period
from reports.text import render
from reports.wording import change_text as change_words
from reports.wording import describe_comparison, describe_period, value_text


class PeriodProblem(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def resolve_period(text: str | None, invocation: Invocation,
                   default: str = DEFAULT_PERIOD) -> Period:
    """The period in the workspace time zone and fiscal year; PeriodProblem on bad text."""
    workspace = invocation.workspace
    try:
        return parse_period(text or default, now=invocation.now, tz=workspace.timezone,
                            fiscal_year_start=workspace.fiscal_year_start)
    except PeriodError as problem:
        raise PeriodProblem(_period_error(problem, invocation.t)) from None


def _period_error(problem: PeriodError, t: Translator) -> Reply:
    return error_reply(render(problem.text, t), usage="/kpi NAME [PERIOD] [@user]",
                       example="/kpi win-rate this-quarter", t=t)


MAX_TABLE_ROWS = 40  # rows of a KPI's breakdown in chat; the rest are counted
MAX_FIELDS = 10  # Slack's section fields


def render_result(result: KpiResult, spec: KpiSpec, period: Period, *,
                  compared: Compared | None = None, user: str | None = None,
                  names: dict[str, str] | None = None, t: Translator | None = None) -> Reply:
    """A KPI answer a manager reads in five seconds: value, counts, change (naming both
    spans compared), breakdown; in the language of `t` (English by default)."""
    t = t or translator("en")
    names = names or {}
    who = f" · {names.get(user, user)}" if user else ""
    headline = (f"{t.gettext(spec.title)}{who} · {describe_period(period, t)}: "
                f"{value_text(result, t)}")
    if compared is not None:
        headline += f"  {change_text(compared, t)}"
    sections: list[Section] = []
    if result.kpi == "funnel":
        sections.append(Section(table=funnel_table(result, t)))
    elif result.rows:
        sections.append(Section(table=result_table(result, names, t)))
    fields = tuple((t.gettext(label), text) for label, text in format_details(
        result.details, result.details.get("currency", "USD"), t.locale, t))
    if fields:
        sections.append(Section(fields=fields[:MAX_FIELDS]))
    notes = warning_notes(result.warnings, t)
    rows_left = len(result.rows) - MAX_TABLE_ROWS if result.kpi != "funnel" else 0
    fields_left = len(fields) - MAX_FIELDS
    left_out = []
    if rows_left > 0:
        left_out.append(t.ngettext("{count} more row", "{count} more rows", rows_left,
                                   count=format_number(rows_left, t.locale)))
    if fields_left > 0:
        left_out.append(t.ngettext("{count} more figure", "{count} more figures", fields_left,
                                   count=format_number(fields_left, t.locale)))
    if left_out:
        command = f"`kpibot kpi {spec.name} --period {period.label} --json`"
        notes.append(t.gettext("{left_out} not shown: {command} lists them all",
                               left_out=t.gettext(" and ").join(left_out), command=command))
    notes.append(f"{spec.name}: {formula_text(spec, t)}")
    sections.append(Section(context=" · ".join(notes)))
    return Reply(text=headline, sections=tuple(sections))


def formula_text(spec: KpiSpec, t: Translator) -> str:
    """The KPI's formula in the reader's language (event kinds, KPI names and symbols kept)."""
    return t.gettext(spec.formula)


def warning_notes(warnings, t: Translator) -> list[str]:
    """Data warnings in the reader's language, each once, as footnotes (`⚠ ...`)."""
    return [f"⚠ {text}" for text in dict.fromkeys(render(w, t) for w in warnings)]


def change_text(compared: Compared, t: Translator | None = None) -> str:
    """`▼ 5% (Dec 1 – Dec 5, 2026 vs Nov 1 – Nov 5, 2026)`: the change and both spans."""
    t = t or translator("en")
    change = change_words(compared.change, compared.result.unit, t)
    return f"{change} ({describe_comparison(compared.spans, t)})"


def funnel_table(result: KpiResult, t: Translator | None = None
                 ) -> tuple[tuple[str, ...], ...]:
    """The funnel's rows: deals reaching each stage, the conversion from the stage before with
    its cohort counts (`75% (3/4)`), the median days in the stage."""
    t = t or translator("en")
    rows: list[tuple[str, ...]] = [(t.gettext("stage"), t.gettext("deals"),
                                    t.gettext("conversion"), t.gettext("median days"))]
    for row in result.rows:
        share = _percent(row.extra["conversion"], t) if row.denominator else t.gettext("n/a")
        conversion = "" if row.denominator is None else (
            f"{share} ({_number(row.numerator or 0, t)}/{_number(row.denominator, t)})")
        days = row.extra.get("median_days")
        stage = t.gettext(LABELS[row.key]) if row.key in LABELS and t.language != "en" \
            else row.key
        rows.append((stage, _number(row.value or 0, t), conversion, "—" if days is None
                     else f"{days:.1f}" if t.language == "en"
                     else format_number(days, t.locale, digits=1)))
    return tuple(rows)


def result_table(result: KpiResult, names: dict[str, str] | None = None,
                 t: Translator | None = None) -> tuple[tuple[str, ...], ...]:
    t = t or translator("en")
    names = names or {}
    rows: list[tuple[str, ...]] = [("", t.gettext("value"), t.gettext("counts"))]
    for row in result.rows[:MAX_TABLE_ROWS]:
        single = KpiResult(kpi=result.kpi, workspace=result.workspace,
                           period_label=result.period_label, start=result.start, end=result.end,
                           value=row.value, unit=row_unit(result.kpi, result.unit),
                           numerator=row.numerator,
                           denominator=row.denominator)
        counts = ""
        if "metric" in row.extra:  # a quota row: counts in its metric
            counts = format_quota_counts(row.numerator, row.denominator, row.extra["metric"],
                                         result.details.get("currency", "USD"), t.locale)
        elif row.denominator is not None and row.numerator is not None:
            counts = f"{_number(row.numerator, t)}/{_number(row.denominator, t)}"
        rows.append((_row_label(row, names, t),
                     value_text(single, t, with_counts=False), counts))
    return tuple(rows)


ROW_KINDS = (N_("reason"), N_("competitor"))  # the kinds of loss-reasons' rows


def _row_label(row: KpiRow, names: dict[str, str], t: Translator) -> str:
    """A row's name: a translated kind before a loss reason or competitor (`årsak: price`),
    the person's name for a rep key, else the key as typed (a source, a stage)."""
    if row.kind in ROW_KINDS:
        return f"{t.gettext(row.kind)}: {row.subject}"
    key = str(row.key)
    return names.get(key, key)


def _number(value: float, t: Translator) -> str:
    if t.language != "en":
        return format_number(value, t.locale)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _percent(value: float, t: Translator) -> str:
    return format_percent_value(value) if t.language == "en" else format_percent(value, t.locale)


def render_answer(answer: KpiAnswer, t: Translator | None = None) -> Reply:
    """The reply to a KPI question (chat and `kpibot kpi NAME` as text)."""
    return render_result(answer.compared.result, answer.spec, answer.period,
                         compared=answer.compared, user=answer.user, names=answer.names, t=t)


def handle_kpi(command: KpiCommand, invocation: Invocation) -> Reply:
    try:
        with invocation.context.database.read() as session:
            answer = answer_kpi(session, invocation.workspace, command.name,
                                command.period or DEFAULT_PERIOD, now=invocation.now,
                                user=command.user)
    except UnknownKpi:
        return error_reply(invocation.t.gettext('"{name}" is not a KPI.', name=command.name),
                           usage="/kpi list", example="/kpi win-rate this-quarter",
                           t=invocation.t)
    except PeriodError as problem:
        return _period_error(problem, invocation.t)
    return render_answer(answer, invocation.t)


# The KPI catalog's groups and units, as `/kpi list` and `/kpi help KPI` name them
KPI_GROUPS = {"email": N_("Email"), "social": N_("Social"), "web": N_("Web"),
              "activity": N_("Activity"), "inbound": N_("Inbound"),
              "pipeline": N_("Pipeline"), "revenue": N_("Revenue"), "quota": N_("Quota"),
              "customers": N_("Customers"), "cost": N_("Cost")}
KPI_UNITS = {"ratio": N_("rate (%)"), "money": N_("money"), "count": N_("count"),
             "days": N_("days"), "seconds": N_("duration"),
             "money_per_day": N_("money per day"), "multiple": N_("multiple (×)")}


def kpi_help(name: str, t: Translator | None = None) -> Reply | None:
    """`/kpi help NAME` for a KPI, or the whole catalog for an empty name (`/kpi list`), in the
    language of `t`; KPI names and event kinds stay as typed (in formulas too)."""
    t = t or translator("en")
    if not name:
        groups: dict[str, list[KpiSpec]] = {}
        for spec in CATALOG.values():
            groups.setdefault(spec.group, []).append(spec)
        sections = tuple(
            Section(title=t.gettext(KPI_GROUPS[group]) if group in KPI_GROUPS
                    else group.capitalize(),
                    table=((t.gettext("KPI"), t.gettext("formula")),)
                    + tuple((s.name, formula_text(s, t)) for s in specs))
            for group, specs in groups.items()
        )
        return Reply(text=t.ngettext("{count} KPI — ask with {command}",
                                     "{count} KPIs — ask with {command}", len(CATALOG),
                                     count=len(CATALOG), command="/kpi NAME [PERIOD] [@user]"),
                     sections=sections)
    spec = CATALOG.get(name)
    if spec is None:
        return None
    unit = KPI_UNITS.get(spec.unit)
    return Reply(text=f"{spec.name} — {t.gettext(spec.title)}", sections=(Section(fields=(
        (t.gettext("Formula"), formula_text(spec, t)),
        (t.gettext("Unit"), t.gettext(unit) if unit else spec.unit),
        (t.gettext("Needs"), ", ".join(spec.needs) or "—"),
        (t.gettext("Example"), f"/kpi {spec.name} this-quarter"),
    )),))


SHOW = CommandSpec(
    word="show", command=KpiCommand, parse=parse_show, handle=handle_kpi, help=__doc__,
    guesses_workspace=True,  # (and `/kpi KPI`: bot/core.py)
    usage="/kpi [show] KPI [PERIOD] [@user]", example="/kpi show win-rate this-quarter",
    summary="any KPI of the catalog (`/kpi win-rate` or `/kpi show win-rate`), with the counts "
            "behind it and the change against the previous period, both spans named (a running "
            "period by its elapsed days: on Dec 5, Dec 1-5 against Nov 1-5)")

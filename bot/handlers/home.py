"""The Home view: one person's week, and the team's for admins (Slack's App Home tab).

Composed once per open, in one read session, from the facts the KPIs use: the person's
activities this week against the same span of last week (the `activities` kinds, summed as the
KPI does, in two reads), their quotas this month with pace (`quota-attainment`), their logs
this week, open deals by stage and stalled deals (`stalled-deals`); admins also get
`/kpi funnel this-week`, `/kpi quota` and the workspace's digest schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import BotContext, CommandRequest, Invocation
from bot.digests.status import rule_of
from bot.grammar import FunnelCommand, QuotaCommand
from bot.handlers.describe import describe_event
from bot.handlers.digests import describe_rule
from bot.handlers.reports import handle_funnel, handle_quota
from bot.replies import Reply, Section
from reports.digest.build import LABELS
from reports.events import STAGE_ORDER
from reports.format import format_number, format_percent, format_quota
from reports.i18n import N_, Translator, translator
from reports.kpis.catalog import ACTIVITY_KINDS, Change, compute_kpi
from reports.kpis.facts import Facts
from reports.periods import Period, comparison, parse_period
from reports.wording import change_text, describe_comparison, describe_period
from storage.digests import list_schedules
from storage.facts import SqlFacts
from storage.lookups import recent_logs
from storage.models import Workspace

RECENT_LOGS = 8
STALLED_SHOWN = 5
# The activity counts of the week (the `activities` KPI's parts)
ACTIVITY_LABELS = {"activities": N_("Activities"), "calls": N_("Calls"), "emails": N_("Emails"),
                   "meetings": N_("Meetings"), "demos": N_("Demos")}


@dataclass(frozen=True)
class StalledDeal:
    name: str
    stage: str
    days: float


@dataclass(frozen=True)
class DigestRow:
    channel_id: str
    label: str  # "#sales · weekly Mon 09:00 Europe/Oslo"


@dataclass(frozen=True)
class Home:
    week: Reply  # activities against last week's same span, quotas and pace
    logs: tuple[tuple[int, str], ...]  # (event id, description), newest first
    open_by_stage: tuple[tuple[str, int], ...]  # stages with open deals, in funnel order
    stalled: tuple[StalledDeal, ...]
    t: Translator = translator("en")  # the person's language: every text of the view
    admin: bool = False
    team: tuple[Reply, ...] = ()  # admins: the funnel and the quota of the team
    digests: tuple[DigestRow, ...] = ()


def compose_home(context: BotContext, request: CommandRequest) -> Home:
    """The Home view of `request.user_id` in `request.workspace_id` at the context's now, in
    the person's language (`request.user_language`)."""
    now = context.now()
    t = translator(request.user_language or "en")
    with context.database.read() as session:
        workspace = session.get(Workspace, request.workspace_id)
    if workspace is None:  # nobody has used kpibot here yet: an empty week, nothing stored
        return Home(week=Reply(text=t.gettext("Your week"), sections=(Section(lines=(
            t.gettext("Nothing is logged in this workspace yet: {button} (or {command}) adds "
                      "the first event.", button=t.gettext("Log activity"),
                      command="/kpi log"),)),)), logs=(), open_by_stage=(), stalled=(), t=t)
    invocation = Invocation(request=request, workspace=workspace, now=now, context=context)
    user = request.user_id
    week, month = (parse_period(text, now=now, tz=workspace.timezone,
                                fiscal_year_start=workspace.fiscal_year_start)
                   for text in ("this-week", "this-month"))
    with context.database.read() as session:
        facts = SqlFacts(session=session, workspace=workspace)
        week_reply = _week(facts, week, month, now, user, workspace.currency, t)
        stalled = compute_kpi("stalled-deals", facts=facts, period=week, now=now, user=user)
        open_counts = facts.open_deal_counts(user=user)
        logs = recent_logs(session=session, workspace_id=workspace.id, logged_by=user,
                           since=week.start, limit=RECENT_LOGS)
        schedules = [s for s in list_schedules(session=session, workspace_id=workspace.id,
                                               enabled_only=True)
                     if s.platform == request.platform]
    admin = invocation.is_admin()
    home = Home(
        week=week_reply,
        logs=tuple((event.id, describe_event(event, workspace, t=t)) for event in logs),
        open_by_stage=tuple((_stage(stage.value, t), open_counts[stage.value][0])
                            for stage in STAGE_ORDER
                            if stage.value in open_counts and stage.value != "won"),
        stalled=tuple(StalledDeal(row.key, _stage(row.extra["stage"], t),
                                  row.extra["days_in_stage"])
                      for row in stalled.rows[:STALLED_SHOWN]),
        t=t, admin=admin,
    )
    if not admin:
        return home
    return Home(**{**home.__dict__,
                   "team": (handle_funnel(FunnelCommand(period="this-week"), invocation),
                            handle_quota(QuotaCommand(), invocation)),
                   "digests": tuple(DigestRow(s.channel_id, _schedule_label(s, t))
                                    for s in schedules)})


def _stage(key: str, t: Translator) -> str:
    """A funnel stage in the person's language (English keeps the stage word)."""
    return t.gettext(LABELS[key]) if key in LABELS and t.language != "en" else key


def _week(facts: Facts, week: Period, month: Period, now, user: str, currency: str,
          t: Translator) -> Reply:
    """Activities this week by kind against the same span of last week; quotas this month."""
    spans = comparison(week, now)
    kinds = tuple(kind for group in ACTIVITY_KINDS.values() for kind in group)
    current, previous = (facts.event_sums(kinds, span.start, span.end, user=user)
                         for span in (spans.current, spans.previous))

    def count(sums, label: str) -> int:
        return sum(sums[kind].count for kind in ACTIVITY_KINDS[label] if kind in sums)

    counts = [(label, count(current, label), count(previous, label)) for label in ACTIVITY_KINDS]
    counts.insert(0, ("activities", sum(n for _, n, _ in counts),
                      sum(b for _, _, b in counts)))
    fields = [(t.gettext(ACTIVITY_LABELS[label]) if label in ACTIVITY_LABELS
               else label.capitalize(),
               f"{format_number(n, t.locale)} {change_text(_change(n, b), 'count', t)}")
              for label, n, b in counts]
    quota = compute_kpi("quota-attainment", facts=facts, period=month, now=now, user=user)
    for row in quota.rows or ():
        metric = t.gettext("revenue") if row.extra["metric"] == "revenue" else row.extra["metric"]
        fields.append((t.gettext("Quota this month ({metric})", metric=metric),
                       format_quota(row.value, row.numerator, row.denominator,
                                    row.extra["metric"], currency, t.locale)))
        if row.extra.get("pace") is not None:
            fields.append((t.gettext("Pace ({metric})", metric=metric),
                           format_percent(row.extra["pace"], t.locale)))
    if not quota.rows:
        fields.append((t.gettext("Quota"), t.gettext("no quota set")))
    return Reply(text=t.gettext("Your week · {period}",
                                period=describe_period(spans.current, t)), sections=(
        Section(fields=tuple(fields)),
        Section(context=t.gettext("changes: {spans}", spans=describe_comparison(spans, t)))))


def _change(now: int, before: int) -> Change:
    """A count against the same span before (the rule of reports.kpis.catalog.compare)."""
    if not before:
        return Change(now - before, None, new=now > 0)
    return Change(now - before, (now - before) / before)


def _schedule_label(schedule, t: Translator) -> str:
    """`#sales · weekly on Monday at 09:00 Europe/Oslo` (the channel's id when its name is not
    known)."""
    where = f"#{schedule.channel_name}" if schedule.channel_name else schedule.channel_id
    return f"{where} · {describe_rule(rule_of(schedule), t)}"

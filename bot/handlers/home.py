"""The Home view: one person's week, and the team's for admins (Slack's App Home tab).

Composed once per open from the same handlers and KPIs the commands use: `/kpi me this-week`
(activities, wins, revenue, quota and pace, each against the same span of last week), the
person's logs this week, their open deals by stage and their stalled deals; admins also get
`/kpi funnel this-week`, `/kpi quota` and the workspace's digest schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import BotContext, CommandRequest, Invocation
from bot.grammar import FunnelCommand, MeCommand, QuotaCommand
from bot.handlers.describe import describe_event
from bot.handlers.reports import handle_funnel, handle_me, handle_quota
from bot.replies import Reply
from reports.events import STAGE_ORDER
from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from storage.digests import list_schedules
from storage.facts import SqlFacts
from storage.lookups import recent_logs
from storage.models import Workspace

RECENT_LOGS = 8
STALLED_SHOWN = 5


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
    week: Reply  # /kpi me this-week
    logs: tuple[tuple[int, str], ...]  # (event id, description), newest first
    open_by_stage: tuple[tuple[str, int], ...]  # stages with open deals, in funnel order
    stalled: tuple[StalledDeal, ...]
    admin: bool = False
    team: tuple[Reply, ...] = ()  # admins: the funnel and the quota of the team
    digests: tuple[DigestRow, ...] = ()


def compose_home(context: BotContext, request: CommandRequest) -> Home:
    """The Home view of `request.user_id` in `request.workspace_id` at the context's now."""
    now = context.now()
    with context.database.read() as session:
        workspace = session.get(Workspace, request.workspace_id)
    if workspace is None:  # nobody has used kpibot here yet: an empty week, nothing stored
        defaults = context.defaults
        workspace = Workspace(id=request.workspace_id, platform=request.platform,
                              timezone=defaults.timezone, currency=defaults.currency,
                              fiscal_year_start=defaults.fiscal_year_start, created_at=now)
    invocation = Invocation(request=request, workspace=workspace, now=now, context=context)
    user = request.user_id
    week = parse_period("this-week", now=now, tz=workspace.timezone,
                        fiscal_year_start=workspace.fiscal_year_start)
    with context.database.read() as session:
        facts = SqlFacts(session=session, workspace=workspace)
        stalled = compute_kpi("stalled-deals", facts=facts, period=week, now=now, user=user)
        open_counts = facts.open_deal_counts(user=user)
        logs = recent_logs(session=session, workspace_id=workspace.id, logged_by=user,
                           since=week.start, limit=RECENT_LOGS)
        schedules = [s for s in list_schedules(session=session, workspace_id=workspace.id,
                                               enabled_only=True)
                     if s.platform == request.platform]
    admin = invocation.is_admin()
    home = Home(
        week=handle_me(MeCommand(period="this-week"), invocation),
        logs=tuple((event.id, describe_event(event, workspace)) for event in logs),
        open_by_stage=tuple((stage.value, open_counts[stage.value][0]) for stage in STAGE_ORDER
                            if stage.value in open_counts and stage.value != "won"),
        stalled=tuple(StalledDeal(row.key, row.extra["stage"], row.extra["days_in_stage"])
                      for row in stalled.rows[:STALLED_SHOWN]),
        admin=admin,
    )
    if not admin:
        return home
    return Home(**{**home.__dict__,
                   "team": (handle_funnel(FunnelCommand(period="this-week"), invocation),
                            handle_quota(QuotaCommand(), invocation)),
                   "digests": tuple(DigestRow(s.channel_id, _schedule_label(s))
                                    for s in schedules)})


def _schedule_label(schedule) -> str:
    where = f"#{schedule.channel_name}" if schedule.channel_name else schedule.channel_id
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    if schedule.cadence == "weekly":
        when = f"weekly {days[schedule.day % 7]}"
    else:
        when = "monthly, last day" if schedule.day == -1 else f"monthly, day {schedule.day}"
    return f"{where} · {when} {schedule.hour:02d}:{schedule.minute:02d} {schedule.timezone}"

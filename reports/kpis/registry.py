"""The KPI catalog's table: each KPI's declaration (`KpiSpec`: name, title, one-line formula,
unit, group, the event kinds it reads, the formula that computes it), in the order `/kpi list`
shows them, and the KPIs that have a per-rep leaderboard or are in `/kpi me`.

A new KPI: its formula in the module of its family (activity, pipeline, funnel, revenue,
attainment, customers, cost), its row here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reports.events import Stage
from reports.kpis import activity, attainment, cost, customers, funnel, pipeline, revenue
from reports.kpis.context import Ctx
from reports.kpis.figures import reached
from reports.kpis.result import KpiResult


@dataclass(frozen=True)
class KpiSpec:
    name: str
    title: str
    formula: str  # one line, for humans (`/kpi list`, `/kpi help NAME`)
    unit: str  # one of reports.kpis.result.UNITS
    group: str  # email, social, web, activity, inbound, pipeline, revenue, quota, customers, cost
    needs: tuple[str, ...]  # the event kinds the KPI reads
    compute: Callable[[Ctx], KpiResult]
    per_rep: bool = False  # one row per rep: can be shown as a leaderboard


def _spec(name, title, formula, unit, group, needs, compute, per_rep=False) -> KpiSpec:
    return KpiSpec(name, title, formula, unit, group, tuple(needs), compute, per_rep)


def _rate(name, title, top, bottom, group, per_rep=False) -> KpiSpec:
    return _spec(name, title, f"{top} / {bottom}", "ratio", group, [top, bottom],
                 activity.event_rate(name, top, bottom), per_rep)


_STAGE_EVENTS = ["lead", "mql", "sql", "opportunity", "demo-booked", "deal-won", "deal-lost"]

_SPECS = [
    _rate("delivery-rate", "Delivery rate", "email-delivered", "email-sent", "email", True),
    _rate("open-rate", "Open rate", "email-opened", "email-delivered", "email", True),
    _rate("click-rate", "Click rate", "email-clicked", "email-delivered", "email", True),
    _rate("reply-rate", "Reply rate", "email-replied", "email-delivered", "email", True),
    _rate("spam-rate", "Spam rate", "spam-complaint", "email-delivered", "email"),
    _rate("bounce-rate", "Bounce rate", "email-bounced", "email-sent", "email"),
    _rate("reply-to-discovery", "Reply to discovery", "discovery-booked", "email-replied",
          "email", True),
    _rate("demo-request-response", "Demo request response", "demo-request-replied",
          "demo-request", "inbound", True),
    _spec("demo-to-won", "Demo to won", "deals whose demo fell in P that were won / deals "
          "whose demo fell in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-won"],
          pipeline.demo_outcome("demo-to-won", "won")),
    _spec("demo-to-lost", "Demo to lost", "deals whose demo fell in P that were lost / deals "
          "whose demo fell in P (cohort)", "ratio", "pipeline", ["demo-booked", "deal-lost"],
          pipeline.demo_outcome("demo-to-lost", "lost")),
    _rate("connection-acceptance", "Connection acceptance", "connection-accepted",
          "connection-sent", "social", True),
    _rate("connection-reply", "Connection reply", "connection-replied", "connection-accepted",
          "social", True),
    _spec("website-visits", "Website visits", "website-visit events (sum of counts)", "count",
          "web", ["website-visit"], activity.event_count("website-visits", ("website-visit",))),
    _rate("website-bounce-rate", "Website bounce rate", "website-bounce", "website-visit",
          "web"),
    _rate("ctr", "Click-through rate", "cta-click", "website-visit", "web"),
    _spec("engagement", "Social engagement", "social-engagement events (sum of counts)",
          "count", "web", ["social-engagement"],
          activity.event_count("engagement", ("social-engagement",))),
    _spec("meetings", "Meetings", "meeting-booked count (and meeting-held count)", "count",
          "activity", ["meeting-booked", "meeting-held"], activity.meetings, True),
    _rate("show-rate", "Show rate", "meeting-held", "meeting-booked", "activity", True),
    _spec("activities", "Activities", "calls + emails sent + meetings held + demos held, per "
          "rep", "count", "activity", ["call", "email-sent", "meeting-held", "demo-held"],
          activity.activities, True),
    _spec("leads", "Leads", "distinct leads created in P", "count", "pipeline", ["lead"],
          pipeline.deal_count("leads", Stage.LEAD), True),
    _spec("lead-sources", "Lead sources", "leads created in P per source, and how many of "
          "them were won (cohort)", "count", "pipeline", ["lead", "deal-won"],
          pipeline.lead_sources),
    _spec("mql", "MQLs", "distinct deals reaching mql in P", "count", "pipeline", ["mql"],
          pipeline.deal_count("mql", Stage.MQL), True),
    _spec("sql", "SQLs", "distinct deals reaching sql in P", "count", "pipeline", ["sql"],
          pipeline.deal_count("sql", Stage.SQL), True),
    _spec("mql-to-sql", "MQL to SQL", "deals reaching mql in P that reached sql (cohort)",
          "ratio", "pipeline", ["mql", "sql"], pipeline.cohort("mql-to-sql", Stage.MQL, Stage.SQL)),
    _spec("conversion-rate", "Lead conversion", "leads created in P that were won / leads "
          "created in P (cohort)", "ratio", "pipeline", ["lead", "deal-won"],
          pipeline.cohort("conversion-rate", Stage.LEAD, Stage.WON)),
    _spec("conversion-rate-period", "Lead conversion (period)", "deals won in P / leads "
          "created in P", "ratio", "pipeline", ["lead", "deal-won"], pipeline.conversion_period),
    _spec("win-rate", "Win rate", "won / (won + lost), deals closed in P", "ratio", "revenue",
          ["deal-won", "deal-lost"], revenue.win_rate, True),
    _spec("close-rate", "Close rate", "deals won in P / opportunities created in P", "ratio",
          "revenue", ["deal-won", "opportunity"], revenue.close_rate),
    _spec("revenue", "Revenue", "sum of deal-won amounts in P", "money", "revenue",
          ["deal-won"], revenue.revenue, True),
    _spec("deals-won", "Deals won", "deals won in P", "count", "revenue", ["deal-won"],
          revenue.deals_won, True),
    _spec("avg-deal-size", "Average deal size", "revenue / deals won", "money", "revenue",
          ["deal-won"], revenue.avg_deal_size),
    _spec("sales-cycle", "Sales cycle", "median (and mean) days from a deal's first stage "
          "event to won, deals won in P", "days", "revenue", _STAGE_EVENTS[:6],
          revenue.sales_cycle),
    _spec("stage-time", "Time in stage", "per stage: median and p90 days spent, deals that "
          "left the stage in P", "days", "pipeline", _STAGE_EVENTS[:6], funnel.stage_time),
    _spec("stalled-deals", "Stalled deals", "open deals idle in their stage longer than "
          "max(7 days, 2 × the stage's trailing-90-day median)", "count", "pipeline",
          _STAGE_EVENTS, funnel.stalled),
    _spec("sales-velocity", "Sales velocity", "open opportunities × win rate × avg deal size "
          "/ median cycle days (trailing 90 days)", "money_per_day", "revenue",
          _STAGE_EVENTS, revenue.velocity),
    _spec("quota-attainment", "Quota attainment", "credited won amount (or metric count) / "
          "quota; team = total / total; pace = attainment / elapsed share", "ratio", "quota",
          ["deal-won"], attainment.quota_attainment, True),
    _spec("reps-at-quota", "Reps at quota", "reps at ≥ 100% / reps with a quota > 0",
          "ratio", "quota", ["deal-won"], attainment.reps_at_quota),
    _spec("monthly-progress", "Monthly progress", "month-to-date revenue / the month's team "
          "quota, and vs the same days of last month", "ratio", "quota", ["deal-won"],
          attainment.monthly_progress),
    _spec("churn-rate", "Customer churn", "customers churned in P that were customers at "
          "P's start / customers at P's start", "ratio", "customers", ["churned", "deal-won"],
          customers.churn_rate),
    _spec("mrr", "MRR", "active MRR at the end of P: won MRR + MRR changes − churned MRR",
          "money", "customers", ["deal-won", "mrr-change", "churned"], customers.mrr),
    _spec("mrr-churn", "MRR churn", "churned MRR (+ downgrades) in P / MRR at P's start",
          "ratio", "customers", ["churned", "mrr-change", "deal-won"], customers.mrr_churn),
    _spec("cac", "Customer acquisition cost", "spend in P / new customers (first win in P)",
          "money", "cost", ["spend", "deal-won"], cost.cac),
    _spec("cpl", "Cost per lead", "spend in P / leads created in P", "money", "cost",
          ["spend", "lead"], cost.cost_per("cpl", lambda c: reached(c, Stage.LEAD), "leads")),
    _spec("cost-per-mql", "Cost per MQL", "spend in P / deals first reaching mql in P",
          "money", "cost", ["spend", "mql"],
          cost.cost_per("cost-per-mql", lambda c: reached(c, Stage.MQL), "mqls")),
    _spec("cost-per-sql", "Cost per SQL", "spend in P / deals first reaching sql in P",
          "money", "cost", ["spend", "sql"],
          cost.cost_per("cost-per-sql", lambda c: reached(c, Stage.SQL), "sqls")),
    _spec("cost-per-opportunity", "Cost per opportunity", "spend in P / opportunities "
          "created in P", "money", "cost", ["spend", "opportunity"],
          cost.cost_per("cost-per-opportunity", lambda c: reached(c, Stage.OPPORTUNITY),
                    "opportunities")),
    _spec("arpc", "Average revenue per customer", "revenue in P / customers active in P "
          "(customers at P's start + new customers)", "money", "customers", ["deal-won"],
          customers.arpc),
    _spec("clv", "Customer lifetime value", "monthly ARPC / monthly churn rate (and clv:cac)",
          "money", "customers", ["deal-won", "churned", "spend"], customers.clv),
    _spec("lead-value", "Lead value", "revenue in P / leads created in P", "money", "revenue",
          ["deal-won", "lead"], revenue.lead_value),
    _spec("roi", "ROI", "(revenue − spend) / spend", "multiple", "cost", ["deal-won", "spend"],
          cost.roi),
    _spec("inbound-response-time", "Inbound response time", "median response duration; "
          "share answered within the target (3 min); response rate", "seconds", "inbound",
          ["inbound-responded", "inbound-request"], activity.inbound_response_time),
    _spec("loss-reasons", "Loss reasons", "lost deals by reason and competitor", "count",
          "revenue", ["deal-lost"], revenue.loss_reasons),
    _spec("funnel", "Funnel", "deals reaching each stage in P, stage-to-stage conversion, "
          "median days in stage, stalled deals", "ratio", "pipeline", _STAGE_EVENTS, funnel.funnel),
]
CATALOG: dict[str, KpiSpec] = {spec.name: spec for spec in _SPECS}
LEADERBOARD_KPIS: tuple[str, ...] = tuple(s.name for s in _SPECS if s.per_rep)
ME_KPIS = ("activities", "revenue", "deals-won", "win-rate", "quota-attainment")

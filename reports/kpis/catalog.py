"""The KPI catalog of SPEC section 6: every KPI's name, formula, unit and computation.

Public API: `CATALOG` (name -> `KpiSpec`), `compute_kpi`, `compare` (-> `Change`),
`compute_compared` (-> `Compared`: a result with its like-for-like previous one),
`leaderboard` with `LEADERBOARD_KPIS`, and `me_summary`. Formulas read data only through the
`Facts` Protocol (reports/kpis/facts.py); a spec's `compute` takes a `Ctx` (facts, period, now,
user, options) and returns a `KpiResult`.

This module only gathers that API; each part has its own module in reports/kpis/:
- the table: `registry.py` (`KpiSpec`, `CATALOG`: each KPI's row, in the order shown);
- computing: `compute.py` (`compute_kpi`, `leaderboard`, `me_summary`), `comparing.py`
  (`Change`, `compare`, `Compared`, `compute_compared`);
- what formulas share: `context.py` (`Ctx`), `ratios.py` (`ratio`, `div`), `figures.py` (the
  counts, deals and amounts many formulas read);
- the formulas, by family: `activity.py` (event rates and counts, meetings, activities,
  inbound response time), `pipeline.py` (stage counts, cohort conversions, lead sources),
  `funnel.py` (stage time, stalled deals, the funnel), `revenue.py` (win and close rates,
  revenue, deal size, cycle, velocity, lead value, loss reasons), `attainment.py` (quota
  KPIs and how quotas count over a period), `customers.py` (churn, MRR, arpc, clv),
  `cost.py` (cac, cpl, cost-per-*, roi).

Rules for every KPI:
- a zero denominator gives value None ("n/a"), never 0% or infinity;
- an event ratio above 100% can only come from missing events (more email-opened than
  email-delivered): it is capped at 1.0 with a data warning naming the events to log. Ratios
  that may legitimately pass 100% because of timing (deals won in P over leads created in P,
  `close-rate`) are not capped, and say so in a note; the funnel's conversion is a cohort's
  (of the deals that reached stage X in P, how many have reached the next), never above 100%;
- a change compares like for like (`compute_compared`, reports.periods.comparison): a running
  period's elapsed days against the same days of the previous period, both spans named;
- every rate carries its numerator and denominator, per rep as well;
- cohort and period variants have different names (`conversion-rate` is the cohort of leads
  created in P, `conversion-rate-period` is deal-won / lead in P; `win-rate` vs `close-rate`).
"""

from __future__ import annotations

from reports.kpis.activity import ACTIVITY_KINDS
from reports.kpis.attainment import (
    REPS_AT_QUOTA_WARNING,
    headline_metric,
    quota_months,
    quota_period,
    quota_target,
)
from reports.kpis.comparing import Change, Compared, compare, compute_compared
from reports.kpis.compute import compute_kpi, leaderboard, me_summary
from reports.kpis.context import Ctx
from reports.kpis.funnel import stage_thresholds
from reports.kpis.ratios import ratio
from reports.kpis.registry import CATALOG, LEADERBOARD_KPIS, ME_KPIS, KpiSpec

__all__ = [
    "ACTIVITY_KINDS", "CATALOG", "LEADERBOARD_KPIS", "ME_KPIS", "REPS_AT_QUOTA_WARNING",
    "Change", "Compared", "Ctx", "KpiSpec", "compare", "compute_compared", "compute_kpi",
    "headline_metric", "leaderboard", "me_summary", "quota_months", "quota_period",
    "quota_target", "ratio", "stage_thresholds",
]

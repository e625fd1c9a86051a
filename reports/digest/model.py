"""The digest view model: everything a template shows, already formatted for one locale.

Pure data. Every string is plain text exactly as it should read (numbers, money, dates and
labels localized); user-supplied strings (rep names, deal names, loss reasons) are NOT escaped —
each template escapes for its own markup. Raw numbers ride along where a chart needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    """A headline figure against the previous period."""

    key: str  # catalog name: "revenue", "win-rate", ...
    label: str  # "Revenue"
    value: str  # "$72.4K", "38% (3/8)"
    change: str  # "▲ 12%", "▼ 4 pts", "new", "—"
    direction: str  # up | down | flat (for colour; "down" is not always bad)


@dataclass(frozen=True)
class RepActivity:
    rep: str  # display name (user-supplied)
    calls: str
    emails: str
    meetings: str
    demos: str
    total: str


@dataclass(frozen=True)
class FunnelStage:
    stage: str  # localized stage name
    deals: str  # deals reaching the stage in the period
    conversion: str  # from the previous stage ("" for the first)
    median_days: str  # median time in the stage ("" when unknown)
    count: int  # raw, for the chart


@dataclass(frozen=True)
class QuotaLine:
    rep: str  # display name (user-supplied)
    metric: str  # "revenue" or an event kind
    attained: str  # "$53.8K" / "5"
    target: str
    attainment: str  # "174%"
    pace: str  # "118%"
    at_quota: bool
    share: float | None  # raw attainment, for the chart


@dataclass(frozen=True)
class QuotaView:
    title: str  # "Quota — month to date (1–23 Nov)"
    team: str  # "92% ($1.2M of $1.3M)"
    reps_at_quota: str  # "4 of 6 reps (67%)"
    warning: str | None  # set when under 60% of reps are at quota
    rows: tuple[QuotaLine, ...]
    more: str | None = None  # "+20 more: /kpi leaderboard quota-attainment mtd" when cut


@dataclass(frozen=True)
class ChurnView:
    title: str  # "Last month (October 2026)"
    customer_churn: str  # "2.0% (1/51)"
    mrr_churn: str  # "1.1% ($640/$56.8K)"


@dataclass(frozen=True)
class StalledDeal:
    deal: str  # user-supplied
    stage: str
    owner: str  # user-supplied
    days: str  # "236.8 days"


@dataclass(frozen=True)
class LossReason:
    reason: str  # user-supplied
    count: str
    share: str


@dataclass(frozen=True)
class ChartData:
    """Inputs of the chart image: quota attainment per rep and the funnel."""

    title: str
    quota_title: str
    funnel_title: str
    reps: tuple[str, ...]
    attainment: tuple[float, ...]  # 1.0 = 100%
    stages: tuple[str, ...]
    stage_counts: tuple[int, ...]
    funnel_period: str = ""  # the funnel's period, drawn after its title when a font can
    alt: str = ""  # the image's description for screen readers

    @property
    def empty(self) -> bool:
        return not self.reps and not any(self.stage_counts)


@dataclass(frozen=True)
class Digest:
    cadence: str  # weekly | monthly
    language: str  # en | nb | sv | ro | zh
    locale: str  # the Babel locale used for numbers and dates
    title: str  # "Weekly digest — 16–22 Nov 2026"
    period: str  # "16–22 Nov 2026"
    compared_with: str  # "vs 9–15 Nov 2026"
    headline: tuple[Metric, ...]
    activity: tuple[RepActivity, ...]  # per rep, most active first
    activity_total: RepActivity
    funnel: tuple[FunnelStage, ...]
    funnel_summary: str  # "3 won · 5 lost · 874 stalled"
    quotas: tuple[QuotaView, ...]  # month to date, quarter to date
    churn: tuple[ChurnView, ...]  # last month, month to date
    stalled_total: str  # "874 of 955 open deals"
    stalled: tuple[StalledDeal, ...]  # the longest idle first
    loss_reasons: tuple[LossReason, ...]
    notes: tuple[str, ...]  # data warnings and small-sample notes
    chart: ChartData
    fallback: str  # one line: notification / `text` fallback
    extra: Mapping[str, str] = field(default_factory=dict)
    # A list cut for space: how many rows it left out and the command that shows them all.
    activity_more: str | None = None
    stalled_more: str | None = None
    loss_reasons_more: str | None = None

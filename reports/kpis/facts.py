"""What the KPI formulas need from the database, as a Protocol that `storage` implements.

`reports` stays pure: formulas call these methods and never see SQL. Every method is already
scoped to one workspace (the implementation is bound to it). Instants are tz-aware UTC; a
window is `[start, end)`. `user` narrows to the user an event or deal is credited to.
Durations are returned in seconds (float).

The batched methods at the end (`event_sums_by_kind`, `funnel_counts`, `median_stage_times`,
`open_deal_counts`, `idle_deals`) answer what several calls of the single methods would, in one
round trip; their
definitions here are those compositions, so an implementation that subclasses `Facts` gets them
and a faster one (storage's SqlFacts) must return exactly the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from reports.events import STAGE_ORDER, Stage


@dataclass(frozen=True)
class EventSum:
    """Totals of non-void events: how many rows, the sum of their counts, amounts, durations."""

    events: int = 0
    count: int = 0
    amount: int = 0  # minor units
    duration: int = 0  # seconds

    def __add__(self, other: EventSum) -> EventSum:
        return EventSum(self.events + other.events, self.count + other.count,
                        self.amount + other.amount, self.duration + other.duration)


@dataclass(frozen=True)
class Distribution:
    """Summary of a set of durations (seconds) or amounts."""

    n: int = 0
    median: float | None = None
    mean: float | None = None
    p90: float | None = None
    total: float = 0.0


@dataclass(frozen=True)
class DealRow:
    """One deal as shown in lists (stalled deals)."""

    key: str
    name: str
    owner_id: str | None
    stage: str | None
    stage_changed_at: datetime | None
    amount: int | None


@dataclass(frozen=True)
class Quota:
    """A quota change: the rep's target for a metric from `effective_from` (a workspace-local
    day; None = from the beginning) until a later change (reports/kpis/quotas.py)."""

    user_id: str
    metric: str  # "revenue" or an event kind such as "demo-booked"
    cadence: str  # "monthly" | "quarterly"
    target: int  # minor units for revenue, a count for an event-kind metric
    effective_from: date | None = None
    set_at: datetime | None = None
    set_by: str | None = None


class Facts(Protocol):
    workspace_id: str
    currency: str

    # --- events (counts and sums; from rollups, so cost follows the window length) ---
    def event_sums(self, kinds: Sequence[str], start: datetime, end: datetime, *,
                   user: str | None = None, by: str | None = None) -> dict[str, EventSum]:
        """Totals per kind (`by=None` → key is the kind), or per `by` in {"user", "source"}
        (then the kinds are summed together per user/source). Missing keys mean zero."""
        ...

    def event_durations(self, kind: str, start: datetime, end: datetime, *,
                        user: str | None = None, within: float | None = None
                        ) -> tuple[Distribution, int]:
        """Distribution of `duration_seconds` of `kind` events in the window, and how many
        had a duration <= `within` seconds (0 when `within` is None)."""
        ...

    # --- deals (final state; read through indexes on the stage timestamps) ---
    def deals_reaching(self, stage: Stage, start: datetime, end: datetime, *,
                       user: str | None = None, by: str | None = None) -> dict[str, int]:
        """Distinct deals whose `stage` timestamp falls in the window. Key "all" when
        `by=None`; per owner for by="user"; per lead source for by="source"."""
        ...

    def cohort_conversion(self, from_stage: Stage, to_stage: Stage | str, start: datetime,
                          end: datetime, *, user: str | None = None, by: str | None = None
                          ) -> dict[str, tuple[int, int]]:
        """Deals whose `from_stage` timestamp is in the window: (how many, how many of them
        have reached `to_stage` by now). `to_stage` may be a Stage or "lost" (outcome lost).
        Key "all" / per user / per source as in deals_reaching."""
        ...

    def closed_deals(self, start: datetime, end: datetime, *, user: str | None = None,
                     by: str | None = None) -> dict[str, tuple[int, int, int]]:
        """Deals whose final close (won_at or lost_at) is in the window:
        (won count, lost count, won amount in minor units). Key "all" / per owner ("user")."""
        ...

    def wins_without_amount(self, start: datetime, end: datetime, *,
                            user: str | None = None) -> int:
        """Won deals whose final win is in the window and whose amount is unknown (counted
        in closed_deals' wins, adding nothing to its amount)."""
        ...

    def loss_breakdown(self, start: datetime, end: datetime, *, user: str | None = None
                       ) -> tuple[dict[str, int], dict[str, int]]:
        """Lost deals closed in the window: counts per reason and per competitor
        ("(none)" for missing values)."""
        ...

    def sales_cycle(self, start: datetime, end: datetime, *, user: str | None = None
                    ) -> Distribution:
        """Seconds from each deal's first stage event to its win, deals won in the window."""
        ...

    def stage_time(self, stage: Stage, start: datetime, end: datetime, *,
                   user: str | None = None) -> Distribution:
        """Seconds spent in `stage` by deals that left it (reached the next stage) in the
        window. Skipped stages contribute zero-length stays."""
        ...

    def open_deals(self, *, user: str | None = None, stages: Sequence[Stage] | None = None,
                   idle_before: datetime | None = None, limit: int | None = None
                   ) -> list[DealRow]:
        """Open deals (outcome open, at some stage), optionally only at `stages` and only
        those whose last stage change was before `idle_before`; longest idle first."""
        ...

    def count_open_deals(self, *, user: str | None = None,
                         stages: Sequence[Stage] | None = None,
                         idle_before: datetime | None = None) -> int:
        """How many deals open_deals would list (without a limit)."""
        ...

    # --- customers and MRR ---
    def customers_at(self, instant: datetime) -> int:
        """Accounts that were customers at `instant` (won before it, not churned before it)."""
        ...

    def churned_customers(self, start: datetime, end: datetime) -> int:
        """Accounts that were customers at `start` and churned in the window."""
        ...

    def new_customers(self, start: datetime, end: datetime) -> int:
        """Accounts whose first win is in the window."""
        ...

    def mrr_at(self, instant: datetime) -> int:
        """Active MRR (minor units) at `instant`: won MRR + MRR changes − churned MRR."""
        ...

    def mrr_lost(self, start: datetime, end: datetime) -> tuple[int, int]:
        """MRR lost in the window: (churned MRR, downgrades = −sum of negative mrr-change)."""
        ...

    # --- quotas ---
    def quotas(self, metric: str | None = None) -> list[Quota]:
        """Every quota change (the history: each with its effective day and set time),
        optionally for one metric, by user, metric, then in the order they were set."""
        ...

    # --- batched: several of the calls above at once (event KPIs, funnel, stalled deals) ---
    def event_sums_by_kind(self, kinds: Sequence[str], start: datetime, end: datetime, *,
                           user: str | None = None, per_user: bool = False
                           ) -> tuple[dict[str, EventSum], dict[str, dict[str, EventSum]]]:
        """event_sums(kinds) (per kind) and, with `per_user`, {kind: event_sums((kind,),
        by="user")} for every kind of `kinds` ({} without `per_user`)."""
        totals = self.event_sums(kinds, start, end, user=user)
        users = {kind: self.event_sums((kind,), start, end, user=user, by="user")
                 for kind in kinds} if per_user else {}
        return totals, users

    def won_amounts(self, start: datetime, end: datetime, *, user: str | None = None,
                    by: str | None = None) -> dict[str, int]:
        """The won amount (minor units) of closed_deals' keys with wins: what quota
        attainment reads, without the losses (an implementation may read less)."""
        return {key: amount for key, (won, _lost, amount)
                in self.closed_deals(start, end, user=user, by=by).items() if won}

    def funnel_counts(self, start: datetime, end: datetime, *, user: str | None = None
                      ) -> dict[Stage, tuple[int, int]]:
        """For every stage of STAGE_ORDER: (deals reaching it in the window, and how many of
        those have reached the next stage by now), i.e. deals_reaching(stage)["all"] and
        cohort_conversion(stage, next stage)["all"][1]; (won deals, 0) for WON."""
        counts = {}
        for i, stage in enumerate(STAGE_ORDER):
            reached = self.deals_reaching(stage, start, end, user=user).get("all", 0)
            converted = 0
            if stage is not Stage.WON:
                converted = self.cohort_conversion(stage, STAGE_ORDER[i + 1], start, end,
                                                   user=user).get("all", (0, 0))[1]
            counts[stage] = (reached, converted)
        return counts

    def median_stage_times(self, start: datetime, end: datetime, *, user: str | None = None
                      ) -> dict[Stage, float | None]:
        """stage_time(stage, start, end).median for every stage of STAGE_ORDER but WON."""
        return {stage: self.stage_time(stage, start, end, user=user).median
                for stage in STAGE_ORDER if stage is not Stage.WON}

    def open_deal_counts(self, *, user: str | None = None,
                         idle_before: Mapping[Stage, datetime] | None = None
                         ) -> dict[str, tuple[int, int]]:
        """Per current stage of the open deals: (count_open_deals(stages=(stage,)), and
        count_open_deals(stages=(stage,), idle_before=idle_before[stage]), 0 for a stage
        not in `idle_before`). Stages without open deals are left out."""
        counts = {}
        for deal in self.open_deals(user=user):
            n, idle = counts.get(deal.stage, (0, 0))
            at = (idle_before or {}).get(deal.stage)  # Stage is a StrEnum: "lead" finds LEAD
            is_idle = at is not None and deal.stage_changed_at is not None \
                and deal.stage_changed_at < at
            counts[deal.stage] = (n + 1, idle + int(is_idle))
        return counts

    def idle_deals(self, idle_before: Mapping[Stage, datetime], *, limit: int,
                   user: str | None = None) -> list[DealRow]:
        """For each stage of `idle_before`, in its order: open_deals(stages=(stage,),
        idle_before=idle_before[stage]) up to the `limit`-th and every later one whose
        stage_changed_at equals the `limit`-th's (so that the `limit` longest idle are among
        them whatever breaks a tie), one list after the other."""
        listed = []
        for stage, at in idle_before.items() if limit > 0 else ():
            rows = self.open_deals(user=user, stages=(stage,), idle_before=at)
            if len(rows) > limit:
                last = rows[limit - 1].stage_changed_at
                rows = [row for row in rows if row.stage_changed_at <= last]
            listed += rows
        return listed


"""An in-memory `Facts` (reports/kpis/facts.py) over a plain list of events: the reference
implementation of the Protocol's documented semantics, for the catalog's tests and to compare
the SQL implementation (storage/facts.py) against.

Straight Python, no shortcuts:
- events: non-void events in `[start, end)`; `count` sums their counts; `by="source"` keys a
  missing source as "other";
- deals: the events naming a deal (case-folded) go through `reports.deal_state.
  derive_deal_state` (stage times, skipped stages, reopened deals, final outcome, owner);
  a deal's stage "won" timestamp is its final win;
- accounts: an account (a deal's account, else its key; `churned`/`mrr-change` name one) is a
  customer from its first win; churned at its last `churned` event if that came after its
  last win; its churned MRR is the churn's `mrr=` or else its MRR just before the churn
  (won deals' MRR + MRR changes), as storage/accounts.py keeps accounts;
- percentiles: linear interpolation between closest ranks (median of an even count = mean of
  the two middle values).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reports.deal_state import DealEvent, DealState, derive_deal_state
from reports.events import STAGE_ORDER, Stage
from reports.kpis.facts import DealRow, Distribution, EventSum, Facts, Quota

OTHER = "other"
NONE = "(none)"


@dataclass(frozen=True)
class Ev:
    """One logged event, as a rep would log it (amounts and MRR in minor units)."""

    kind: str
    at: datetime
    user: str = "U1"
    deal: str | None = None
    count: int = 1
    amount: int | None = None
    mrr: int | None = None
    duration: int | None = None  # seconds
    source: str | None = None
    reason: str | None = None
    competitor: str | None = None
    account: str | None = None
    void: bool = False


@dataclass(frozen=True)
class _Account:
    key: str
    customer_since: datetime | None
    churned_at: datetime | None
    churned_mrr: int


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Iterable[float]) -> Distribution:
    values = list(values)
    if not values:
        return Distribution()
    return Distribution(n=len(values), median=percentile(values, 0.5),
                        mean=sum(values) / len(values), p90=percentile(values, 0.9),
                        total=float(sum(values)))


def _inside(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


class FakeFacts(Facts):
    """`Facts` over `events` (and `quotas`) of one workspace (the batched methods: Facts'
    definitions over the single ones)."""

    def __init__(self, events: Sequence[Ev] = (), quotas: Sequence[Quota] = (), *,
                 workspace_id: str = "test:ws", currency: str = "USD") -> None:
        self.workspace_id = workspace_id
        self.currency = currency
        self.events = [e for e in events if not e.void]
        self._quotas = list(quotas)
        by_deal: dict[str, list[DealEvent]] = defaultdict(list)
        for n, e in enumerate(self.events):
            if e.deal:
                by_deal[e.deal.strip().casefold()].append(DealEvent(
                    id=n, kind=e.kind, occurred_at=e.at, user_id=e.user, deal_name=e.deal,
                    account_key=e.account, amount_minor=e.amount, currency=self.currency,
                    mrr_minor=e.mrr, source=e.source, reason=e.reason,
                    competitor=e.competitor))
        self.deals: dict[str, DealState] = {
            key: derive_deal_state(evs) for key, evs in by_deal.items()}
        self.accounts = self._derive_accounts()

    # ---------------------------------------------------------------------------- helpers

    def _deal_items(self, user: str | None):
        for key, deal in sorted(self.deals.items()):
            if user is None or deal.owner_id == user:
                yield key, deal

    def _account_of(self, key: str, deal: DealState) -> str:
        return (deal.account_key or key).strip().casefold()

    def _derive_accounts(self) -> dict[str, _Account]:
        wins: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        for key, deal in self.deals.items():
            if deal.outcome == "won":
                wins[self._account_of(key, deal)].append((deal.won_at, deal.mrr_minor or 0))
        named: dict[str, list[Ev]] = defaultdict(list)
        for e in self.events:
            if e.kind in ("churned", "mrr-change") and (e.account or e.deal):
                named[(e.account or e.deal).strip().casefold()].append(e)
        accounts = {}
        for key in set(wins) | set(named):
            won = wins.get(key, [])
            last_win = max((w for w, _ in won), default=None)
            churns = sorted((e for e in named.get(key, []) if e.kind == "churned"),
                            key=lambda e: e.at)
            last = churns[-1] if churns else None
            churned = last is not None and (last_win is None or last.at > last_win)
            churned_mrr = 0
            if churned:
                before = sum(m for w, m in won if w < last.at) + sum(
                    e.amount or 0 for e in named.get(key, [])
                    if e.kind == "mrr-change" and e.at < last.at)
                churned_mrr = last.mrr if last.mrr is not None else max(0, before)
            accounts[key] = _Account(key, min((w for w, _ in won), default=None),
                                     last.at if churned else None, churned_mrr)
        return accounts

    @staticmethod
    def _stage_at(deal: DealState, stage: Stage) -> datetime | None:
        if stage is Stage.WON:
            return deal.won_at if deal.outcome == "won" else None
        return deal.stage_at.get(stage)

    @staticmethod
    def _group(deal: DealState, by: str | None) -> str:
        if by is None:
            return "all"
        if by == "user":
            return deal.owner_id or NONE
        if by == "source":
            return deal.source or OTHER
        raise ValueError(by)

    # ----------------------------------------------------------------------------- events

    def event_sums(self, kinds, start, end, *, user=None, by=None):
        totals: dict[str, EventSum] = {}
        for e in self.events:
            if e.kind not in kinds or not _inside(e.at, start, end):
                continue
            if user is not None and e.user != user:
                continue
            key = {None: e.kind, "user": e.user, "source": e.source or OTHER}[by]
            totals[key] = totals.get(key, EventSum()) + EventSum(
                1, e.count, e.amount or 0, e.duration or 0)
        return totals

    def event_durations(self, kind, start, end, *, user=None, within=None):
        values = [float(e.duration) for e in self.events
                  if e.kind == kind and e.duration is not None and _inside(e.at, start, end)
                  and (user is None or e.user == user)]
        inside = 0 if within is None else sum(1 for v in values if v <= within)
        return distribution(values), inside

    # ------------------------------------------------------------------------------ deals

    def deals_reaching(self, stage, start, end, *, user=None, by=None):
        out: dict[str, int] = {}
        for _key, deal in self._deal_items(user):
            if _inside(self._stage_at(deal, Stage(stage)), start, end):
                group = self._group(deal, by)
                out[group] = out.get(group, 0) + 1
        return out

    def cohort_conversion(self, from_stage, to_stage, start, end, *, user=None, by=None):
        out: dict[str, tuple[int, int]] = {}
        for _key, deal in self._deal_items(user):
            if not _inside(self._stage_at(deal, Stage(from_stage)), start, end):
                continue
            if to_stage == "lost":
                reached = deal.outcome == "lost"
            elif Stage(to_stage) is Stage.WON:
                reached = deal.outcome == "won"
            else:
                reached = Stage(to_stage) in deal.stage_at
            group = self._group(deal, by)
            n, converted = out.get(group, (0, 0))
            out[group] = (n + 1, converted + int(reached))
        return out

    def wins_without_amount(self, start, end, *, user=None):
        return sum(1 for _key, deal in self._deal_items(user) if deal.outcome == "won"
                   and deal.amount_minor is None and _inside(deal.closed_at, start, end))

    def closed_deals(self, start, end, *, user=None, by=None):
        out: dict[str, tuple[int, int, int]] = {}
        for _key, deal in self._deal_items(user):
            if deal.outcome not in ("won", "lost") or not _inside(deal.closed_at, start, end):
                continue
            group = self._group(deal, by)
            won, lost, amount = out.get(group, (0, 0, 0))
            if deal.outcome == "won":
                out[group] = (won + 1, lost, amount + (deal.amount_minor or 0))
            else:
                out[group] = (won, lost + 1, amount)
        return out

    def loss_breakdown(self, start, end, *, user=None):
        reasons: dict[str, int] = {}
        competitors: dict[str, int] = {}
        for _key, deal in self._deal_items(user):
            if deal.outcome == "lost" and _inside(deal.closed_at, start, end):
                reasons[deal.reason or NONE] = reasons.get(deal.reason or NONE, 0) + 1
                competitors[deal.competitor or NONE] = competitors.get(
                    deal.competitor or NONE, 0) + 1
        return reasons, competitors

    def sales_cycle(self, start, end, *, user=None):
        return distribution(
            (deal.won_at - deal.first_event_at).total_seconds()
            for _key, deal in self._deal_items(user)
            if deal.outcome == "won" and _inside(deal.won_at, start, end)
            and deal.first_event_at is not None)

    def stage_time(self, stage, start, end, *, user=None):
        stage = Stage(stage)
        if stage is Stage.WON:
            return Distribution()
        following = STAGE_ORDER[STAGE_ORDER.index(stage) + 1]
        values = []
        for _key, deal in self._deal_items(user):
            this_at, next_at = self._stage_at(deal, stage), self._stage_at(deal, following)
            if this_at is not None and _inside(next_at, start, end):
                values.append((next_at - this_at).total_seconds())
        return distribution(values)

    def open_deals(self, *, user=None, stages=None, idle_before=None, limit=None):
        wanted = None if stages is None else {Stage(s).value for s in stages}
        rows = [DealRow(key=key, name=deal.name or key, owner_id=deal.owner_id,
                        stage=deal.stage, stage_changed_at=deal.stage_changed_at,
                        amount=deal.amount_minor)
                for key, deal in self._deal_items(user)
                if deal.outcome == "open" and deal.stage is not None
                and (wanted is None or deal.stage in wanted)
                and (idle_before is None or deal.stage_changed_at < idle_before)]
        rows.sort(key=lambda r: (r.stage_changed_at, r.key))  # longest idle first
        return rows if limit is None else rows[:limit]

    def count_open_deals(self, *, user=None, stages=None, idle_before=None):
        return len(self.open_deals(user=user, stages=stages, idle_before=idle_before))

    # -------------------------------------------------------------------------- customers

    def customers_at(self, instant):
        return sum(1 for a in self.accounts.values()
                   if a.customer_since is not None and a.customer_since < instant
                   and (a.churned_at is None or a.churned_at >= instant))

    def churned_customers(self, start, end):
        return sum(1 for a in self.accounts.values()
                   if _inside(a.churned_at, start, end)
                   and a.customer_since is not None and a.customer_since < start)

    def new_customers(self, start, end):
        return sum(1 for a in self.accounts.values() if _inside(a.customer_since, start, end))

    def mrr_at(self, instant):
        won = sum(deal.mrr_minor or 0 for deal in self.deals.values()
                  if deal.outcome == "won" and deal.closed_at < instant)
        changes = sum(e.amount or 0 for e in self.events
                      if e.kind == "mrr-change" and e.at < instant)
        churned = sum(a.churned_mrr for a in self.accounts.values()
                      if a.churned_at is not None and a.churned_at < instant)
        return won + changes - churned

    def mrr_lost(self, start, end):
        churned = sum(a.churned_mrr for a in self.accounts.values()
                      if _inside(a.churned_at, start, end))
        downgrades = -sum(e.amount for e in self.events
                          if e.kind == "mrr-change" and e.amount is not None and e.amount < 0
                          and _inside(e.at, start, end))
        return churned, downgrades

    # ----------------------------------------------------------------------------- quotas

    def quotas(self, metric=None):
        return sorted((q for q in self._quotas if metric is None or q.metric == metric),
                      key=lambda q: (q.user_id, q.metric))

"""The aggregate SQL behind the KPI catalog: `SqlFacts` implements reports' `Facts` Protocol.

Everything is computed in the database and scoped to one workspace. Costs follow the window:
- event totals read `daily_rollups` for the whole workspace-local days inside the window and
  the `events` table (index on workspace, occurred_at) only for partial-day edges;
- deal figures read `deals` through the per-stage timestamp indexes with range predicates;
- percentiles use linear interpolation between the closest ranks (as PostgreSQL's
  percentile_cont): the database sorts the window's values and returns the two around the rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from reports.events import STAGE_ORDER, Stage
from reports.kpis.facts import DealRow, Distribution, EventSum, Quota
from storage.models import Account, DailyRollup, Deal, Event, Workspace
from storage.models import Quota as QuotaRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAGE_COLUMNS = {
    Stage.LEAD: Deal.lead_at,
    Stage.MQL: Deal.mql_at,
    Stage.SQL: Deal.sql_at,
    Stage.OPPORTUNITY: Deal.opportunity_at,
    Stage.DEMO: Deal.demo_at,
    Stage.WON: Deal.won_at,
}


class SqlFacts:
    def __init__(self, *, session: Session, workspace: Workspace) -> None:
        self.session = session
        self.workspace_id = workspace.id
        self.currency = workspace.currency
        self.timezone = workspace.timezone
        self._zone = ZoneInfo(workspace.timezone)
        self._dialect = session.get_bind().dialect.name

    # ------------------------------------------------------------------ helpers
    def _seconds_between(self, later, earlier):
        """`later - earlier` in seconds, rounded to milliseconds (julianday is floating point)."""
        if self._dialect == "sqlite":
            seconds = (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
        else:
            seconds = sa.extract("epoch", later - earlier)
        return sa.func.round(seconds, 3)

    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)

    def _whole_days(self, start: datetime, end: datetime) -> tuple[date, date]:
        """[first, stop) local days lying wholly inside [start, end)."""
        first = start.astimezone(self._zone).date()
        if self._local_midnight(first) < start:
            first = date.fromordinal(first.toordinal() + 1)
        stop = end.astimezone(self._zone).date()
        if self._local_midnight(stop) > end:
            stop = date.fromordinal(stop.toordinal() - 1)
        return first, stop

    def _distribution(self, values: sa.Select) -> Distribution:
        """n, mean, median and p90 of the single column `value` selected by `values`.

        One query: the database numbers the sorted values with ROW_NUMBER() and COUNT() OVER ()
        and returns only the (at most four) rows around the median and p90 ranks; the
        percentiles interpolate linearly between them, like PostgreSQL's percentile_cont.
        """
        sub = values.subquery()
        ranked = sa.select(
            sub.c.value,
            (sa.func.row_number().over(order_by=sub.c.value) - 1).label("rank"),
            sa.func.count().over().label("n"),
            sa.func.sum(sub.c.value).over().label("total"),
        ).where(sub.c.value.is_not(None)).subquery()
        # Integer division floors the non-negative ranks on both backends.
        low_median = (ranked.c.n - 1) // 2
        low_p90 = ((ranked.c.n - 1) * 9) // 10
        rows = self.session.execute(
            sa.select(ranked.c.rank, ranked.c.value, ranked.c.n, ranked.c.total).where(
                sa.or_(ranked.c.rank.between(low_median, low_median + 1),
                       ranked.c.rank.between(low_p90, low_p90 + 1)))
            .order_by(ranked.c.rank)).all()
        if not rows:
            return Distribution()
        n, total = int(rows[0].n), float(rows[0].total)
        by_rank = {int(r.rank): float(r.value) for r in rows}

        def percentile(tenths: int) -> float:
            low, remainder = divmod((n - 1) * tenths, 10)  # exact: no float rounding of ranks
            value = by_rank[low]
            if remainder:
                value += (by_rank[low + 1] - value) * remainder / 10
            return value

        return Distribution(n=n, median=percentile(5), mean=total / n, p90=percentile(9),
                            total=total)

    def _deals(self, *conditions, user: str | None = None):
        query = [Deal.workspace_id == self.workspace_id, *conditions]
        if user is not None:
            query.append(Deal.owner_id == user)
        return query

    @staticmethod
    def _group_column(by: str | None):
        return {"user": Deal.owner_id, "source": Deal.source}.get(by or "")

    def _grouped_counts(self, conditions, by: str | None, *extra) -> dict[str, tuple]:
        column = self._group_column(by)
        key = column if column is not None else sa.literal("all")
        rows = self.session.execute(
            sa.select(key, sa.func.count(), *extra).where(*conditions).group_by(key)).all()
        return {(k if k is not None else "other" if by == "source" else "(none)"): tuple(r)
                for k, *r in rows}

    # ------------------------------------------------------------------ events
    def event_sums(self, kinds: Sequence[str], start: datetime, end: datetime, *,
                   user: str | None = None, by: str | None = None) -> dict[str, EventSum]:
        kinds = tuple(kinds)
        totals: dict[str, EventSum] = {}

        def add(key, events, count, amount, duration) -> None:
            key = key if key is not None else ""
            if by == "source":
                key = key or "other"
            totals[key] = totals.get(key, EventSum()) + EventSum(
                int(events or 0), int(count or 0), int(amount or 0), int(duration or 0))

        if start >= end or not kinds:
            return {}
        first, stop = self._whole_days(start, end)
        edges: list[tuple[datetime, datetime]] = []
        if first < stop:
            rollup_key = {None: DailyRollup.kind, "user": DailyRollup.user_id,
                          "source": DailyRollup.source}[by]
            conditions = [DailyRollup.workspace_id == self.workspace_id,
                          DailyRollup.day >= first, DailyRollup.day < stop,
                          DailyRollup.kind.in_(kinds)]
            if user is not None:
                conditions.append(DailyRollup.user_id == user)
            for row in self.session.execute(
                sa.select(rollup_key, sa.func.sum(DailyRollup.events),
                          sa.func.sum(DailyRollup.count_sum), sa.func.sum(DailyRollup.amount_sum),
                          sa.func.sum(DailyRollup.duration_sum))
                .where(*conditions).group_by(rollup_key)):
                add(*row)
            edges = [(start, self._local_midnight(first)), (self._local_midnight(stop), end)]
        else:
            edges = [(start, end)]
        event_key = {None: Event.kind, "user": Event.user_id, "source": Event.source}[by]
        for edge_start, edge_end in edges:
            if edge_start >= edge_end:
                continue
            conditions = [Event.workspace_id == self.workspace_id,
                          Event.occurred_at >= edge_start, Event.occurred_at < edge_end,
                          Event.kind.in_(kinds), Event.voided_at.is_(None)]
            if user is not None:
                conditions.append(Event.user_id == user)
            for row in self.session.execute(
                sa.select(event_key, sa.func.count(), sa.func.sum(Event.count),
                          sa.func.sum(Event.amount_minor), sa.func.sum(Event.duration_seconds))
                .where(*conditions).group_by(event_key)):
                add(*row)
        return {k: v for k, v in totals.items() if v.events}

    def event_durations(self, kind: str, start: datetime, end: datetime, *,
                        user: str | None = None, within: float | None = None
                        ) -> tuple[Distribution, int]:
        conditions = [Event.workspace_id == self.workspace_id, Event.occurred_at >= start,
                      Event.occurred_at < end, Event.kind == kind, Event.voided_at.is_(None),
                      Event.duration_seconds.is_not(None)]
        if user is not None:
            conditions.append(Event.user_id == user)
        dist = self._distribution(
            sa.select(Event.duration_seconds.label("value")).where(*conditions))
        inside = 0
        if within is not None:
            inside = self.session.execute(sa.select(sa.func.count()).where(
                *conditions, Event.duration_seconds <= within)).scalar_one()
        return dist, int(inside)

    # ------------------------------------------------------------------ deals
    def _reached_condition(self, stage: Stage, start: datetime, end: datetime):
        if stage is Stage.WON:
            # A won deal's final close is its win: read through the closed_at index.
            return [Deal.closed_at >= start, Deal.closed_at < end, Deal.outcome == "won"]
        column = _STAGE_COLUMNS[stage]
        return [column >= start, column < end]

    def deals_reaching(self, stage: Stage, start: datetime, end: datetime, *,
                       user: str | None = None, by: str | None = None) -> dict[str, int]:
        counts = self._grouped_counts(
            self._deals(*self._reached_condition(stage, start, end), user=user), by)
        return {k: int(v[0]) for k, v in counts.items()}

    def cohort_conversion(self, from_stage: Stage, to_stage: Stage | str, start: datetime,
                          end: datetime, *, user: str | None = None, by: str | None = None
                          ) -> dict[str, tuple[int, int]]:
        if to_stage == "lost":
            reached = Deal.outcome == "lost"
        elif to_stage in (Stage.WON, "won"):
            reached = Deal.outcome == "won"
        else:
            reached = _STAGE_COLUMNS[Stage(to_stage)].is_not(None)
        converted = sa.func.sum(sa.case((reached, 1), else_=0))
        counts = self._grouped_counts(
            self._deals(*self._reached_condition(from_stage, start, end), user=user), by,
            converted)
        return {k: (int(v[0]), int(v[1] or 0)) for k, v in counts.items()}

    def closed_deals(self, start: datetime, end: datetime, *, user: str | None = None,
                     by: str | None = None) -> dict[str, tuple[int, int, int]]:
        won = self._grouped_counts(
            self._deals(Deal.outcome == "won", Deal.closed_at >= start, Deal.closed_at < end,
                        user=user), by, sa.func.sum(Deal.amount_minor))
        lost = self._grouped_counts(
            self._deals(Deal.outcome == "lost", Deal.closed_at >= start, Deal.closed_at < end,
                        user=user), by)
        keys = set(won) | set(lost)
        return {k: (int(won.get(k, (0, 0))[0]), int(lost.get(k, (0,))[0]),
                    int(won.get(k, (0, 0))[1] or 0)) for k in keys}

    def loss_breakdown(self, start: datetime, end: datetime, *, user: str | None = None
                       ) -> tuple[dict[str, int], dict[str, int]]:
        conditions = self._deals(Deal.outcome == "lost", Deal.closed_at >= start,
                                 Deal.closed_at < end, user=user)
        result = []
        for column in (Deal.reason, Deal.competitor):
            rows = self.session.execute(sa.select(column, sa.func.count()).where(*conditions)
                                        .group_by(column)).all()
            result.append({(k if k else "(none)"): int(n) for k, n in rows})
        return result[0], result[1]

    def sales_cycle(self, start: datetime, end: datetime, *, user: str | None = None
                    ) -> Distribution:
        value = self._seconds_between(Deal.won_at, Deal.first_event_at).label("value")
        return self._distribution(sa.select(value).where(*self._deals(
            *self._reached_condition(Stage.WON, start, end), Deal.first_event_at.is_not(None),
            user=user)))

    def stage_time(self, stage: Stage, start: datetime, end: datetime, *,
                   user: str | None = None) -> Distribution:
        if stage is Stage.WON:
            return Distribution()
        following = STAGE_ORDER[STAGE_ORDER.index(stage) + 1]
        this_at, next_at = _STAGE_COLUMNS[stage], _STAGE_COLUMNS[following]
        value = self._seconds_between(next_at, this_at).label("value")
        return self._distribution(sa.select(value).where(*self._deals(
            *self._reached_condition(following, start, end), this_at.is_not(None), user=user)))

    def _open(self, user, stages, idle_before):
        conditions = self._deals(Deal.outcome == "open", Deal.stage.is_not(None), user=user)
        if stages:
            conditions.append(Deal.stage.in_([Stage(s).value for s in stages]))
        if idle_before is not None:
            conditions.append(Deal.stage_changed_at < idle_before)
        return conditions

    def open_deals(self, *, user: str | None = None, stages: Sequence[Stage] | None = None,
                   idle_before: datetime | None = None, limit: int | None = None
                   ) -> list[DealRow]:
        query = (sa.select(Deal.key, Deal.name, Deal.owner_id, Deal.stage, Deal.stage_changed_at,
                           Deal.amount_minor).where(*self._open(user, stages, idle_before))
                 .order_by(Deal.stage_changed_at))
        if limit is not None:
            query = query.limit(limit)
        return [DealRow(*row) for row in self.session.execute(query)]

    def count_open_deals(self, *, user: str | None = None,
                         stages: Sequence[Stage] | None = None,
                         idle_before: datetime | None = None) -> int:
        return int(self.session.execute(sa.select(sa.func.count()).where(
            *self._open(user, stages, idle_before))).scalar_one())

    # ------------------------------------------------------------------ customers
    def _customer_at(self, instant: datetime):
        return [Account.workspace_id == self.workspace_id, Account.customer_since < instant,
                sa.or_(Account.churned_at.is_(None), Account.churned_at >= instant)]

    def customers_at(self, instant: datetime) -> int:
        return int(self.session.execute(
            sa.select(sa.func.count()).where(*self._customer_at(instant))).scalar_one())

    def churned_customers(self, start: datetime, end: datetime) -> int:
        return int(self.session.execute(sa.select(sa.func.count()).where(
            *self._customer_at(start), Account.churned_at < end)).scalar_one())

    def new_customers(self, start: datetime, end: datetime) -> int:
        return int(self.session.execute(sa.select(sa.func.count()).where(
            Account.workspace_id == self.workspace_id, Account.customer_since >= start,
            Account.customer_since < end)).scalar_one())

    def mrr_at(self, instant: datetime) -> int:
        won = self.session.execute(sa.select(sa.func.coalesce(sa.func.sum(Deal.mrr_minor), 0))
                                   .where(*self._deals(Deal.outcome == "won",
                                                       Deal.closed_at < instant))).scalar_one()
        changes = self.event_sums(("mrr-change",), EPOCH, instant).get("mrr-change", EventSum())
        churned = self.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Account.churned_mrr_minor), 0)).where(
                Account.workspace_id == self.workspace_id, Account.churned_at < instant)
        ).scalar_one()
        return int(won) + changes.amount - int(churned)

    def mrr_lost(self, start: datetime, end: datetime) -> tuple[int, int]:
        churned = self.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Account.churned_mrr_minor), 0)).where(
                Account.workspace_id == self.workspace_id, Account.churned_at >= start,
                Account.churned_at < end)).scalar_one()
        downgrades = self.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Event.amount_minor), 0)).where(
                Event.workspace_id == self.workspace_id, Event.occurred_at >= start,
                Event.occurred_at < end, Event.kind == "mrr-change", Event.amount_minor < 0,
                Event.voided_at.is_(None))).scalar_one()
        return int(churned), -int(downgrades)

    # ------------------------------------------------------------------ quotas
    def quotas(self, metric: str | None = None) -> list[Quota]:
        conditions = [QuotaRow.workspace_id == self.workspace_id]
        if metric is not None:
            conditions.append(QuotaRow.metric == metric)
        rows = self.session.execute(sa.select(QuotaRow.user_id, QuotaRow.metric,
                                              QuotaRow.cadence, QuotaRow.target)
                                    .where(*conditions).order_by(QuotaRow.user_id))
        return [Quota(user_id=u, metric=m, cadence=c, target=int(t)) for u, m, c, t in rows]

"""The statements storage/facts.py writes itself (open deals, MRR balances, quotas, the history
version), one builder per shape, each with bind parameters (:workspace and the named values).

`SqlFacts` runs them as `Prepared` statements known by ("storage.facts", *shape): built and
compiled once per dialect through SQLAlchemy, or run from their compiled SQLite text by the
light reader (storage/lite.py, storage/compiled.py). SQLAlchemy and the tables are imported
when a statement is first built, not with this module.
"""

from __future__ import annotations

from typing import Any


def _open_conditions(with_user: bool, stages: tuple[str, ...] | None, with_idle: bool
                     ) -> list:
    """Open deals (through ix_deals_open_stage) of :workspace (and :user); `stages` None:
    any stage, () none; with :idle_before, those whose last stage change was before it."""
    import sqlalchemy as sa

    from storage.models import Deal

    conditions = [Deal.workspace_id == sa.bindparam("workspace"), Deal.outcome == "open",
                  Deal.stage.is_not(None)]
    if with_user:
        conditions.append(Deal.owner_id == sa.bindparam("user"))
    if stages is not None:  # the stages are the shape's: written as values of the text
        conditions.append(Deal.stage.in_([sa.literal(stage, Deal.stage.type)
                                          for stage in stages]) if stages else sa.false())
    if with_idle:
        conditions.append(Deal.stage_changed_at < sa.bindparam("idle_before"))
    return conditions


def open_deals(with_user: bool, stages: tuple[str, ...] | None, with_idle: bool,
               with_limit: bool) -> Any:
    """Open deals, longest idle first (stage_changed_at, then key), at most :limit."""
    import sqlalchemy as sa

    from storage.models import Deal

    query = (sa.select(Deal.key, Deal.name, Deal.owner_id, Deal.stage, Deal.stage_changed_at,
                       Deal.amount_minor)
             .where(*_open_conditions(with_user, stages, with_idle))
             .order_by(Deal.stage_changed_at, Deal.key))
    return query.limit(sa.bindparam("limit", type_=sa.Integer)) if with_limit else query


def count_open_deals(with_user: bool, stages: tuple[str, ...] | None, with_idle: bool
                     ) -> Any:
    """How many deals `open_deals` lists without a limit."""
    import sqlalchemy as sa

    return sa.select(sa.func.count()).where(*_open_conditions(with_user, stages, with_idle))


def mrr_at() -> Any:
    """(mrr-change amounts of the whole local months before :month, of the days of :month
    before :day, of the events in [:midnight, :instant); churned MRR of the accounts churned
    before :instant): storage/facts.py `mrr_at` adds them up."""
    import sqlalchemy as sa

    from storage.models import Account, DailyRollup, Event, MonthlyRollup

    def total(column: Any, *conditions: Any) -> Any:
        return sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(
            *conditions).scalar_subquery()

    workspace = sa.bindparam("workspace")
    return sa.select(
        total(MonthlyRollup.amount_sum, MonthlyRollup.workspace_id == workspace,
              MonthlyRollup.kind == "mrr-change", MonthlyRollup.month < sa.bindparam("month")),
        total(DailyRollup.amount_sum, DailyRollup.workspace_id == workspace,
              DailyRollup.kind == "mrr-change", DailyRollup.day >= sa.bindparam("month"),
              DailyRollup.day < sa.bindparam("day")),
        total(Event.amount_minor, *_events_in("midnight", "instant"),
              Event.kind == "mrr-change"),
        total(Account.churned_mrr_minor, Account.workspace_id == workspace,
              Account.churned_at < sa.bindparam("instant")))


def mrr_lost() -> Any:
    """(churned MRR of the accounts that churned in [:start, :end), the sum of the negative
    non-void mrr-change amounts in it)."""
    import sqlalchemy as sa

    from storage.models import Account, Event

    churned = (sa.select(sa.func.coalesce(sa.func.sum(Account.churned_mrr_minor), 0))
               .where(Account.workspace_id == sa.bindparam("workspace"),
                      Account.churned_at >= sa.bindparam("start"),
                      Account.churned_at < sa.bindparam("end"))
               .scalar_subquery())
    downgrades = (sa.select(sa.func.coalesce(sa.func.sum(Event.amount_minor), 0))
                  .where(*_events_in("start", "end"), Event.kind == "mrr-change",
                         Event.amount_minor < sa.literal_column("0"))  # ix_events_downgrades
                  .scalar_subquery())
    return sa.select(churned, downgrades)


def _events_in(low: str, high: str) -> list:
    """Non-void events of :workspace with occurred_at in [:low, :high)."""
    import sqlalchemy as sa

    from storage.models import Event

    return [Event.workspace_id == sa.bindparam("workspace"),
            Event.occurred_at >= sa.bindparam(low), Event.occurred_at < sa.bindparam(high),
            Event.voided_at.is_(None)]


def quotas(with_metric: bool) -> Any:
    """The workspace's quota changes (of :metric), by user, metric, then in the order they
    were set."""
    import sqlalchemy as sa

    from storage.models import Quota

    conditions = [Quota.workspace_id == sa.bindparam("workspace")]
    if with_metric:
        conditions.append(Quota.metric == sa.bindparam("metric"))
    return (sa.select(Quota.user_id, Quota.metric, Quota.cadence, Quota.target,
                      Quota.effective_from, Quota.set_at, Quota.set_by)
            .where(*conditions)
            .order_by(Quota.user_id, Quota.metric, Quota.set_at, Quota.id))


def history_version() -> Any:
    """The workspace's history_version (storage/workspaces.py)."""
    import sqlalchemy as sa

    from storage.models import Workspace

    table = Workspace.__table__
    return sa.select(table.c.history_version).where(table.c.id == sa.bindparam("workspace"))

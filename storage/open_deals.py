"""The statements behind the open-deal facts (storage/facts.py `SqlFacts.open_deal_counts` and
`idle_deals`), built once per dialect and shape with bind parameters :workspace, :user (only in
the per-rep shape), :idle_<i> (stage i's idle instant), :limit and :last."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a statement is built: the light read path does not
    import sqlalchemy as sa

    from reports.events import Stage


def open_deal_counts_statement(with_user: bool, stages: tuple[Stage, ...]
                               ) -> sa.CompoundSelect:
    """(part, stage, deals) rows: part -1, the open deals per stage from open_deal_stages;
    part i, the open deals at stages[i] that are not idle (changed at or after :idle_<i>, or
    never)."""
    import sqlalchemy as sa

    from storage.models import Deal, OpenDealStage

    table = OpenDealStage.__table__
    owned = [table.c.workspace_id == sa.bindparam("workspace")]
    if with_user:
        owned.append(table.c.owner_id == sa.bindparam("user"))
    parts: list[sa.Select] = [
        sa.select(_constant(-1).label("part"), table.c.stage, sa.func.sum(table.c.deals))
        .where(*owned).group_by(table.c.stage)]
    for i, stage in enumerate(stages):
        open_here = (Deal.outcome == "open", Deal.stage == stage.value)
        name = _constant(stage.value)
        parts += [
            sa.select(_constant(i), name, sa.func.count()).where(
                *_scoped(with_user, *open_here,
                         Deal.stage_changed_at >= sa.bindparam(f"idle_{i}"))),
            sa.select(_constant(i), name, sa.func.count()).where(
                *_scoped(with_user, *open_here, Deal.stage_changed_at.is_(None))),
        ]
    return sa.union_all(*parts)


def idle_deals_statement(dialect: str, with_user: bool, stages: tuple[Stage, ...]
                         ) -> sa.Select:
    """Per stage i, its open deals idle since before :idle_<i>, up to the :limit-th longest
    idle and those idle exactly as long (Facts.idle_deals), each an ix_deals_open_stage range:
    PostgreSQL's FETCH FIRST ... WITH TIES; SQLite, which has no ties clause, takes the deals
    changed at or before the :limit-th's change (one more seek; all of them when fewer)."""
    import sqlalchemy as sa

    from storage.models import Deal

    at_type = Deal.stage_changed_at.type
    parts = []
    for i, stage in enumerate(stages):
        idle_since = sa.bindparam(f"idle_{i}", type_=at_type)
        picked = (sa.select(_constant(i).label("part"), Deal.key, Deal.name, Deal.owner_id,
                            Deal.stage, Deal.stage_changed_at, Deal.amount_minor)
                  .where(*_scoped(with_user, Deal.outcome == "open", Deal.stage.is_not(None),
                                  Deal.stage == stage.value,
                                  Deal.stage_changed_at < idle_since)))
        if dialect == "postgresql":
            picked = picked.order_by(Deal.stage_changed_at).fetch(
                sa.bindparam("limit", type_=sa.Integer), with_ties=True)
            parts.append(sa.select(picked.subquery()))
            continue
        tied = Deal.__table__.alias("tied")
        nth = (sa.select(tied.c.stage_changed_at)
               .where(tied.c.workspace_id == sa.bindparam("workspace"),
                      tied.c.outcome == "open", tied.c.stage == stage.value,
                      tied.c.stage_changed_at < idle_since,
                      *([tied.c.owner_id == sa.bindparam("user")] if with_user else []))
               .order_by(tied.c.stage_changed_at)
               .limit(1).offset(sa.bindparam("last", type_=sa.Integer)).scalar_subquery())
        parts.append(picked.where(Deal.stage_changed_at <= sa.func.coalesce(nth, idle_since)))
    union = sa.union_all(*parts).subquery()
    return (sa.select(union.c.key, union.c.name, union.c.owner_id, union.c.stage,
                      union.c.stage_changed_at, union.c.amount_minor)
            .order_by(union.c.part, union.c.stage_changed_at, union.c.key))


def _constant(value: int | str) -> sa.ColumnElement:
    """An inline constant (no bind parameter; one type in every branch of a UNION)."""
    import sqlalchemy as sa

    return sa.literal_column(repr(value) if isinstance(value, str) else str(value))


def _scoped(with_user: bool, *conditions: Any) -> list:
    import sqlalchemy as sa

    from storage.models import Deal

    result = [Deal.workspace_id == sa.bindparam("workspace"), *conditions]
    if with_user:
        result.append(Deal.owner_id == sa.bindparam("user"))
    return result

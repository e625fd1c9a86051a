"""The tables. Every row carries its workspace; every query is scoped by it.

Amounts are integer minor units plus an ISO 4217 currency. Timestamps are tz-aware UTC.
Every schema change here needs an Alembic migration (storage/migrations/versions).
"""

from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

from storage.types import BigId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Table(DeclarativeBase):
    """The base of every table: plain SQLAlchemy declarative classes (importing SQLModel and
    pydantic for them was ~0.15 s of every start, docs/performance.md).

    A new row holds its defaults from the moment it is built, before any flush: each column's
    Python `default=` and None for a nullable column or an auto-increment key (what a row of
    the SQLModel classes these replace held; code reads them before the INSERT, and every
    row of a table then inserts the same columns). The annotations are real types, not
    strings (no `from __future__ import annotations`): SQLAlchemy would evaluate each one."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    _new_row_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__table__
        cls._new_row_defaults = {
            column.key: column.default.arg if column.default is not None else None
            for column in table.columns
            if column.default is not None or column.nullable
            or column is table.autoincrement_column}
        for value in cls._new_row_defaults.values():
            if callable(value):
                raise TypeError(f"{cls.__name__}: a default must be a value, not a callable")

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        for key, value in (self._new_row_defaults | values).items():
            if not hasattr(cls, key):
                raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")
            setattr(self, key, value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{column.key}={self.__dict__[column.key]!r}"
                          for column in self.__table__.columns if column.key in self.__dict__)
        return f"{type(self).__name__}({shown})"


def _ts() -> MappedColumn[Any]:
    """A tz-aware UTC timestamp; NULL allowed as its annotation says."""
    return mapped_column(UTCDateTime())


def _workspace_id(primary_key: bool = False) -> MappedColumn[str]:
    """The workspace a row belongs to."""
    return mapped_column(sa.String(80), sa.ForeignKey("workspaces.id"), primary_key=primary_key)


class Workspace(Table):
    """A Slack team (Enterprise Grid: enterprise + team) or a Teams tenant."""

    __tablename__ = "workspaces"

    # "slack:T123", "slack:E1:T123", "teams:<tid>"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    fiscal_year_start: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = _ts()
    # A fresh random number after every write that changes the deals of a past time (a
    # backdated log, an undo, an import, a rep link): results over past windows are remembered
    # until it moves (storage/facts.py). Random, so a workspace created again never repeats one.
    history_version: Mapped[int] = mapped_column(sa.BigInteger(), server_default="0", default=0)


class User(Table):
    """A platform user (or a named rep from an import) within a workspace."""

    __tablename__ = "users"

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    is_admin: Mapped[bool] = mapped_column(default=False)
    admin_checked_at: Mapped[datetime | None] = _ts()
    created_at: Mapped[datetime] = _ts()


# The rows of the partial indexes ix_events_durations and ix_events_downgrades; a query
# uses them only when its WHERE holds these very terms (literals, not bound parameters).
def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index of the rows matching `where` (the same SQL on SQLite and PostgreSQL), kept in
    `info["where"]`. The migrations create the predicate; `sqlite_where=`/`postgresql_where=`
    here would make SQLAlchemy load both dialects to check those arguments, and the PostgreSQL
    one was ~4% of `kpibot kpi NAME --json` on SQLite. Nothing creates tables from these models
    and Alembic does not compare predicates: tests/storage/test_partial_indexes.py checks that
    a migrated database has each of these indexes with its predicate."""
    return sa.Index(name, *columns, unique=unique, info={"where": where})


DURATION_ROWS = "duration_seconds IS NOT NULL AND voided_at IS NULL"
DOWNGRADE_ROWS = "amount_minor < 0 AND voided_at IS NULL"


class Event(Table):
    """One logged activity. Never deleted: undo sets `voided_at`."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "idempotency_key"),
        sa.Index("ix_events_workspace_occurred", "workspace_id", "occurred_at"),
        sa.Index("ix_events_workspace_deal", "workspace_id", "deal_key", "occurred_at"),
        sa.Index("ix_events_workspace_logger", "workspace_id", "logged_by", "logged_at"),
        # Partial: most events name no account, and with planner statistics (ANALYZE, PRAGMA
        # optimize) SQLite judged an index full of NULLs useless and scanned every event to
        # upkeep one account (/kpi log on a deal: 120 ms at 1M events).
        partial_index("ix_events_workspace_account", "workspace_id", "account_key",
                      where="account_key IS NOT NULL"),
        # Partial and covering: the few events a distribution or a downgrade total reads
        # (inbound response times; negative mrr-change amounts) over a long period, without
        # walking every event of the period on ix_events_workspace_occurred.
        partial_index("ix_events_durations", "workspace_id", "kind", "occurred_at",
                      "duration_seconds", "user_id", where=DURATION_ROWS),
        # The same rows in the order of their durations: the values at a rank of one bucket
        # of event_duration_counts (storage/event_durations.py, migration 0021).
        partial_index("ix_events_duration_values", "workspace_id", "kind", "duration_seconds",
                      "occurred_at", "user_id", where=DURATION_ROWS),
        partial_index("ix_events_downgrades", "workspace_id", "kind", "occurred_at",
                      "amount_minor", where=DOWNGRADE_ROWS),
        sa.CheckConstraint("count >= 1", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    kind: Mapped[str] = mapped_column(sa.String(40))
    count: Mapped[int] = mapped_column(default=1)
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger())
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    duration_seconds: Mapped[int | None] = mapped_column()
    mrr_minor: Mapped[int | None] = mapped_column(sa.BigInteger())
    deal_key: Mapped[str | None] = mapped_column(sa.String(120))
    deal_name: Mapped[str | None] = mapped_column(sa.String(120))
    account_key: Mapped[str | None] = mapped_column(sa.String(120))
    user_id: Mapped[str] = mapped_column(sa.String(80))  # credited to
    logged_by: Mapped[str] = mapped_column(sa.String(80))
    channel_id: Mapped[str | None] = mapped_column(sa.String(80))  # where it was logged
    source: Mapped[str | None] = mapped_column(sa.String(40))  # lead-source group
    source_raw: Mapped[str | None] = mapped_column(sa.String(120))
    reason: Mapped[str | None] = mapped_column(sa.String(120))
    competitor: Mapped[str | None] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    occurred_at: Mapped[datetime] = _ts()
    logged_at: Mapped[datetime] = _ts()
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    voided_at: Mapped[datetime | None] = _ts()
    voided_by: Mapped[str | None] = mapped_column(sa.String(80))


_GROUPS = ("outcome", "owner_id", "source")  # trailing columns of the stage indexes


class Deal(Table):
    """A deal's funnel state, derived from its events and rewritten in the same transaction.

    Stage timestamps: the first event of each stage; a skipped stage counts as reached when the
    next reached stage was, so its time in stage is zero. `outcome` is the final one: a stage
    event after won/lost reopens the deal.
    """

    __tablename__ = "deals"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "key"),
        # Each stage index also holds the neighbouring stages' timestamps (ix_deals_demo the
        # outcome, ix_deals_closed what wins, losses and the time from demo to win need), so
        # the funnel's counts, cohorts and stage times read the index alone (storage/facts.py).
        # ... and what the per-rep and per-source rows and the won cohorts group by (owner,
        # source, outcome), so a year of deals is read from the index alone (0014).
        sa.Index("ix_deals_lead", "workspace_id", "lead_at", "mql_at", *_GROUPS),
        sa.Index("ix_deals_mql", "workspace_id", "mql_at", "lead_at", "sql_at", *_GROUPS),
        sa.Index("ix_deals_sql", "workspace_id", "sql_at", "mql_at", "opportunity_at",
                 *_GROUPS),
        sa.Index("ix_deals_opportunity", "workspace_id", "opportunity_at", "sql_at", "demo_at",
                 *_GROUPS),
        sa.Index("ix_deals_demo", "workspace_id", "demo_at", "opportunity_at", *_GROUPS),
        sa.Index("ix_deals_closed", "workspace_id", "closed_at", "outcome", "amount_minor",
                 "owner_id", "demo_at", "won_at"),
        sa.Index("ix_deals_open_stage", "workspace_id", "outcome", "stage", "stage_changed_at"),
        sa.Index("ix_deals_account", "workspace_id", "account_key"),  # account upkeep
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    key: Mapped[str] = mapped_column(sa.String(120))
    name: Mapped[str] = mapped_column(sa.String(120))
    account_key: Mapped[str | None] = mapped_column(sa.String(120))
    owner_id: Mapped[str | None] = mapped_column(sa.String(80))
    source: Mapped[str | None] = mapped_column(sa.String(40))
    first_event_at: Mapped[datetime | None] = _ts()
    lead_at: Mapped[datetime | None] = _ts()
    mql_at: Mapped[datetime | None] = _ts()
    sql_at: Mapped[datetime | None] = _ts()
    opportunity_at: Mapped[datetime | None] = _ts()
    demo_at: Mapped[datetime | None] = _ts()
    won_at: Mapped[datetime | None] = _ts()
    lost_at: Mapped[datetime | None] = _ts()
    closed_at: Mapped[datetime | None] = _ts()
    outcome: Mapped[str] = mapped_column(sa.String(8), default="open")  # open | won | lost
    stage: Mapped[str | None] = mapped_column(sa.String(16))  # current stage (lost for lost deals)
    stage_changed_at: Mapped[datetime | None] = _ts()
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger())
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    mrr_minor: Mapped[int | None] = mapped_column(sa.BigInteger())
    reason: Mapped[str | None] = mapped_column(sa.String(120))
    competitor: Mapped[str | None] = mapped_column(sa.String(120))
    updated_at: Mapped[datetime] = _ts()


class DailyRollup(Table):
    """Per workspace-local day: non-void event totals by user, kind and lead source.

    Maintained in the same transaction as every event write and void, so count and sum KPIs
    read one row per (day, user, kind, source) instead of every event.
    """

    __tablename__ = "daily_rollups"
    __table_args__ = (
        # One kind over a long span (the mrr-change balance behind `mrr_at`).
        sa.Index("ix_daily_rollups_kind", "workspace_id", "kind", "day"),
    )

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default="")
    events: Mapped[int] = mapped_column(default=0)
    count_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    amount_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    duration_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)


class MonthlyRollup(Table):
    """Per workspace-local calendar month (`month` = its first day): the sums of
    `daily_rollups` over the month's days, by user, kind and lead source.

    Written in the same statements as `daily_rollups` (storage/rollups.py), so a long period
    reads whole months here and only its partial edge months from the daily rows.
    """

    __tablename__ = "monthly_rollups"
    __table_args__ = (
        # Covering (migration 0018): a long period's sums of a few kinds read the index
        # alone, with no table lookup per row (storage/event_sums.py).
        sa.Index("ix_monthly_rollups_kind", "workspace_id", "kind", "month", "user_id",
                 "source", "events", "count_sum", "amount_sum", "duration_sum"),
    )

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default="")
    events: Mapped[int] = mapped_column(default=0)
    count_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    amount_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    duration_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)


class OpenDealStage(Table):
    """Open deals (outcome "open", a stage) per (owner, current stage): the stalled-deal
    counts' totals, so that they cost the same at any history size (storage/facts.py).

    Maintained by database triggers on `deals` (created by migration 0006), in the same
    statement as every insert, update and delete of a deal, whatever code writes it. Code must
    never write this table. A row may hold 0 (no open deals left there).
    """

    __tablename__ = "open_deal_stages"

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True, default="",
                                          server_default="")  # "" for no owner
    stage: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    deals: Mapped[int] = mapped_column(default=0)


class EventDurationCount(Table):
    """How many non-void events of a kind carry a duration (and the sum of their seconds) per
    (workspace, UTC month, bucket of `duration_buckets`, by 1000 * seconds): user_id "" for
    the whole team, else per user. Kept by triggers on `events` (migration 0021); code never
    writes it. A row may hold 0."""

    __tablename__ = "event_duration_counts"
    __table_args__ = ({"sqlite_with_rowid": False},)  # clustered by the key on SQLite

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(default=0)
    total_seconds: Mapped[int] = mapped_column(sa.BigInteger(), default=0)


class DurationBucket(Table):
    """The lower bounds (milliseconds) of the duration buckets of `deal_duration_counts`: a
    duration d falls in the bucket with the largest lo_ms <= d, which holds [lo_ms, next
    lo_ms). Written once by migration 0016 (about eight buckets per doubling)."""

    __tablename__ = "duration_buckets"

    lo_ms: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True, autoincrement=False)


class DealDuration(Table):
    """One deal's time in a stage (measures 0-4: lead ... demo, the stage left when the next
    one was reached) or its sales cycle (5: first event to win), in whole milliseconds (the
    value `seconds_between` rounds to), with the instant it counts at (`exit_at`: the next
    stage's timestamp; a win's close for demo and the cycle), its UTC month (year * 12 +
    month - 1) and its bucket (a `duration_buckets.lo_ms`).

    Maintained by database triggers on `deals` (migration 0016), in the same statement as every
    insert, update and delete of a deal, whatever code writes it. Code must never write it.
    """

    __tablename__ = "deal_durations"
    __table_args__ = (
        # The deals of a period's partial months (storage/stage_durations.py).
        sa.Index("ix_deal_durations_exit", "workspace_id", "measure", "exit_at", "bucket",
                 "ms", "owner_id"),
        # The deals of one bucket in a period: the values at the ranks a percentile reads.
        # In the order of the durations, so the values at a rank need no sort: a long
        # period stops after the rank, a short one skips the bucket's other deals.
        sa.Index("ix_deal_durations_bucket", "workspace_id", "measure", "bucket", "ms",
                 "exit_at", "owner_id"),
    )

    deal_id: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True, autoincrement=False)
    measure: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    owner_id: Mapped[str | None] = mapped_column(sa.String(80))
    exit_at: Mapped[datetime] = _ts()
    month: Mapped[int] = mapped_column()
    ms: Mapped[int] = mapped_column(sa.BigInteger())
    bucket: Mapped[int] = mapped_column(sa.BigInteger())


class DealDurationCount(Table):
    """How many `deal_durations` rows (and the sum of their milliseconds) fall in each
    (workspace, measure, UTC month, bucket): owner_id "" for the whole team, else per owner.

    Maintained by database triggers on `deal_durations` (migration 0016). Code must never write
    it. A row may hold 0.
    """

    __tablename__ = "deal_duration_counts"
    __table_args__ = (
        # A short period's months (migration 0019). Not covering: a trigger's update of the
        # counters then leaves this index alone (PostgreSQL: a HOT update).
        sa.Index("ix_deal_duration_counts_month", "workspace_id", "owner_id", "month",
                 "measure", "bucket"),
        {"sqlite_with_rowid": False},  # clustered by the key on SQLite
    )

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    measure: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    # Bucket before month: a period's counts per bucket are summed in key order (no sort).
    bucket: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(primary_key=True)
    deals: Mapped[int] = mapped_column(default=0)
    total_ms: Mapped[int] = mapped_column(sa.BigInteger(), default=0)


class DealCount(Table):
    """Deals per UTC month of a milestone, owner and lead source: what the deal counts over a
    long period add up (storage/deal_counts.py), so that they cost the same at any history
    size.

    Milestones: a stage ("lead" ... "demo", the month of its timestamp), "won" / "lost" (the
    month of `closed_at`, outcome won / lost; lost rows per reason and competitor, with source
    ""); and the same for the whole team, "team:lead" ... "team:lost", with owner and source
    "" (what a team figure reads: one row per month). Per row: how many deals, how many of
    them have reached each stage (its timestamp set; `to_won` / `to_lost`: the outcome), and
    their amount, deals without an amount and MRR. "" stands for no owner / source / reason /
    competitor.

    Maintained by database triggers on `deals` (created by migration 0015), in the same
    statement as every insert, update and delete of a deal, whatever code writes it. Code must
    never write this table. A row may hold 0 (no deals left there).
    """

    __tablename__ = "deal_counts"
    # SQLite: the rows live in the primary key's B-tree (a period's months are one range of it)
    __table_args__ = {"sqlite_with_rowid": False}

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    milestone: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    competitor: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    deals: Mapped[int] = mapped_column(default=0)
    to_lead: Mapped[int] = mapped_column(default=0)
    to_mql: Mapped[int] = mapped_column(default=0)
    to_sql: Mapped[int] = mapped_column(default=0)
    to_opportunity: Mapped[int] = mapped_column(default=0)
    to_demo: Mapped[int] = mapped_column(default=0)
    to_won: Mapped[int] = mapped_column(default=0)
    to_lost: Mapped[int] = mapped_column(default=0)
    amount_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    no_amount: Mapped[int] = mapped_column(default=0)
    mrr_sum: Mapped[int] = mapped_column(sa.BigInteger(), default=0)


class Account(Table):
    """A customer account, derived from its deals' wins and its churn and MRR events."""

    __tablename__ = "accounts"
    __table_args__ = (
        sa.Index("ix_accounts_customer_since", "workspace_id", "customer_since"),
        # With customer_since: the customers at an instant are index-only counts (0020).
        sa.Index("ix_accounts_churned", "workspace_id", "churned_at", "customer_since"),
    )

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(120))
    customer_since: Mapped[datetime | None] = _ts()
    churned_at: Mapped[datetime | None] = _ts()
    churned_mrr_minor: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    mrr_minor: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    updated_at: Mapped[datetime] = _ts()


class Quota(Table):
    """A quota change: a rep's target for revenue (minor units) or a count of an event kind,
    monthly or quarterly, in force from `effective_from` (a workspace-local day; NULL = from the
    beginning, for quotas set before effective dates were kept) until a later change.

    Rows are never updated: every `/kpi quota set` adds one, so the history stays. Which change
    applies on which day is a rule of reports/kpis/quotas.py.
    """

    __tablename__ = "quota_changes"
    __table_args__ = (
        sa.Index("ix_quota_changes_rep", "workspace_id", "user_id", "metric", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    user_id: Mapped[str] = mapped_column(sa.String(80))
    metric: Mapped[str] = mapped_column(sa.String(40))
    cadence: Mapped[str] = mapped_column(sa.String(16), default="monthly")
    target: Mapped[int] = mapped_column(sa.BigInteger())
    effective_from: Mapped[date | None] = mapped_column(sa.Date())
    set_by: Mapped[str] = mapped_column(sa.String(80))
    set_at: Mapped[datetime] = _ts()


class DigestSchedule(Table):
    """One channel's digest: where, how often, when (local time in `timezone`), in which language.

    The database is the source of truth; the scheduler is rebuilt from these rows. A Teams
    schedule posts proactively to the conversation `channel_id`, or to `webhook_url` (a Teams
    Workflows URL: a secret, never logged or shown in full) when one is set.
    """

    __tablename__ = "digest_schedules"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "platform", "channel_id"),
        sa.CheckConstraint("cadence in ('weekly', 'monthly')", name="cadence_known"),
        sa.CheckConstraint("hour between 0 and 23 and minute between 0 and 59",
                           name="time_of_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    platform: Mapped[str] = mapped_column(sa.String(16))  # slack | teams
    channel_id: Mapped[str] = mapped_column(sa.String(80))
    channel_name: Mapped[str | None] = mapped_column(sa.String(200))
    cadence: Mapped[str] = mapped_column(sa.String(8), default="weekly")
    # weekly: 0=Mon..6=Sun; monthly: 1..28, or -1 = last day
    day: Mapped[int] = mapped_column(default=0)
    hour: Mapped[int] = mapped_column(default=9)
    minute: Mapped[int] = mapped_column(default=0)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    owner_id: Mapped[str] = mapped_column(sa.String(80))
    enabled: Mapped[bool] = mapped_column(default=True)
    webhook_url: Mapped[str | None] = mapped_column(sa.String(2000))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

    @property
    def where(self) -> str:
        """The channel as people name it: `#sales` in Slack, the name in Teams, else its id."""
        if not self.channel_name:
            return self.channel_id
        return f"#{self.channel_name}" if self.platform == "slack" else self.channel_name

    def answers_to(self, channel: str) -> bool:
        """Whether `channel` (an id, `sales` or `#sales`, any case) names this channel."""
        wanted = channel.strip()
        name = wanted.removeprefix("#").casefold()
        return wanted == self.channel_id or bool(
            self.channel_name and name == self.channel_name.casefold())


class DigestDelivery(Table):
    """The delivery ledger: one row per (schedule, slot), claimed before anything is posted.

    `slot_at` is the scheduled UTC instant (for `/kpi digest now`, the instant it was asked).
    status: claimed (a process holds the lease until `lease_expires_at`) | sent | failed |
    skipped (missed beyond the grace window). A claim whose lease expired may be taken over.
    `attempts` is raised before each post, so a claim left with attempts > 0 may have reached
    the channel: it is looked up there before posting again. `claimed_at` is the first claim
    (kept on take-over: the lower bound of that look-up); `note` says what recovery found.
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("schedule_id", "slot_at"),
        sa.Index("ix_digest_deliveries_workspace", "workspace_id", "slot_at"),
        sa.Index("ix_digest_deliveries_status", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("digest_schedules.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = _workspace_id()
    slot_at: Mapped[datetime] = _ts()
    # scheduled | catch-up | manual
    trigger: Mapped[str] = mapped_column(sa.String(16), default="scheduled")
    status: Mapped[str] = mapped_column(sa.String(16), default="claimed")
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(120))
    claimed_at: Mapped[datetime] = _ts()
    lease_expires_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()
    error: Mapped[str | None] = mapped_column(sa.String(500))
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class TeamsConversation(Table):
    """A Teams conversation the bot may post to proactively (stored on install / first message).

    `conversation_key` is the lookup key a command's channel id carries (<= 80 characters).
    """

    __tablename__ = "teams_conversations"
    __table_args__ = (
        sa.Index("ix_teams_conversations_user", "workspace_id", "user_id"),
    )

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    conversation_key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(sa.String(400))
    service_url: Mapped[str] = mapped_column(sa.String(400))
    bot_id: Mapped[str] = mapped_column(sa.String(120))
    tenant_id: Mapped[str] = mapped_column(sa.String(80))
    conversation_type: Mapped[str | None] = mapped_column(sa.String(16))
    bot_name: Mapped[str | None] = mapped_column(sa.String(200))
    team_id: Mapped[str | None] = mapped_column(sa.String(400))
    conversation_name: Mapped[str | None] = mapped_column(sa.String(200))
    user_id: Mapped[str | None] = mapped_column(sa.String(120))
    channel_id: Mapped[str] = mapped_column(sa.String(40), default="msteams")
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    updated_at: Mapped[datetime] = _ts()


class ApiToken(Table):
    """A per-workspace token of the events API (storage/api_tokens.py). Only a keyed hash of the
    token is kept; `token_id` is its public lookup part. Revoked tokens stay, for the record."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.UniqueConstraint("token_id"),
        # one live token per name and workspace; a revoked name may be used again
        partial_index("ix_api_tokens_live_name", "workspace_id", "name", unique=True,
                      where="revoked_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[str] = _workspace_id()
    name: Mapped[str] = mapped_column(sa.String(80))
    token_id: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64))  # hex HMAC-SHA256 of the whole token
    created_at: Mapped[datetime] = _ts()
    last_used_at: Mapped[datetime | None] = _ts()
    revoked_at: Mapped[datetime | None] = _ts()


class CrmSync(Table):
    """A workspace's sync with a CRM (storage/crm_sync.py): where the next run resumes, what
    the last run did, the workspace's stage and source mappings, and the lease that lets one
    process at a time run it. Cursor: the CRM's last-modified time of the last deal stored."""

    __tablename__ = "crm_syncs"

    workspace_id: Mapped[str] = _workspace_id(primary_key=True)
    crm: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # hubspot
    cursor_at: Mapped[datetime | None] = _ts()
    stage_map: Mapped[str | None] = mapped_column(sa.String(4000))  # JSON: CRM label → stage
    source_map: Mapped[str | None] = mapped_column(sa.String(4000))  # JSON: label → group
    # never | running | ok | failed
    status: Mapped[str] = mapped_column(sa.String(16), default="never")
    started_at: Mapped[datetime | None] = _ts()
    finished_at: Mapped[datetime | None] = _ts()
    error: Mapped[str | None] = mapped_column(sa.String(500))
    deals_read: Mapped[int] = mapped_column(default=0)
    events_added: Mapped[int] = mapped_column(default=0)
    events_voided: Mapped[int] = mapped_column(default=0)
    deals_left_out: Mapped[int] = mapped_column(default=0)
    unmapped: Mapped[str | None] = mapped_column(sa.String(2000))  # what the last run could not map
    lease_owner: Mapped[str | None] = mapped_column(sa.String(120))
    lease_expires_at: Mapped[datetime | None] = _ts()

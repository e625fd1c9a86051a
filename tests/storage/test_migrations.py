"""Alembic: upgrade from empty works and `alembic check` is clean, on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from storage import migrate


def test_upgrade_from_empty_then_check_is_clean(database_url):
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in sa.inspect(connection).get_table_names():
                connection.exec_driver_sql(f'DROP TABLE "{table}"')
        else:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.is_at_head(database_url)
    migrate.check(database_url)  # raises when models and migrations disagree
    tables = set(sa.inspect(sa.create_engine(database_url)).get_table_names())
    assert {"workspaces", "users", "events", "deals", "daily_rollups", "accounts",
            "quota_changes"} <= tables


def test_upgrading_a_0001_history_backfills_its_accounts(database_url):
    """Accounts of events recorded before 0002 equal those kept live by storage.accounts."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import select

    from storage.engine import Database
    from storage.event_queries import find_by_idempotency_key
    from storage.models import Account
    from storage.recording import NewEvent, record_events, void_event
    from storage.workspaces import ensure_workspace

    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 10, tzinfo=UTC)

    def new(key: str, kind: str, when: datetime, **fields) -> NewEvent:
        return NewEvent(kind=kind, user_id="U1", logged_by="U1", occurred_at=when,
                        idempotency_key=key, **fields)

    history = [
        new("1", "deal-won", at(8, 1), deal_key="acme", deal_name="Acme", amount_minor=1,
            mrr_minor=1_000),
        new("2", "mrr-change", at(8, 15), account_key="acme", amount_minor=250),
        new("3", "deal-won", at(9, 1), deal_key="beta-1", account_key="beta", amount_minor=1,
            mrr_minor=2_000),
        new("4", "churned", at(10, 1), deal_key="beta"),
        new("5", "deal-won", at(9, 2), deal_key="gamma", amount_minor=1, mrr_minor=700),
        new("6", "churned", at(9, 20), deal_key="gamma", mrr_minor=500),
        new("7", "deal-won", at(11, 1), deal_key="gamma", amount_minor=1, mrr_minor=900),
        new("8", "churned", at(11, 2), deal_key="acme"),  # voided below
        new("9", "mrr-change", at(11, 3), deal_key="delta", amount_minor=-40),
    ]
    database = Database.from_url(database_url)
    try:
        with database.write() as s:
            workspace = ensure_workspace(session=s, workspace_id="slack:TMIG", platform="slack",
                                         now=at(7, 1))
            record_events(session=s, workspace=workspace, new_events=history, now=at(11, 5))
            event = find_by_idempotency_key(session=s, workspace_id="slack:TMIG", key="8")
            void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1",
                       now=at(11, 5))

        def accounts() -> list[tuple]:
            with database.read() as s:
                return [(a.workspace_id, a.key, a.name, a.customer_since, a.churned_at,
                         a.churned_mrr_minor, a.mrr_minor)
                        for a in s.scalars(select(Account).order_by(Account.key))]

        live = accounts()
        assert [row[1] for row in live] == ["acme", "beta", "delta", "gamma"]
        database.engine.dispose()
        command.downgrade(migrate.alembic_config(database_url), "0001")
        migrate.upgrade(database_url)
        assert accounts() == live
    finally:
        database.dispose()


def test_0008_keeps_existing_quotas_in_force_from_the_beginning(database_url):
    """Quotas stored before effective dates (0007) become changes in force from the beginning:
    every past period keeps its target. Going down keeps the change set last per rep/metric."""
    from datetime import UTC, date, datetime

    from alembic import command

    from storage.engine import Database
    from storage.quotas import list_quotas, set_quota
    from storage.workspaces import ensure_workspace

    set_at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    database = Database.from_url(database_url)
    try:
        with database.write() as s:
            ensure_workspace(session=s, workspace_id="slack:TQM", platform="slack", now=set_at)
        database.engine.dispose()
        command.downgrade(migrate.alembic_config(database_url), "0007")
        with database.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO quotas (workspace_id, user_id, metric, cadence, target, set_by, "
                "set_at) VALUES ('slack:TQM', 'U1', 'revenue', 'monthly', 3100000, 'UADMIN', "
                ":at), ('slack:TQM', 'U2', 'demo-booked', 'quarterly', 12, 'UADMIN', :at)"),
                {"at": set_at.replace(tzinfo=None) if connection.dialect.name == "sqlite"
                 else set_at})
        database.engine.dispose()
        migrate.upgrade(database_url)
        with database.read() as s:
            kept = [(q.user_id, q.metric, q.cadence, q.target, q.effective_from, q.set_at)
                    for q in list_quotas(session=s, workspace_id="slack:TQM")]
        assert kept == [("U1", "revenue", "monthly", 3_100_000, None, set_at),
                        ("U2", "demo-booked", "quarterly", 12, None, set_at)]
        with database.write() as s:
            set_quota(session=s, workspace_id="slack:TQM", user_id="U1", metric="revenue",
                      cadence="monthly", target=4_000_000, set_by="UADMIN",
                      now=datetime(2026, 12, 5, 9, tzinfo=UTC))
        with database.read() as s:
            assert [(q.target, q.effective_from) for q in list_quotas(
                session=s, workspace_id="slack:TQM", user_id="U1")] == [
                (3_100_000, None), (4_000_000, date(2026, 12, 1))]
        database.engine.dispose()
        command.downgrade(migrate.alembic_config(database_url), "0007")
        with database.engine.begin() as connection:
            down = connection.execute(sa.text(
                "SELECT user_id, target FROM quotas ORDER BY user_id")).all()
        assert [tuple(row) for row in down] == [("U1", 4_000_000), ("U2", 12)]
        database.engine.dispose()
        migrate.upgrade(database_url)
    finally:
        database.dispose()


def test_api_tokens_migration_goes_down_and_up(database_url):
    """0012 (api_tokens) downgrades to 0007 and upgrades again, keeping `alembic check` clean."""
    from alembic import command

    def inspected(what):
        engine = sa.create_engine(database_url)  # a fresh engine: no schema cached
        try:
            return what(sa.inspect(engine))
        finally:
            engine.dispose()

    migrate.upgrade(database_url)
    assert "api_tokens" in inspected(lambda i: i.get_table_names())
    command.downgrade(migrate.alembic_config(database_url), "0007")
    assert "api_tokens" not in inspected(lambda i: i.get_table_names())
    migrate.upgrade(database_url)
    indexes = inspected(lambda i: {x["name"]: x for x in i.get_indexes("api_tokens")})
    assert indexes["ix_api_tokens_live_name"]["unique"]
    migrate.check(database_url)


def test_upgrading_to_0011_rederives_deals_stored_by_the_old_day_order(database_url):
    """A deal the old order reopened (a date-only lead at local noon after a 02:00 win) is won
    again after the upgrade, with its account a customer (SPEC 5 "Time of a dated record")."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import select

    from storage.engine import Database
    from storage.models import Account, Deal
    from storage.recording import NewEvent, record_events
    from storage.workspaces import ensure_workspace

    won_at = datetime(2026, 5, 5, 0, 10, tzinfo=UTC)  # 02:10 in Oslo
    history = [
        NewEvent(kind="deal-won", user_id="U1", logged_by="U1", occurred_at=won_at,
                 idempotency_key="1", deal_key="acme", deal_name="Acme", amount_minor=900),
        NewEvent(kind="lead", user_id="rep:unassigned", logged_by="import",
                 occurred_at=datetime(2026, 5, 5, 10, tzinfo=UTC), idempotency_key="2",
                 deal_key="acme", source="organic"),
    ]
    database = Database.from_url(database_url)
    try:
        with database.write() as s:
            workspace = ensure_workspace(session=s, workspace_id="slack:TMIG11",
                                         platform="slack", timezone="Europe/Oslo",
                                         now=datetime(2026, 5, 1, tzinfo=UTC))
            record_events(session=s, workspace=workspace, new_events=history,
                          now=datetime(2026, 5, 6, tzinfo=UTC))
        with database.write() as s:  # what the old order stored
            deal = s.scalars(select(Deal).where(Deal.key == "acme")).one()
            deal.outcome, deal.stage, deal.won_at, deal.closed_at = "open", "lead", None, None
            deal.amount_minor = deal.currency = None
            s.add(deal)
            s.delete(s.scalars(select(Account).where(Account.key == "acme")).one())
        database.engine.dispose()
        command.downgrade(migrate.alembic_config(database_url), "0007")
        migrate.upgrade(database_url)
        with database.read() as s:
            deal = s.scalars(select(Deal).where(Deal.key == "acme")).one()
            assert (deal.outcome, deal.stage, deal.won_at, deal.amount_minor, deal.owner_id) \
                == ("won", "won", won_at, 900, "U1")
            account = s.scalars(select(Account).where(Account.key == "acme")).one()
            assert account.customer_since == won_at
    finally:
        database.dispose()


def test_the_newest_revision_read_from_the_files_is_alembics():
    assert migrate.head_from_files() is not None
    assert migrate.head_from_files() == migrate.head()


def test_files_that_are_not_a_straight_line_are_left_to_alembic(tmp_path, monkeypatch):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')  # a second head
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    assert migrate.head_from_files() is None
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ("a", "b")\n')  # a merge
    assert migrate.head_from_files() is None
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "b"\n')
    assert migrate.head_from_files() == "c"


def test_only_the_newest_revision_is_at_head(database_url):
    assert migrate.is_at_head(database_url)
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        assert not migrate.is_at_head(database_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
        assert not migrate.is_at_head(database_url)
    finally:
        engine.dispose()


def test_0019_adds_the_histograms_month_index_and_takes_it_away(database_url):
    """ix_deal_duration_counts_month (a short period's histogram months) comes with 0019 and
    goes with its downgrade; `alembic check` is clean at head."""
    from alembic import command

    def indexes() -> set[str]:
        engine = sa.create_engine(database_url)  # a fresh engine: no schema cached
        try:
            return {x["name"] for x in sa.inspect(engine).get_indexes("deal_duration_counts")}
        finally:
            engine.dispose()

    migrate.upgrade(database_url)
    assert "ix_deal_duration_counts_month" in indexes()
    command.downgrade(migrate.alembic_config(database_url), "0018")
    assert "ix_deal_duration_counts_month" not in indexes()
    migrate.upgrade(database_url)
    assert "ix_deal_duration_counts_month" in indexes()
    migrate.check(database_url)


def test_0020_puts_customer_since_into_the_churn_index_and_takes_it_out(database_url):
    """ix_accounts_churned holds (workspace_id, churned_at, customer_since) from 0020 on (the
    customers at an instant are index-only counts), and its two columns again after the
    downgrade; `alembic check` is clean at head."""
    from alembic import command

    def columns() -> list[str]:
        engine = sa.create_engine(database_url)  # a fresh engine: no schema cached
        try:
            return next(x["column_names"] for x in sa.inspect(engine).get_indexes("accounts")
                        if x["name"] == "ix_accounts_churned")
        finally:
            engine.dispose()

    migrate.upgrade(database_url)
    assert columns() == ["workspace_id", "churned_at", "customer_since"]
    command.downgrade(migrate.alembic_config(database_url), "0019")
    assert columns() == ["workspace_id", "churned_at"]
    migrate.upgrade(database_url)
    assert columns() == ["workspace_id", "churned_at", "customer_since"]
    migrate.check(database_url)

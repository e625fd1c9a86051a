"""open_deal_stages always equals the open deals counted from `deals`, whatever wrote them:
chat logs, wins, losses, reopenings, undo, an import (the bulk path), a rep link, and the
migration that fills it for an existing database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from storage import migrate
from storage.events import (
    Deferred,
    NewEvent,
    apply_deferred,
    ensure_user,
    ensure_workspace,
    record_event,
    record_events,
    void_event,
)
from storage.models import Deal, OpenDealStage, Workspace
from storage.reps import link_rep

WS = "slack:TOPEN"
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _expected(session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        sa.select(Deal.owner_id, Deal.stage, sa.func.count())
        .where(Deal.workspace_id == WS, Deal.outcome == "open", Deal.stage.is_not(None))
        .group_by(Deal.owner_id, Deal.stage))
    counts: dict[tuple[str, str], int] = {}
    for owner, stage, n in rows:
        counts[(owner or "", stage)] = counts.get((owner or "", stage), 0) + n
    return counts


def _counted(session) -> dict[tuple[str, str], int]:
    rows = session.execute(sa.select(OpenDealStage.owner_id, OpenDealStage.stage,
                                     OpenDealStage.deals).where(OpenDealStage.workspace_id == WS))
    return {(owner, stage): n for owner, stage, n in rows if n}


def _assert_in_step(database) -> dict[tuple[str, str], int]:
    with database.read() as session:
        expected = _expected(session)
        assert _counted(session) == expected
        return expected


def _new(kind: str, deal: str, at: datetime, user: str = "U1", **more) -> NewEvent:
    return NewEvent(kind=kind, user_id=user, logged_by=user, occurred_at=at, deal_key=deal,
                    idempotency_key=str(uuid.uuid4()), **more)


def _log(database, kind: str, deal: str, at: datetime, user: str = "U1", **more) -> int:
    with database.write() as session:
        ws = session.get(Workspace, WS)
        return record_event(session=session, workspace=ws,
                            new=_new(kind, deal, at, user, **more)).event.id


def _setup(database) -> None:
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WS, platform="slack")
        for user in ("U1", "U2"):
            ensure_user(session=session, workspace_id=WS, user_id=user)


def test_every_write_path_keeps_the_counts(database):
    _setup(database)
    day = timedelta(days=1)
    _log(database, "lead", "acme", NOW - 9 * day)
    _log(database, "lead", "globex", NOW - 9 * day, user="U2")
    _log(database, "mql", "acme", NOW - 8 * day)
    assert _assert_in_step(database) == {("U1", "mql"): 1, ("U2", "lead"): 1}

    _log(database, "deal-won", "acme", NOW - 7 * day, amount_minor=100_00, currency="USD")
    _log(database, "deal-lost", "globex", NOW - 7 * day, user="U2", reason="price")
    assert _assert_in_step(database) == {}

    _log(database, "demo-booked", "globex", NOW - 6 * day, user="U2")  # reopened
    only = _log(database, "lead", "hooli", NOW - 5 * day)
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("U1", "lead"): 1}

    with database.write() as session:  # undo of the only event: the deal goes away
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=only,
                   voided_by="U1", now=NOW)
    assert _assert_in_step(database) == {("U2", "demo"): 1}

    # An import: the bulk path, deals refreshed once at the end.
    with database.write() as session:
        ensure_user(session=session, workspace_id=WS, user_id="rep:jane-doe")
        ws = session.get(Workspace, WS)
        deferred = Deferred()
        events = [_new("lead", f"imp-{i}", NOW - 30 * day, user="rep:jane-doe")
                  for i in range(40)]
        events += [_new("sql", f"imp-{i}", NOW - 20 * day, user="rep:jane-doe")
                   for i in range(0, 40, 2)]
        events += [_new("sql", "globex", NOW - 4 * day, user="U2")]  # an existing deal
        assert record_events(session=session, workspace=ws, new_events=events,
                             defer=deferred) == len(events)
        apply_deferred(session=session, workspace=ws, deferred=deferred)
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("rep:jane-doe", "lead"): 20,
                                         ("rep:jane-doe", "sql"): 20}

    with database.write() as session:  # the named rep's deals move to U1
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U1")
    assert _assert_in_step(database) == {("U2", "demo"): 1, ("U1", "lead"): 20,
                                         ("U1", "sql"): 20}


def test_the_migration_fills_it_from_existing_deals(database, database_url):
    from alembic import command

    _setup(database)
    for i in range(7):
        _log(database, "lead", f"old-{i}", NOW - timedelta(days=3), user=f"U{1 + i % 2}")
    _log(database, "mql", "old-0", NOW - timedelta(days=2))
    expected = _assert_in_step(database)
    database.engine.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0005")
    migrate.upgrade(database_url)
    with database.read() as session:
        assert _counted(session) == expected == {("U1", "lead"): 3, ("U1", "mql"): 1,
                                                 ("U2", "lead"): 3}

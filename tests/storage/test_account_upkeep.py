"""Recording an event rewrites accounts only when something an account reads changed (a won
deal's account, time, MRR or name; a churn or MRR event), and the accounts are then exactly
what a rewrite of every account from scratch gives."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from storage.accounts import refresh_accounts
from storage.models import Account, Deal, Event
from storage.recording import NewEvent, record_event, void_event
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TACC"

# (kind, deal, account, extra): stage changes on open deals, wins and a second win, a
# reopen, a loss, churn and MRR changes, an account named apart from its deal.
STEPS = [
    ("mql", "acme", None, {}),
    ("demo-booked", "acme", None, {}),
    ("deal-won", "acme", None, {"amount_minor": 500_000, "currency": "USD",
                                "mrr_minor": 40_000}),
    ("meeting-booked", "acme", None, {}),
    ("mql", "globex", "initech", {}),
    ("deal-won", "globex", "initech", {"mrr_minor": 10_000, "currency": "USD"}),
    ("mrr-change", None, "initech", {"amount_minor": 2_500, "currency": "USD"}),
    ("demo-booked", "globex", "initech", {}),
    ("deal-won", "acme", None, {"amount_minor": 600_000, "currency": "USD",
                                "mrr_minor": 45_000}),
    ("churned", None, "acme", {}),
    ("demo-booked", "umbrella", None, {}),
    ("deal-lost", "umbrella", None, {"reason": "price"}),
    ("call", None, None, {"count": 2}),
]


def _accounts(session) -> list[tuple]:
    return [(a.key, a.name, a.customer_since, a.churned_at, a.churned_mrr_minor, a.mrr_minor)
            for a in session.scalars(select(Account).where(Account.workspace_id == WORKSPACE)
                                  .order_by(Account.key))]


def _all_rewritten(database) -> list[tuple]:
    """The accounts after rewriting every one from its deals and events (rolled back)."""
    with database.engine.connect() as connection, connection.begin() as transaction:
        from sqlalchemy.orm import Session

        with Session(bind=connection) as session:
            keys = {k for (k,) in session.execute(sa.select(Deal.account_key).where(
                Deal.workspace_id == WORKSPACE)) if k}
            keys |= {k for (k,) in session.execute(sa.select(Event.account_key).where(
                Event.workspace_id == WORKSPACE)) if k}
            keys |= {a for (a,) in session.execute(sa.select(Account.key).where(
                Account.workspace_id == WORKSPACE))}
            refresh_accounts(session=session, workspace_id=WORKSPACE, account_keys=sorted(keys))
            result = _accounts(session)
        transaction.rollback()
    return result


def test_accounts_after_each_event_equal_a_full_rewrite(database):
    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack",
                                     now=NOW)
    ids = []
    for step, (kind, deal, account, extra) in enumerate(STEPS):
        at = NOW + timedelta(hours=step)
        with database.write() as session:
            recorded = record_event(session=session, workspace=workspace, new=NewEvent(
                kind=kind, user_id="U1", logged_by="U1", occurred_at=at,
                idempotency_key=f"acc-{step}", deal_key=deal, deal_name=deal,
                account_key=account, **extra), now=at)
            ids.append(recorded.event.id)
        with database.read() as session:
            assert _accounts(session) == _all_rewritten(database), (step, kind, deal)
    with database.read() as session:
        by_key = {row[0]: row for row in _accounts(session)}
    assert by_key["acme"][3] is not None  # churned
    assert by_key["initech"][5] == 12_500  # the win's MRR and the change
    for event_id in itertools.islice(reversed(ids), 0, None, 3):  # undo some, newest first
        with database.write() as session:
            void_event(session=session, workspace=workspace, event_id=event_id,
                       voided_by="U1", now=NOW + timedelta(days=1))
        with database.read() as session:
            assert _accounts(session) == _all_rewritten(database), event_id


def test_a_stage_change_on_an_open_deal_leaves_accounts_alone(database):
    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack",
                                     now=NOW)
        record_event(session=session, workspace=workspace, new=NewEvent(
            kind="mql", user_id="U1", logged_by="U1", occurred_at=NOW,
            idempotency_key="open-1", deal_key="hooli", deal_name="hooli"), now=NOW)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.write() as session:
            record_event(session=session, workspace=workspace, new=NewEvent(
                kind="demo-booked", user_id="U1", logged_by="U1", occurred_at=NOW,
                idempotency_key="open-2", deal_key="hooli", deal_name="hooli"), now=NOW)
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    assert not any("accounts" in s for s in statements), statements
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == WORKSPACE)).one()
    assert deal.demo_at is not None and deal.outcome == "open"

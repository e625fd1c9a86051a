"""deal_counts (migration 0015, storage/deal_counts.py), on SQLite and PostgreSQL.

- The table always equals a recomputation from `deals`, whatever wrote them: chat logs of
  every stage, wins and losses (won → lost, amounts changed), undo, a CSV import (the bulk
  path), a deal re-derive, a rep link (owner change), SQL written by hand, deletes (the
  triggers keep it, not the code), and the migration that fills it for an existing database.
- A period reads UTC months of the table and at most about half a month of deals at each
  edge; whole months come from the table. (The facts against a count over the deals:
  test_deal_counts_facts.py.)
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from reports.events import Stage
from storage import deal_counts, migrate
from storage.deals import refresh_deals
from storage.facts import SqlFacts
from storage.models import Deal, DealCount, Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.reps import link_rep
from storage.workspaces import ensure_user, ensure_workspace
from tests.storage.deal_tables import import_rows, trigger_names

WS = "slack:TCOUNTS"
OTHER = "slack:TOTHERCOUNTS"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SUMS = ("deals", "to_lead", "to_mql", "to_sql", "to_opportunity", "to_demo", "to_won",
        "to_lost", "amount_sum", "no_amount", "mrr_sum")
STAGES = ("lead", "mql", "sql", "opportunity", "demo")


def _contributions(deal: Deal) -> list[tuple[tuple, tuple[int, ...]]]:
    """What one deal adds to deal_counts, computed here in Python from the model's
    definition (storage/models.py DealCount)."""
    values = (1, *(int(getattr(deal, f"{s}_at") is not None) for s in STAGES),
              int(deal.outcome == "won"), int(deal.outcome == "lost"),
              deal.amount_minor or 0, int(deal.amount_minor is None), deal.mrr_minor or 0)
    owner, source = deal.owner_id or "", deal.source or ""
    found = []
    for stage in STAGES:
        at = getattr(deal, f"{stage}_at")
        if at is not None:
            found.append((stage, at, owner, source, "", ""))
    if deal.outcome == "won" and deal.closed_at is not None:
        found.append(("won", deal.closed_at, owner, source, "", ""))
    if deal.outcome == "lost" and deal.closed_at is not None:
        found.append(("lost", deal.closed_at, owner, "", deal.reason or "",
                      deal.competitor or ""))
    team = [(f"team:{milestone}", at, "", "", reason, competitor)
            for milestone, at, _owner, _source, reason, competitor in found]
    return [((deal.workspace_id, milestone, date(at.year, at.month, 1), *rest), values)
            for milestone, at, *rest in found + team]


def _recomputed(session) -> dict[tuple, tuple[int, ...]]:
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(SUMS))
    for deal in session.scalars(select(Deal)):
        for key, values in _contributions(deal):
            for i, value in enumerate(values):
                totals[key][i] += value
    return {key: tuple(v) for key, v in totals.items()}


def _stored(session) -> dict[tuple, tuple[int, ...]]:
    table = DealCount.__table__.c
    rows = session.execute(sa.select(
        table.workspace_id, table.milestone, table.month, table.owner_id, table.source,
        table.reason, table.competitor, *(table[s] for s in SUMS))).all()
    assert all(row[7] >= 0 for row in rows), rows
    return {tuple(row[:7]): tuple(row[7:]) for row in rows if any(row[7:])}


def _assert_in_step(database, step: str) -> dict[tuple, tuple[int, ...]]:
    with database.read() as session:
        expected = _recomputed(session)
        assert _stored(session) == expected, step
    return expected


def _setup(database) -> None:
    with database.write() as session:
        for workspace in (WS, OTHER):
            ensure_workspace(session=session, workspace_id=workspace, platform="slack",
                             timezone="Asia/Kolkata", now=NOW - 400 * DAY)
            for user in ("U1", "U2"):
                ensure_user(session=session, workspace_id=workspace, user_id=user)


def _log(database, kind: str, deal: str, at: datetime, user: str = "U1", **more) -> int:
    with database.write() as session:
        ws = session.get(Workspace, WS)
        new = NewEvent(kind=kind, user_id=user, logged_by=user, occurred_at=at, deal_key=deal,
                       idempotency_key=str(uuid.uuid4()), **more)
        return record_event(session=session, workspace=ws, new=new, now=NOW).event.id


def _undo(database, event_id: int) -> None:
    with database.write() as session:
        void_event(session=session, workspace=session.get(Workspace, WS), event_id=event_id,
                   voided_by="U1", now=NOW)




def _month_edge(year: int, month: int, seconds: int = 0) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def test_every_write_path_keeps_deal_counts(database, tmp_path):
    _setup(database)
    _log(database, "lead", "acme", _month_edge(2026, 3, -1), source="web")  # 28 Feb 23:59:59
    _log(database, "mql", "acme", _month_edge(2026, 3))
    _log(database, "sql", "acme", _month_edge(2026, 3, 60))
    _log(database, "opportunity", "acme", _month_edge(2026, 4, 7))
    _log(database, "demo-booked", "acme", _month_edge(2026, 4, 3600))
    _log(database, "lead", "globex", _month_edge(2026, 3, 5), user="U2")
    won = _log(database, "deal-won", "acme", _month_edge(2026, 5, -10), amount_minor=120_00,
               currency="USD", mrr_minor=10_00)
    _log(database, "deal-won", "globex", _month_edge(2026, 5, 10), user="U2")  # no amount
    lost = _log(database, "deal-lost", "initech", _month_edge(2026, 6), user="U2",
                reason="price", competitor="rival")
    _log(database, "deal-lost", "hooli", _month_edge(2026, 6, 9), reason="price")
    counts = _assert_in_step(database, "log")
    assert counts[(WS, "won", date(2026, 4, 1), "U1", "web", "", "")] == (
        1, 1, 1, 1, 1, 1, 1, 0, 120_00, 0, 10_00)
    assert counts[(WS, "lost", date(2026, 6, 1), "U2", "", "price", "rival")][0] == 1

    _log(database, "deal-won", "acme", _month_edge(2026, 5, 20), amount_minor=150_00,
         currency="USD")  # a second win: amount and month change
    _assert_in_step(database, "amount change")
    _log(database, "deal-lost", "acme", _month_edge(2026, 5, 30), reason="budget")  # won → lost
    assert (WS, "lost", date(2026, 5, 1), "U1", "", "budget", "") in _assert_in_step(
        database, "won to lost")
    _undo(database, won)
    _undo(database, lost)  # initech's only event: the deal is deleted
    assert not any(key[1] == "lost" and key[3] == "U2" and key[5] == "price"
                   for key in _assert_in_step(database, "undo"))

    rows = [f"2026-07-{1 + i % 28:02d},lead,,,,imp-{i},,Jane Doe,referral,," for i in range(30)]
    rows += [f"2026-08-01,mql,,,,imp-{i},,Jane Doe,,," for i in range(0, 30, 3)]
    rows += ["2026-08-02,deal-won,,250,USD,imp-1,,Jane Doe,,,",
             "2026-08-03,deal-lost,,,,imp-2,,Jane Doe,,too expensive,",
             "2026-08-04,sql,,,,globex,,U2,,,"]
    import_rows(database, tmp_path, rows, workspace_id=WS, now=NOW)
    _assert_in_step(database, "import")

    with database.write() as session:  # re-derive every deal from its events
        keys = list(session.execute(sa.select(Deal.key).where(Deal.workspace_id == WS))
                    .scalars())
        refresh_deals(session=session, workspace_id=WS, deal_keys=keys, now=NOW)
    _assert_in_step(database, "re-derive")

    with database.write() as session:  # the named rep's deals move to U1 (owner changes)
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U1", now=NOW)
    counts = _assert_in_step(database, "rep link")
    assert not any(key[3] == "rep:jane-doe" for key in counts)
    assert counts[(WS, "lead", date(2026, 7, 1), "U1", "referral", "", "")][0] == 30


def _deal(key: str, *, workspace: str = WS, owner: str | None = "U1", **more) -> dict:
    row = {"workspace_id": workspace, "key": key, "name": key, "owner_id": owner,
           "outcome": "open", "stage": "lead", "updated_at": NOW, "source": None,
           "closed_at": None, "won_at": None, "lost_at": None, "amount_minor": None,
           "mrr_minor": None, "reason": None, "competitor": None,
           **{f"{stage}_at": None for stage in STAGES}}
    row.update(more)
    return row


def test_sql_written_by_hand_keeps_deal_counts(database):
    """The triggers count every write to `deals`, not only storage.deals'."""
    _setup(database)
    deals = Deal.__table__
    at = _month_edge(2026, 2, 3600)

    def change(statement) -> None:
        with database.write() as session:
            session.execute(statement)
        _assert_in_step(database, str(statement))

    change(sa.insert(deals).values([
        _deal("a", lead_at=at, source="web"), _deal("b", owner=None, lead_at=at, mql_at=at),
        _deal("c", outcome="won", stage="won", lead_at=at, closed_at=at, won_at=at,
              amount_minor=5_00, mrr_minor=1_00),
        _deal("d", outcome="lost", stage="lost", closed_at=at, lost_at=at, reason="price",
              competitor="rival"),
        _deal("e", stage=None), _deal("f", workspace=OTHER, lead_at=at)]))
    by_key = deals.c.key
    later = at + 40 * DAY
    for key, values in [
            ("a", {"mql_at": later, "sql_at": later}), ("a", {"lead_at": later}),
            ("b", {"owner_id": "U2"}), ("b", {"source": "referral"}),
            ("c", {"amount_minor": None}), ("c", {"amount_minor": 7_00, "mrr_minor": None}),
            ("c", {"outcome": "lost", "stage": "lost", "lost_at": later, "closed_at": later}),
            ("c", {"outcome": "open", "stage": "demo", "demo_at": later}),  # reopened
            ("d", {"reason": None}), ("d", {"competitor": "other-co", "owner_id": None}),
            ("d", {"closed_at": None}), ("e", {"opportunity_at": at, "demo_at": later}),
            ("f", {"workspace_id": WS, "key": "f2"})]:
        change(sa.update(deals).where(by_key == key).values(**values))
    # Columns set to what they hold, and other columns: nothing moves.
    change(sa.update(deals).values(lead_at=deals.c.lead_at, outcome=deals.c.outcome,
                                   owner_id=deals.c.owner_id, name="renamed"))
    change(sa.update(deals).where(deals.c.stage == "lead").values(
        outcome="won", stage="won", closed_at=later))
    change(sa.delete(deals).where(by_key.in_(["a", "e"])))
    change(sa.delete(deals))
    with database.read() as session:
        assert _stored(session) == {}


def test_the_triggers_exist_at_head(database):
    """SQLite drops a table's triggers with it: a migration that rebuilds `deals` must create
    them again."""
    mine = {name for name in trigger_names(database) if name.startswith("deal_counts")}
    assert mine == {"deal_counts_insert", "deal_counts_delete", "deal_counts_update"}


def test_the_migration_fills_it_from_existing_deals(database, database_url):
    from alembic import command

    _setup(database)
    _log(database, "lead", "old-0", _month_edge(2026, 1, -1), source="web")
    _log(database, "deal-won", "old-0", _month_edge(2026, 2), amount_minor=9_00,
         currency="USD")
    database.engine.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0014")
    at = _month_edge(2026, 3, 5)
    with database.write() as session:  # written at 0014: no triggers, no table
        assert not sa.inspect(session.connection()).has_table("deal_counts")
        session.execute(sa.insert(Deal.__table__).values([
            _deal("no-owner", owner=None, lead_at=at, sql_at=at, source="web"),
            _deal("other", workspace=OTHER, lead_at=at),
            _deal("lost", outcome="lost", stage="lost", closed_at=at, reason="price"),
            _deal("won", outcome="won", stage="won", closed_at=at, demo_at=at,
                  mrr_minor=3_00)]))
    database.engine.dispose()
    migrate.upgrade(database_url)
    migrate.check(database_url)
    counts = _assert_in_step(database, "backfill")
    # old-0: lead, the skipped mql..demo, won; 6 for the rest; and as many team rows
    assert len(counts) == 2 * 12
    _log(database, "mql", "old-0", _month_edge(2026, 3))  # the triggers run after it
    _assert_in_step(database, "after the backfill")


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def test_a_period_reads_utc_months_and_at_most_half_a_month_of_deals_at_each_edge():
    """An edge's partial month: the deals inside the period added, or those outside it taken
    away from the whole month, whichever span is shorter."""
    def pieces(start, end):
        params, signs = deal_counts.plan(start, end)
        return ((params["month_first"], params["month_stop"]),
                (signs[1], params["a1"], params["b1"]), (signs[2], params["a2"], params["b2"]))

    # a calendar year in New York: 5 hours taken away at the start, 5 hours added at the end
    assert pieces(_utc(2025, 1, 1, 5), _utc(2026, 1, 1, 5)) == (
        (date(2025, 1, 1), date(2026, 1, 1)), (-1, _utc(2025, 1, 1), _utc(2025, 1, 1, 5)),
        (1, _utc(2026, 1, 1), _utc(2026, 1, 1, 5)))
    # ... in Kolkata: 5 and a half hours added at the start, taken away at the end
    assert pieces(_utc(2024, 12, 31, 18, 30), _utc(2025, 12, 31, 18, 30)) == (
        (date(2025, 1, 1), date(2026, 1, 1)),
        (1, _utc(2024, 12, 31, 18, 30), _utc(2025, 1, 1)),
        (-1, _utc(2025, 12, 31, 18, 30), _utc(2026, 1, 1)))
    # this year on 5 December: the first days of December added; on the 25th, the rest of
    # December taken away
    assert pieces(_utc(2026, 1, 1), _utc(2026, 12, 5, 12)) == (
        (date(2026, 1, 1), date(2026, 12, 1)), (-1, _utc(2026, 1, 1), _utc(2026, 1, 1)),
        (1, _utc(2026, 12, 1), _utc(2026, 12, 5, 12)))
    assert pieces(_utc(2026, 1, 1), _utc(2026, 12, 25)) == (
        (date(2026, 1, 1), date(2027, 1, 1)), (-1, _utc(2026, 1, 1), _utc(2026, 1, 1)),
        (-1, _utc(2026, 12, 25), _utc(2027, 1, 1)))
    # whole UTC months: no deals
    assert pieces(_utc(2025, 2, 1), _utc(2025, 5, 1)) == (
        (date(2025, 2, 1), date(2025, 5, 1)), (-1, _utc(2025, 2, 1), _utc(2025, 2, 1)),
        (1, _utc(2025, 5, 1), _utc(2025, 5, 1)))
    # inside one month: its deals, or the month less both sides when that is shorter
    assert pieces(_utc(2025, 3, 3), _utc(2025, 3, 10)) == (
        (date(2025, 3, 1), date(2025, 3, 1)), (1, _utc(2025, 3, 3), _utc(2025, 3, 10)),
        (1, _utc(2025, 3, 10), _utc(2025, 3, 10)))
    assert pieces(_utc(2025, 3, 3), _utc(2025, 3, 30)) == (
        (date(2025, 3, 1), date(2025, 4, 1)), (-1, _utc(2025, 3, 1), _utc(2025, 3, 3)),
        (-1, _utc(2025, 3, 30), _utc(2025, 4, 1)))


def test_whole_months_are_read_from_deal_counts(database):
    """A period of whole UTC months is answered from the table, without reading the deals
    (a row written here by hand, which no deal backs, shows in the answer). Tables are never
    written by hand outside tests."""
    _setup(database)
    _log(database, "lead", "acme", _month_edge(2026, 3, 5))
    with database.write() as session:
        for milestone, owner in (("lead", "U2"), ("team:lead", "")):
            session.execute(sa.insert(DealCount.__table__).values(
                workspace_id=WS, milestone=milestone, month=date(2026, 4, 1), owner_id=owner,
                source="", reason="", competitor="", deals=5, to_lead=5, to_mql=2, to_sql=0,
                to_opportunity=0, to_demo=0, to_won=1, to_lost=0, amount_sum=0, no_amount=5,
                mrr_sum=0))
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        months = (_month_edge(2026, 3), _month_edge(2026, 5))
        assert facts.deals_reaching(Stage.LEAD, *months, by="user") == {"U1": 1, "U2": 5}
        assert facts.funnel_counts(*months)[Stage.LEAD] == (6, 2)
        # A short part of a month is read from the deals: the hand-written row is not there;
        # a long one is the month less the rest.
        assert facts.deals_reaching(Stage.LEAD, _month_edge(2026, 4, 20 * 86_400),
                                    _month_edge(2026, 5)) == {}
        assert facts.deals_reaching(Stage.LEAD, _month_edge(2026, 4, 1),
                                    _month_edge(2026, 5)) == {"all": 5}


def test_a_piece_that_spans_nothing_is_not_read(database):
    """The funnel's statement reads only the pieces that span something: no deals for a
    period of whole UTC months, no months for a period inside one month, all three for a
    New York quarter; each answers what the deals hold (a lead on each side of each edge)."""
    _setup(database)
    for at in (_month_edge(2026, 1, -1), _month_edge(2026, 1), _month_edge(2026, 1, 3_600),
               _month_edge(2026, 2, 86_400), _month_edge(2026, 4, -3_600),
               _month_edge(2026, 4, 5 * 3_600)):
        _log(database, "lead", f"deal-{at:%m%d%H%M%S}", at)
    statements: list[str] = []

    def funnel_leads(start: datetime, end: datetime) -> int:
        statements.clear()
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            sa.event.listen(database.engine, "before_cursor_execute", record)
            try:
                return facts.funnel_counts(start, end)[Stage.LEAD][0]
            finally:
                sa.event.remove(database.engine, "before_cursor_execute", record)

    def record(_conn, _cursor, statement, *_args) -> None:
        if " AS part" in statement:
            statements.append(statement)

    assert funnel_leads(_month_edge(2026, 1), _month_edge(2026, 4)) == 4  # a UTC quarter
    (counts,) = statements
    assert "FROM deal_counts" in counts and "FROM deals" not in counts
    assert funnel_leads(_month_edge(2026, 2, 3_600), _month_edge(2026, 2, 3 * 86_400)) == 1
    (counts,) = statements
    assert "FROM deals" in counts and "FROM deal_counts" not in counts
    new_york = (_month_edge(2026, 1, 5 * 3_600), _month_edge(2026, 4, 4 * 3_600))
    assert funnel_leads(*new_york) == 2
    (counts,) = statements
    assert "FROM deal_counts" in counts and counts.count("FROM deals") == 2 * 7  # per request


def _at_revision(database, database_url: str, revision: str) -> None:
    """The database moved down to `revision`, or up to head (and checked against the models)."""
    from alembic import command

    database.engine.dispose()
    if revision == "head":
        migrate.upgrade(database_url)
        migrate.check(database_url)
    else:
        command.downgrade(migrate.alembic_config(database_url), revision)


def _update_function(database) -> str:
    with database.read() as session:
        return session.execute(sa.text(
            "SELECT prosrc FROM pg_proc WHERE proname = 'deal_counts_updated'")).scalar_one()


def test_0017_skips_updates_that_move_nothing_and_goes_down_and_up(database, database_url):
    """PostgreSQL's update trigger from 0017 stops at once when an UPDATE moved no counted
    tuple (EXCEPT ALL: two deals swapping owners did move); down to 0016 and up again,
    deal_counts stays in step with its definition on both databases."""
    _setup(database)
    _log(database, "lead", "swap-a", _month_edge(2026, 1, 5), source="web")
    _log(database, "demo-booked", "swap-b", _month_edge(2026, 2, 5), user="U2")
    _log(database, "deal-won", "swap-b", _month_edge(2026, 3, 5), user="U2", amount_minor=5_00,
         currency="USD")
    deals = Deal.__table__
    for revision in ("0016", "head"):
        _at_revision(database, database_url, revision)
        if database.dialect == "postgresql":
            assert ("EXCEPT ALL" in _update_function(database)) == (revision == "head")
        with database.write() as session:  # one statement swaps two deals' owners
            owners = dict(session.execute(sa.select(deals.c.key, deals.c.owner_id).where(
                deals.c.key.in_(["swap-a", "swap-b"]))).all())
            session.execute(sa.update(deals).where(deals.c.key.in_(list(owners))).values(
                owner_id=sa.case({"swap-a": owners["swap-b"]}, value=deals.c.key,
                                 else_=owners["swap-a"])))
        _assert_in_step(database, f"owners swapped at {revision}")
        with database.write() as session:  # nothing counted moves
            session.execute(sa.update(deals).values(name=deals.c.name + "!"))
        _assert_in_step(database, f"renamed at {revision}")
        _log(database, "mql", "swap-a", _month_edge(2026, 4, 5))
        _assert_in_step(database, f"a stage at {revision}")


def _function_sources(database) -> dict[str, str]:
    with database.read() as session:
        return dict(session.execute(sa.text(
            "SELECT proname, prosrc FROM pg_proc WHERE proname IN "
            "('deal_counts_inserted', 'deal_counts_deleted', 'deal_counts_updated')")).all())


def test_0022_reads_each_row_once_and_goes_down_and_up(database, database_url):
    """PostgreSQL's trigger functions from 0022 read the transition tables once and unpivot
    each deal row's milestones (LATERAL VALUES) instead of a SELECT per milestone, 0017's
    early return kept; down to 0021 and up again, an insert, an update that moves a stage,
    one that moves nothing and a delete keep deal_counts in step on both databases (the hand
    written SQL above covers every counted column at head)."""
    _setup(database)
    _log(database, "lead", "down-a", _month_edge(2026, 1, 5), source="web")
    deals = Deal.__table__
    for revision in ("0021", "head"):
        _at_revision(database, database_url, revision)
        if database.dialect == "postgresql":
            sources = _function_sources(database)
            assert len(sources) == 3
            assert all(("LATERAL (VALUES" in source) == (revision == "head")
                       for source in sources.values()), sources
            assert "EXCEPT ALL" in sources["deal_counts_updated"]
        _log(database, "mql", f"new-{revision}", _month_edge(2026, 2, 5))
        _assert_in_step(database, f"a deal added at {revision}")
        _log(database, "demo-booked", "down-a", _month_edge(2026, 3, 5), user="U2")
        _assert_in_step(database, f"a stage at {revision}")
        with database.write() as session:  # nothing counted moves
            session.execute(sa.update(deals).values(name=deals.c.name + "!"))
        _assert_in_step(database, f"renamed at {revision}")
        with database.write() as session:
            session.execute(sa.delete(deals).where(deals.c.key == f"new-{revision}"))
        _assert_in_step(database, f"a deal deleted at {revision}")

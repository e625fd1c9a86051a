"""deal_counts (migration 0015, storage/deal_counts.py), on SQLite and PostgreSQL.

- The table always equals a recomputation from `deals`, whatever wrote them: chat logs of
  every stage, wins and losses (won → lost, amounts changed), undo, a CSV import (the bulk
  path), a deal re-derive, a rep link (owner change), SQL written by hand, deletes (the
  triggers keep it, not the code), and the migration that fills it for an existing database.
- The deal facts (deals reaching a stage, cohorts, closed deals, wins without an amount, losses,
  the funnel's counts, the won deals' MRR in `mrr_at`), read from whole UTC months of the
  table and the edge months of `deals`, equal a direct count over the deals for periods in
  several zones (half- and quarter-hour offsets, DST changes, month edges), in total, per rep
  and per source.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from reports.events import STAGE_ORDER, Stage
from storage import deal_counts, migrate
from storage.deals import refresh_deals
from storage.facts import SqlFacts
from storage.models import Deal, DealCount, Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.reps import link_rep
from storage.workspaces import ensure_user, ensure_workspace

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
    for deal in session.exec(select(Deal)):
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


def _import(database, tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "import.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n" + "".join(f"{r}\n" for r in rows),
                    encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW,
                        options=ImportOptions(workspace_id=WS))
    assert result.problems == [] and result.stored, result.problems


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
    _import(database, tmp_path, rows)
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
    with database.read() as session:
        if database.dialect == "sqlite":
            names = session.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'deals' AND name LIKE 'deal_counts%'")).scalars()
        else:
            names = session.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'deals'::regclass "
                "AND NOT tgisinternal AND tgname LIKE 'deal_counts%'")).scalars()
        assert set(names) == {"deal_counts_insert", "deal_counts_delete", "deal_counts_update"}


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


# ---------------------------------------------------------------------------------------------
# The facts equal a count over the deals
# ---------------------------------------------------------------------------------------------

OWNERS = ("U1", "U2", "rep:jane-doe", None)
SOURCES = (None, "web", "referral", "other", "")
REASONS = (None, "price", "timing")
COMPETITORS = (None, "rival", "other-co")


def _edge_instants(zones: tuple[str, ...]) -> list[datetime]:
    """UTC and local month starts, DST changes, a second either side."""
    instants = []
    for month in range(1, 13):
        for year in (2025, 2026):
            instants.append(datetime(year, month, 1, tzinfo=UTC))
            for tz in zones:
                instants.append(datetime(year, month, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC))
    for y, m, d in ((2025, 3, 30), (2025, 10, 26), (2025, 3, 9), (2025, 11, 2)):
        for tz in zones:
            instants.append(datetime(y, m, d, tzinfo=ZoneInfo(tz)).astimezone(UTC))
    return [at + timedelta(seconds=s) for at in instants for s in (-1, 0, 1)]


def _history(seed: int, n: int, edges: list[datetime]) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2024, 11, 1, tzinfo=UTC)

    def instant() -> datetime:
        if rng.random() < 0.3:
            return rng.choice(edges)
        return start + timedelta(seconds=rng.randrange(800 * 86_400))

    deals = []
    for i in range(n):
        times = sorted(instant() for _ in range(6))
        reached = rng.randint(0, 5)
        row = _deal(f"d{i}", owner=rng.choice(OWNERS), source=rng.choice(SOURCES))
        for j, stage in enumerate(STAGES[:reached]):
            if j == 0 or rng.random() < 0.85:  # some stages skipped
                row[f"{stage}_at"] = times[j]
        outcome = rng.choice(("open", "open", "won", "lost"))
        if outcome != "open":
            row.update(outcome=outcome, stage=outcome, closed_at=times[5],
                       amount_minor=rng.choice((None, rng.randint(1, 90_000))),
                       mrr_minor=rng.choice((None, rng.randint(1, 900))))
            row[f"{outcome}_at"] = times[5]
            if outcome == "lost":
                row.update(reason=rng.choice(REASONS), competitor=rng.choice(COMPETITORS))
        deals.append(row)
    return deals


def _at(deal: dict, stage: Stage) -> datetime | None:
    if stage is Stage.WON:
        return deal["closed_at"] if deal["outcome"] == "won" else None
    return deal[f"{stage.value}_at"]


def _key(deal: dict, by: str | None) -> str:
    if by == "user":
        return deal["owner_id"] or "(none)"
    if by == "source":
        return deal["source"] or "other"
    return "all"


def _reached(deal: dict, to: Stage | str) -> bool:
    if to == "lost":
        return deal["outcome"] == "lost"
    if Stage(to) is Stage.WON:
        return deal["outcome"] == "won"
    return deal[f"{Stage(to).value}_at"] is not None


def _in(deals, stage, start, end, user):
    return [d for d in deals if (at := _at(d, stage)) is not None and start <= at < end
            and (user is None or d["owner_id"] == user)]


def _cohort_truth(deals, stage, to, start, end, user, by) -> dict[str, tuple[int, int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in _in(deals, stage, start, end, user):
        found[_key(d, by)][0] += 1
        found[_key(d, by)][1] += _reached(d, to)
    return {k: tuple(v) for k, v in found.items()}


def _closed_truth(deals, start, end, user, by) -> dict[str, tuple[int, int, int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d in deals:
        if d["outcome"] in ("won", "lost") and start <= d["closed_at"] < end and (
                user is None or d["owner_id"] == user):
            row = found[_key(d, by)]
            row[0 if d["outcome"] == "won" else 1] += 1
            row[2] += (d["amount_minor"] or 0) if d["outcome"] == "won" else 0
    return {k: tuple(v) for k, v in found.items()}


def _loss_truth(deals, start, end, user) -> tuple[dict[str, int], dict[str, int]]:
    reasons: dict[str, int] = defaultdict(int)
    competitors: dict[str, int] = defaultdict(int)
    for d in deals:
        if d["outcome"] == "lost" and start <= d["closed_at"] < end and (
                user is None or d["owner_id"] == user):
            reasons[d["reason"] or "(none)"] += 1
            competitors[d["competitor"] or "(none)"] += 1
    return dict(reasons), dict(competitors)


def _windows(tz: str) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(tz)

    def local(y, m, d, h=0, minute=0):
        return datetime(y, m, d, h, minute, tzinfo=zone).astimezone(UTC)

    rng = random.Random(tz)
    windows = [
        (local(2020, 1, 1), local(2027, 1, 1)),  # the whole history
        (local(2025, 1, 1), local(2026, 1, 1)),  # a calendar year
        (local(2025, 4, 1), local(2026, 4, 1)),  # a fiscal year
        (local(2025, 3, 30), local(2025, 10, 26)),  # DST change days at both ends (Europe)
        (local(2025, 3, 9), local(2025, 11, 2)),  # DST change days at both ends (America)
        (local(2025, 1, 31, 23, 30), local(2025, 4, 1, 0, 30)),  # off midnight, month edges
        (local(2025, 2, 1), local(2025, 3, 1)),  # exactly one local month
        (datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)),  # UTC months
        # a second inside / outside whole UTC months at both ends
        (datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC), datetime(2025, 4, 30, 23, 59, 59, tzinfo=UTC)),
        (datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC), datetime(2025, 5, 1, 0, 0, 1, tzinfo=UTC)),
        (local(2025, 2, 3), local(2025, 2, 27)),  # inside one month
        (local(2025, 5, 1, 6), local(2025, 5, 1, 18)),  # inside one day
        (local(2026, 10, 1), local(2027, 1, 1)),  # a quarter
    ]
    for _ in range(4):
        a = local(2024, 11, 1) + timedelta(minutes=rng.randrange(800 * 24 * 60))
        windows.append((a, a + timedelta(minutes=rng.randrange(1, 500 * 24 * 60))))
    return windows


ZONES = ("Europe/Oslo", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")


def test_deal_facts_equal_a_count_over_the_deals(database):
    _setup(database)
    deals = _history(5, 500, _edge_instants(ZONES))
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), deals)
        # and some written before they changed (the table has rows that went back to 0)
        session.execute(sa.update(Deal.__table__).where(Deal.key.in_(["d1", "d2", "d3"]))
                        .values(owner_id="U2"))
    for d in deals:
        if d["key"] in ("d1", "d2", "d3"):
            d["owner_id"] = "U2"
    _assert_in_step(database, "history")
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        checked = 0
        for tz in ZONES:
            for start, end in _windows(tz):
                for user in (None, "U1"):
                    where = (tz, start, end, user)
                    funnel = {stage: (n, converted) for stage, (n, converted) in (
                        (s, _cohort_truth(deals, s, STAGE_ORDER[min(i + 1, 5)], start, end,
                                          user, None).get("all", (0, 0)))
                        for i, s in enumerate(STAGE_ORDER))}
                    funnel[Stage.WON] = (funnel[Stage.WON][0], 0)
                    assert facts.funnel_counts(start, end, user=user) == funnel, where
                    for by in (None, "user", "source"):
                        for stage in STAGE_ORDER:
                            assert facts.deals_reaching(stage, start, end, user=user, by=by) \
                                == {k: n for k, (n, _c) in _cohort_truth(
                                    deals, stage, stage, start, end, user, by).items()}, where
                        for stage, to in ((Stage.LEAD, Stage.WON), (Stage.LEAD, "lost"),
                                          (Stage.MQL, Stage.SQL), (Stage.SQL, Stage.LEAD),
                                          (Stage.DEMO, Stage.WON), (Stage.WON, Stage.DEMO)):
                            assert facts.cohort_conversion(stage, to, start, end, user=user,
                                                           by=by) == _cohort_truth(
                                deals, stage, to, start, end, user, by), (where, stage, to)
                    for by in (None, "user"):
                        assert facts.closed_deals(start, end, user=user, by=by) == \
                            _closed_truth(deals, start, end, user, by), where
                    assert facts.wins_without_amount(start, end, user=user) == sum(
                        1 for d in _in(deals, Stage.WON, start, end, user)
                        if d["amount_minor"] is None), where
                    assert facts.loss_breakdown(start, end, user=user) == _loss_truth(
                        deals, start, end, user), where
                    checked += 1
                for instant in (start, end):  # no events, no accounts: the won deals' MRR
                    assert facts.mrr_at(instant) == sum(
                        d["mrr_minor"] or 0 for d in deals
                        if d["outcome"] == "won" and d["closed_at"] < instant), instant
        assert checked == 2 * sum(len(_windows(tz)) for tz in ZONES)
        everything = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
        assert facts.deals_reaching(Stage.LEAD, *everything)["all"] == sum(
            1 for d in deals if d["lead_at"])


def test_a_long_period_reads_a_key_range_of_months_and_index_ranges_of_deals_on_sqlite(
        database):
    """One statement per fact: deal_counts by its primary key (workspace, milestone, month
    range), the edge months of deals by their stage or close index (a timestamp range)."""
    from tests.storage.query_plans import _captured, _plans

    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _setup(database)
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__),
                        _history(6, 60, _edge_instants(("Asia/Kolkata",))))
    year = (datetime(2025, 1, 15, 18, 30, tzinfo=UTC), datetime(2026, 1, 9, 18, 30, tzinfo=UTC))
    calls = [lambda f: f.funnel_counts(*year), lambda f: f.funnel_counts(*year, user="U1"),
             lambda f: f.deals_reaching(Stage.MQL, *year, by="user"),
             lambda f: f.cohort_conversion(Stage.LEAD, Stage.WON, *year, by="source"),
             lambda f: f.closed_deals(*year, by="user"), lambda f: f.loss_breakdown(*year),
             lambda f: f.wins_without_amount(*year, user="U2")]

    def run() -> None:
        with database.read() as session:
            facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
            for call in calls:
                call(facts)

    statements = _captured(database, run)
    assert len(statements) == len(calls)
    plan = _plans(database, statements, "deal counts").splitlines()
    months = [line for line in plan if "deal_counts" in line]
    deals = [line for line in plan if " deals " in f"{line} "]
    assert months and deals
    for line in months:
        assert line.startswith("SEARCH deal_counts USING PRIMARY KEY (workspace_id=? AND "
                               "milestone=? AND month>? AND month<?)"), line
    for line in deals:
        assert re.fullmatch(r"SEARCH deals USING (COVERING )?INDEX ix_deals_(\w+) "
                            r"\(workspace_id=\? AND (\w+)_at>\? AND \2_at<\?\)", line), line


def _instructions(database, call) -> tuple[int, object]:
    """SQLite virtual-machine instructions `call(facts)` runs (the cost of its statements)."""
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        call(facts)  # statements built, pages cached
        raw = session.connection().connection.dbapi_connection
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1)
        try:
            result = call(facts)
        finally:
            raw.set_progress_handler(None, 1)
    return steps[0], result


def _middle_deals(prefix: str, count: int) -> list[dict]:
    """`count` deals in the whole months of 2025 from February to November, every month with
    each owner (and source) open, won and lost, so that more of them add to the same
    deal_counts rows."""
    deals = []
    for i in range(count):
        at = datetime(2025, 2 + i % 10, 1 + i // 10 % 27, tzinfo=UTC)
        mine = i // 10 % 2 == 0
        outcome = ("open", "won", "lost")[i // 20 % 3]
        row = _deal(f"{prefix}-{i}", owner="U1" if mine else "U2",
                    source="web" if mine else None, lead_at=at,
                    mql_at=None if mine else at + DAY)
        if outcome != "open":
            row.update(outcome=outcome, stage=outcome, closed_at=at + 2 * DAY,
                       amount_minor=100 * i, reason="price" if outcome == "lost" else None)
        deals.append(row)
    return deals


def test_a_year_costs_the_same_with_ten_times_the_deals_in_its_whole_months_on_sqlite(
        database):
    if database.dialect != "sqlite":
        pytest.skip("the virtual machine's instruction count is SQLite's")
    _setup(database)
    edges = [_deal(f"edge-{i}", lead_at=at, outcome="won", stage="won", closed_at=at)
             for i, at in enumerate((datetime(2025, 1, 20, tzinfo=UTC),
                                     datetime(2025, 12, 10, tzinfo=UTC)))]
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), edges + _middle_deals("few", 60))
    year = (datetime(2025, 1, 15, 18, 30, tzinfo=UTC), datetime(2025, 12, 15, 18, 30, tzinfo=UTC))

    def counts(facts):
        return (facts.funnel_counts(*year), facts.closed_deals(*year, by="user"),
                facts.loss_breakdown(*year),
                facts.cohort_conversion(Stage.LEAD, Stage.WON, *year, by="source"))

    before, (funnel, closed, losses, cohorts) = _instructions(database, counts)
    assert funnel[Stage.LEAD] == (62, 30) and losses == ({"price": 20}, {"(none)": 20})
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), _middle_deals("many", 600))
    after, (funnel, closed, losses, cohorts) = _instructions(database, counts)
    assert funnel[Stage.LEAD] == (662, 330) and losses == ({"price": 220}, {"(none)": 220})
    assert closed["U1"][0] + closed["U2"][0] == 2 + 220
    assert cohorts["web"] == (330, 110)
    # 600 more deals; counting them one by one took ~10 instructions each per statement.
    assert after <= before * 1.1, (before, after)

"""deal_durations and deal_duration_counts always equal a recomputation from `deals`, whatever
wrote them (chat logs, wins, losses, reopenings, undo, a CSV import, a rep link, a re-derive,
SQL by hand: the triggers of migration 0016 keep them, not the code), and the migration fills
them for an existing database. stage_time, sales_cycle and median_stage_times read them and
give exactly the distributions of the deals (the definitions in storage/facts.py before 0016:
`seconds_between` over the deals of the period, ranked), for periods in several zones, for the
team and per rep."""

from __future__ import annotations

import bisect
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from reports.events import STAGE_ORDER, Stage
from storage import migrate
from storage.deals import refresh_deals
from storage.facts import SqlFacts
from storage.models import Deal, DealDuration, DealDurationCount, DurationBucket, Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.reps import link_rep
from storage.stage_durations import month_plan, seconds_between
from storage.workspaces import ensure_user, ensure_workspace
from tests.storage.deal_tables import import_rows, trigger_names

WS = "slack:TDUR"
OTHER = "slack:TDUROTHER"
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
DAY = timedelta(days=1)
CYCLE = "cycle"
MEASURES = [*STAGE_ORDER[:-1], CYCLE]


def _conditions(measure) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement, list]:
    """(exit column, later, earlier, conditions) of a measure, as storage/facts.py read them
    from `deals` before 0016."""
    d = Deal.__table__.c
    columns = {Stage.LEAD: d.lead_at, Stage.MQL: d.mql_at, Stage.SQL: d.sql_at,
               Stage.OPPORTUNITY: d.opportunity_at, Stage.DEMO: d.demo_at}
    if measure is CYCLE or measure is Stage.DEMO:
        earlier = d.first_event_at if measure is CYCLE else d.demo_at
        return d.closed_at, d.won_at, earlier, [d.outcome == "won", earlier.is_not(None)]
    following = STAGE_ORDER[STAGE_ORDER.index(measure) + 1]
    return columns[following], columns[following], columns[measure], [
        columns[measure].is_not(None)]


def _brute_values(session, measure, start=None, end=None, user=None) -> list[tuple]:
    """(deal id, workspace, owner, exit instant, seconds) of every deal counted by `measure`
    (in [start, end) and owned by `user` when given), straight from `deals`."""
    d = Deal.__table__.c
    exit_at, later, earlier, conditions = _conditions(measure)
    conditions = [*conditions, exit_at.is_not(None), later.is_not(None)]
    if start is not None:
        conditions += [d.workspace_id == WS, exit_at >= start, exit_at < end]
    if user is not None:
        conditions.append(d.owner_id == user)
    value = seconds_between(later, earlier, session.get_bind().dialect.name)
    return [(i, ws, owner, at, float(v)) for i, ws, owner, at, v in session.execute(
        sa.select(d.id, d.workspace_id, d.owner_id, exit_at, value).where(*conditions))]


def _expected(session) -> tuple[dict, dict]:
    """(deal_durations, deal_duration_counts) recomputed from `deals`."""
    bounds = sorted(session.execute(sa.select(DurationBucket.lo_ms)).scalars())
    durations, counts = {}, defaultdict(lambda: [0, 0])
    for number, measure in enumerate(MEASURES):
        for deal_id, ws, owner, at, seconds in _brute_values(session, measure):
            ms = round(seconds * 1000)
            month = at.year * 12 + at.month - 1
            bucket = bounds[bisect.bisect_right(bounds, ms) - 1]
            durations[(deal_id, number)] = (ws, owner, at, month, ms, bucket)
            for key in {"", owner or ""}:
                row = counts[(ws, number, key, month, bucket)]
                row[0] += 1
                row[1] += ms
    return durations, {k: tuple(v) for k, v in counts.items()}


def _stored(session) -> tuple[dict, dict]:
    t = DealDuration.__table__.c
    durations = {(i, m): (ws, owner, at, month, ms, bucket) for i, m, ws, owner, at, month, ms,
                 bucket in session.execute(sa.select(t.deal_id, t.measure, t.workspace_id,
                                                     t.owner_id, t.exit_at, t.month, t.ms,
                                                     t.bucket))}
    c = DealDurationCount.__table__.c
    rows = session.execute(sa.select(c.workspace_id, c.measure, c.owner_id, c.month, c.bucket,
                                     c.deals, c.total_ms)).all()
    assert all(n >= 0 for *_, n, _total in rows), rows
    return durations, {tuple(r[:5]): (r[5], r[6]) for r in rows if r[5]}


def _assert_in_step(database, step: str) -> int:
    """Asserts the stored tables equal the recomputation; returns how many durations."""
    with database.read() as session:
        expected = _expected(session)
        assert _stored(session) == expected, step
    return len(expected[0])


def _setup(database, timezone: str = "Europe/Oslo") -> None:
    with database.write() as session:
        for workspace in (WS, OTHER):
            ensure_workspace(session=session, workspace_id=workspace, platform="slack",
                             timezone=timezone, now=NOW - 400 * DAY)
            for user in ("U1", "U2"):
                ensure_user(session=session, workspace_id=workspace, user_id=user)


def _log(database, kind: str, deal: str, at: datetime, user: str = "U1",
         workspace: str = WS, **more) -> int:
    with database.write() as session:
        new = NewEvent(kind=kind, user_id=user, logged_by=user, occurred_at=at, deal_key=deal,
                       idempotency_key=str(uuid.uuid4()), **more)
        return record_event(session=session, workspace=session.get(Workspace, workspace),
                            new=new).event.id




def test_every_write_path_keeps_the_durations_and_their_histograms(database, tmp_path):
    _setup(database)
    _log(database, "lead", "acme", NOW - 40 * DAY)
    _log(database, "lead", "globex", NOW - 39 * DAY - timedelta(hours=5), user="U2")
    _log(database, "lead", "initech", NOW - 30 * DAY, workspace=OTHER)
    _log(database, "mql", "acme", NOW - 38 * DAY)
    _log(database, "opportunity", "acme", NOW - 20 * DAY, amount_minor=500_00,
         currency="USD")  # sql skipped: a zero-length stay
    _log(database, "mql", "initech", NOW - 29 * DAY, workspace=OTHER)
    assert _assert_in_step(database, "log") == 4

    _log(database, "deal-won", "acme", NOW - 7 * DAY, amount_minor=100_00, currency="USD")
    _log(database, "deal-lost", "globex", NOW - 7 * DAY, user="U2", reason="price")
    # acme: opportunity (to the win: demo skipped), demo (zero-length) and its cycle
    assert _assert_in_step(database, "won and lost") == 4 + 3
    with database.read() as session:
        demo = _brute_values(session, Stage.DEMO)
        assert [(owner, seconds) for _i, _ws, owner, _at, seconds in demo] == [("U1", 0.0)]

    demo_event = _log(database, "demo-booked", "globex", NOW - 6 * DAY, user="U2")  # reopened
    assert _assert_in_step(database, "reopened") == 7 + 4  # globex: lead ... opportunity
    _log(database, "deal-won", "globex", NOW - 2 * DAY, user="U2", amount_minor=1)
    only = _log(database, "lead", "hooli", NOW - 5 * DAY)
    _log(database, "mql", "hooli", NOW - 5 * DAY + timedelta(seconds=90))
    assert _assert_in_step(database, "more") > 10

    with database.write() as session:  # undo: the demo goes, then hooli's lead, and mql
        ws = session.get(Workspace, WS)
        void_event(session=session, workspace=ws, event_id=demo_event, voided_by="U2", now=NOW)
        void_event(session=session, workspace=ws, event_id=only, voided_by="U1", now=NOW)
    _assert_in_step(database, "undo")

    # A CSV import (the bulk path, deals written with Core): new deals of a named rep, half of
    # them moved on to sql, and an existing deal won.
    rows = [f"2026-10-{1 + i % 28:02d},lead,,,,imp-{i},,Jane Doe,,," for i in range(30)]
    rows += [f"2026-11-0{1 + i % 9},sql,,,,imp-{i},,Jane Doe,,," for i in range(0, 30, 2)]
    rows += ["2026-11-16,deal-won,,100,USD,imp-28,,Jane Doe,,,"]
    import_rows(database, tmp_path, rows, workspace_id=WS, now=NOW)
    imported = _assert_in_step(database, "import")
    assert imported > 10 + 15

    with database.write() as session:  # the named rep's deals move to U1 (owner changes)
        link_rep(session=session, workspace_id=WS, rep_id="rep:jane-doe", user_id="U1")
    assert _assert_in_step(database, "rep link") == imported

    with database.write() as session:  # re-derived in another zone (days order the events)
        session.get(Workspace, WS).timezone = "Pacific/Chatham"
        session.flush()
        keys = session.execute(sa.select(Deal.key).where(Deal.workspace_id == WS)).scalars()
        refresh_deals(session=session, workspace_id=WS, deal_keys=list(keys), now=NOW)
    assert _assert_in_step(database, "re-derive") == imported

    deals = Deal.__table__
    by_key = deals.c.key

    def change(statement, step: str) -> int:
        with database.write() as session:
            session.execute(statement)
        return _assert_in_step(database, step)

    # SQL by hand: a win turned into a loss, times moved, an owner cleared, deletes.
    assert change(sa.update(deals).where(by_key == "acme").values(
        outcome="lost", stage="lost", lost_at=deals.c.won_at), "won -> lost") == imported - 2
    change(sa.update(deals).where(by_key == "imp-0").values(
        sql_at=NOW - timedelta(days=3, microseconds=500_500), owner_id=None),
        "times and owner")
    won = deals.c.outcome == "won"  # one column: only the measures reading it change
    change(sa.update(deals).where(won).values(first_event_at=NOW - 90 * DAY), "first event")
    change(sa.update(deals).where(won).values(demo_at=NOW - 8 * DAY), "demo moved")
    change(sa.update(deals).where(by_key == "imp-4").values(mql_at=NOW - 2 * DAY),
           "a stage reached later")
    change(sa.update(deals).values(name="renamed", owner_id=deals.c.owner_id), "no change")
    change(sa.update(deals).where(by_key == "initech").values(workspace_id=WS, key="i2"),
           "moved workspace")
    change(sa.delete(deals).where(by_key.in_(["globex", "imp-2"])), "delete")
    assert change(sa.delete(deals), "delete all") == 0


def test_the_triggers_exist_at_head(database):
    """SQLite drops a table's triggers with it: a migration that rebuilds `deals` or
    `deal_durations` must create them again."""
    names = trigger_names(database, ("deals", "deal_durations"))
    if database.dialect == "sqlite":
        mine = {"deal_durations_insert", "deal_durations_delete", "deal_durations_update",
                "deal_duration_counts_add", "deal_duration_counts_take"}
    else:
        mine = {"deal_durations_insert_delete", "deal_durations_update",
                "deal_duration_counts_keep"}
    assert mine <= names


# ----------------------------------------------------------------- exact distributions

USERS = ("U1", "U2", "")  # "" : an owner id that is empty (no histogram of its own)
ZONES = ("Europe/Oslo", "Asia/Kolkata", "Australia/Adelaide", "America/St_Johns", "UTC")
SPAN_START = datetime(2025, 9, 20, tzinfo=UTC)
SPAN_DAYS = 420


def _random_deals(seed: int, n: int) -> list[dict]:
    """Deals moving through the stages with ties, zero-length stays (skipped stages),
    sub-second and microsecond times, some lost or open, owned by U1, U2, "" or nobody."""
    rng = random.Random(seed)
    columns = ["lead_at", "mql_at", "sql_at", "opportunity_at", "demo_at", "won_at"]
    steps = [timedelta(0), timedelta(0), timedelta(days=1), timedelta(days=3),
             timedelta(hours=5), timedelta(seconds=1), timedelta(milliseconds=1500),
             timedelta(microseconds=1234567), timedelta(days=30)]
    rows = []
    for i in range(n):
        at = SPAN_START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
        row = {"workspace_id": WS, "key": f"d{i}", "name": f"d{i}", "updated_at": NOW,
               "owner_id": rng.choice(("U1", "U1", "U2", "", None)), "outcome": "open",
               "first_event_at": at - rng.choice((timedelta(0), timedelta(days=2))),
               **dict.fromkeys([*columns, "lost_at", "closed_at", "stage"])}
        reached = rng.randint(1, len(columns))
        for column in columns[:reached]:
            if column != "lead_at":
                at += rng.choice(steps) if rng.random() < 0.7 else timedelta(
                    seconds=rng.randrange(1, 40 * 86_400))
            row[column] = at
        if reached == len(columns):
            row.update(outcome="won", stage="won", closed_at=at)
        elif rng.random() < 0.3:
            row.update(outcome="lost", stage="lost", lost_at=at + DAY, closed_at=at + DAY)
        else:
            row["stage"] = columns[reached - 1][:-3]
        rows.append(row)
    return rows


def _windows(tz: str) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(tz)

    def local(y, m, d, h=0):
        return datetime(y, m, d, h, tzinfo=zone).astimezone(UTC)

    return [
        (local(2020, 1, 1), local(2027, 1, 1)),  # the whole history
        (local(2026, 1, 1), local(2027, 1, 1)),  # a year
        (local(2025, 10, 1), local(2026, 1, 1)),  # a quarter
        (local(2026, 3, 1), local(2026, 4, 1)),  # a month over a DST change
        (local(2025, 10, 26), local(2025, 10, 27)),  # the day of a DST change
        (local(2026, 2, 3), local(2026, 5, 4)),  # 90 days: mostly covered edge months
        (local(2026, 2, 20), local(2026, 6, 10)),  # edges covered less than half
        (local(2026, 4, 10), local(2026, 4, 28)),  # inside one month, most of it
        (local(2026, 4, 10, 13), local(2026, 4, 11, 2)),  # a few hours
        (local(2024, 1, 1), local(2025, 1, 1)),  # before anything
    ]


def _brute(values: list[float]) -> tuple:
    """(n, median, mean, p90) of the values by the definitions of storage/facts.py:
    interpolated percentiles of the sorted values; the mean of the milliseconds."""
    if not values:
        return 0, None, None, None
    values = sorted(values)
    n = len(values)

    def percentile(p10: int) -> float:
        low, remainder = divmod((n - 1) * p10, 10)
        value = values[low]
        return value + (values[low + 1] - value) * remainder / 10 if remainder else value

    total_ms = sum(round(v * 1000) for v in values)
    return n, percentile(5), total_ms / (1000 * n), percentile(9)


@pytest.mark.parametrize("tz", ZONES)
def test_stage_times_and_cycles_equal_the_deals_distributions(database, tz):
    _setup(database, timezone=tz)
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), _random_deals(7, 260))
    sizes = set()
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        for start, end in _windows(tz):
            for user in (None, *USERS):
                medians = facts.median_stage_times(start, end, user=user)
                for measure in MEASURES:
                    values = [v[-1] for v in _brute_values(session, measure, start, end, user)]
                    n, median, mean, p90 = _brute(values)
                    sizes.add(n)
                    found = facts.sales_cycle(start, end, user=user) if measure is CYCLE \
                        else facts.stage_time(measure, start, end, user=user)
                    where = (start, end, user, measure)
                    assert (found.n, found.median, found.mean, found.p90) == \
                        (n, median, mean, p90), where
                    if values:  # the float sum the mean was taken from before
                        assert found.mean == pytest.approx(sum(values) / n, rel=1e-12)
                        assert found.total == pytest.approx(sum(values), rel=1e-12)
                    if measure is not CYCLE:
                        assert medians[measure] == median, where
    assert {0, 1, 2, 3} <= sizes and any(n > 40 and n % 2 for n in sizes) \
        and any(n > 40 and not n % 2 for n in sizes)


def test_ties_and_zero_lengths_at_the_middle_ranks(database):
    """Many equal values and zero-length stays on both sides of the middle ranks, a single
    deal, and deals of another workspace that must not count."""
    _setup(database)
    base = datetime(2026, 3, 10, 12, tzinfo=UTC)
    rows = []
    for i, seconds in enumerate([0] * 5 + [3600] * 4 + [7200.5] * 3 + [0.001]):
        rows.append({"workspace_id": WS if i < 12 else OTHER, "key": f"t{i}", "name": "t",
                     "updated_at": NOW, "owner_id": "U1" if i % 2 else "U2",
                     "outcome": "open", "stage": "mql", "lead_at": base + i * DAY,
                     "mql_at": base + i * DAY + timedelta(seconds=seconds)})
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), rows)
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WS))
        team = facts.stage_time(Stage.LEAD, start, end)
        assert (team.n, team.median, team.p90) == (12, 3600.0, 7200.5)
        u1 = facts.stage_time(Stage.LEAD, start, end, user="U1")  # 0, 0, 3600, 3600, 7200.5 x2
        assert (u1.n, u1.median, u1.p90) == (6, 3600.0, 7200.5)
        u2 = facts.stage_time(Stage.LEAD, start, end, user="U2")  # 0 x3, 3600 x2, 7200.5
        assert (u2.n, u2.median, u2.p90) == (6, 0.0 + (3600 - 0.0) * 5 / 10, 3600 + 3600.5 / 2)
        one = facts.stage_time(Stage.LEAD, base + 11 * DAY, base + 12 * DAY)
        assert (one.n, one.median, one.mean, one.p90) == (1, 7200.5, 7200.5, 7200.5)
        none = facts.stage_time(Stage.LEAD, base - 5 * DAY, base)
        assert (none.n, none.median, none.mean, none.p90) == (0, None, None, None)
        assert facts.median_stage_times(start, end)[Stage.LEAD] == 3600.0


def test_a_period_reads_whole_months_and_the_smaller_side_of_its_edges():
    utc = UTC
    year = (datetime(2025, 12, 31, 23, tzinfo=utc), datetime(2026, 12, 31, 23, tzinfo=utc))
    whole, ranges = month_plan(*year)
    # January..November 2026 and December (all but its last hour) from the histograms; the
    # last hour of 2025 read, the last hour of 2026 taken away.
    assert whole == (2026 * 12, 2026 * 12 + 12)
    assert ranges == [(1, year[0], datetime(2026, 1, 1, tzinfo=utc)),
                      (-1, year[1], datetime(2027, 1, 1, tzinfo=utc))]
    trailing = (datetime(2026, 2, 20, tzinfo=utc), datetime(2026, 5, 10, tzinfo=utc))
    whole, ranges = month_plan(*trailing)
    assert whole == (2026 * 12 + 2, 2026 * 12 + 4)  # March and April
    assert ranges == [(1, trailing[0], datetime(2026, 3, 1, tzinfo=utc)),
                      (1, datetime(2026, 5, 1, tzinfo=utc), trailing[1])]
    inside = (datetime(2026, 4, 2, tzinfo=utc), datetime(2026, 4, 29, tzinfo=utc))
    assert month_plan(*inside) == ((2026 * 12 + 3, 2026 * 12 + 4), [
        (-1, datetime(2026, 4, 1, tzinfo=utc), inside[0]),
        (-1, inside[1], datetime(2026, 5, 1, tzinfo=utc))])
    day = (datetime(2026, 4, 2, tzinfo=utc), datetime(2026, 4, 3, tzinfo=utc))
    assert month_plan(*day) == (None, [(1, *day)])


def test_the_migration_fills_them_from_existing_deals(database, database_url):
    from alembic import command

    _setup(database)
    database.engine.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0014")
    with database.write() as session:  # written at 0014: no triggers, no tables
        assert not sa.inspect(session.connection()).has_table("deal_durations")
        session.execute(sa.insert(Deal.__table__), _random_deals(3, 80))
    database.engine.dispose()
    migrate.upgrade(database_url)
    migrate.check(database_url)
    assert _assert_in_step(database, "backfill") > 80

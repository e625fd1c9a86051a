"""PostgreSQL keeps a read's plans between commands (storage/plans.py; issue 18: the funnel
≤ 0.2× its SQL floor, most of whose server time was planning). Checked from the server's own
`pg_prepared_statements` and `plan_cache_mode`, and libpq's trace, never timed:

- a command asked again on the same connection runs prepared statements with generic plans,
  and its read ends with COMMIT (a ROLLBACK makes psycopg drop every prepared statement);
- the values at percentile ranks are one statement with a generic plan that reads each bucket
  in the order of its durations; the stage times' histogram sums over many months are planned
  for their values (a quarter's unsettled months keep their generic plan);
- writes keep `plan_cache_mode = auto` (the PL/pgSQL trigger bodies replan under anything else);
- the statements are the same for every workspace: its id is a parameter, and the answers
  equal those of a fresh engine."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from sampledata import seed_workspace
from storage import pg_pool
from storage.engine import Database
from storage.plans import with_values
from tests.support.dialog import Chat
from tests.support.round_trips import RoundTrips

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TPLANS"
OTHER = "slack:TPLANS2"
# psycopg prepares at a statement's fifth run; the server then plans it once, generically
RUNS = 7


@pytest.fixture(autouse=True)
def one_connection(monkeypatch):
    """Nothing kept out of the pool for the next command (storage/pg_pool.py `KEEP`): every
    command runs on the pool's one connection, whose prepared statements `_prepared` reads."""
    monkeypatch.setattr(pg_pool, "KEEP", 0)


@pytest.fixture
def chat(database):
    seed_workspace(database=database, workspace_id=WS, target_events=1_500, end=NOW, seed=11)
    return Chat(database, workspace=WS, now=NOW, admins=(), default_user="U_ASKER")


def _ask(database, workspace: str, text: str):
    chat = Chat(database, workspace=workspace, now=NOW, admins=(), default_user="U_ASKER")
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=workspace, user_id="U_ASKER", text=text,
        channel_id="C1"), time.monotonic() + 30)  # as served: a deadline


def _prepared(database) -> dict[str, tuple[int, int]]:
    """statement -> (generic plans, custom plans) of the statements prepared on the pooled
    connection (a test runs one command at a time, so the pool holds one)."""
    # in autocommit: a ROLLBACK would make psycopg deallocate them all
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        rows = connection.exec_driver_sql(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements").all()
    return {" ".join(s.split()): (g, c) for s, g, c in rows}


# the funnel's read statements with generic plans (its figures, open and idle deals, the
# stage times' deals since the last hour, their histogram and values at once:
# storage/stage_durations.py `_read_plan`, `_recent_rows`)
FUNNEL_READS = ("FROM deal_counts", "FROM open_deal_stages", "anon_1.stage_changed_at",
                "SELECT workspaces.history_version", "deal_durations.bucket + 0 AS bucket")


def _funnel_reads(prepared: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {s: plans for s, plans in prepared.items()
            if s.startswith("SELECT") and any(m in s for m in FUNNEL_READS)}


def test_a_command_asked_again_runs_its_statements_prepared_with_generic_plans(chat, database):
    for _ in range(RUNS):
        first = _ask(database, WS, "funnel this-quarter")
    reads = _funnel_reads(_prepared(database))
    assert len(reads) == len(FUNNEL_READS), reads  # each prepared, once
    # planned once, generically: never for the values of one command
    assert all(custom == 0 and generic >= 1 for generic, custom in reads.values()), reads
    with RoundTrips(database.engine) as trips:  # a new connection: the read ends with COMMIT
        again = _ask(database, WS, "funnel this-quarter")
    sent = [line for line in trips.lines if line.startswith("F\t")]
    assert any("COMMIT" in line for line in sent)  # (in the funnel's pipeline: session 13)
    assert not any("ROLLBACK" in line for line in sent)
    assert again.text == first.text


def test_a_second_answer_on_the_connection_plans_nothing_new(chat, database):
    # (the first answer reads the caller's rows; from the second on the funnel's pipeline
    # checks them, storage/workspace_guess.py, a statement psycopg prepares in its turn)
    for _ in range(RUNS + 2):
        _ask(database, WS, "funnel this-quarter")
    before = _prepared(database)
    check = [s for s in before if "kpibot: the workspace guess missed" in s]
    assert len(check) == 1 and before[check[0]][1] == 0, before  # generic, as the reads
    _ask(database, WS, "funnel this-quarter")
    after = _prepared(database)
    assert set(after) == set(before)  # nothing new prepared
    reads = _funnel_reads(before)
    assert len(reads) == len(FUNNEL_READS), reads
    # each ran once more on the generic plan it had: none was planned for the new run
    assert {s: after[s] for s in reads} == {s: (g + 1, c) for s, (g, c) in reads.items()}


def test_the_values_at_percentile_ranks_are_planned_for_their_values(chat, database):
    with RoundTrips(database.engine) as trips:
        for _ in range(RUNS):
            _ask(database, WS, "stage-time 2020-01-01..2027-01-01")
        prepared = _prepared(database)
    # not the stage times' values of a bucket's settled deals, nor their histograms' sums
    # over many months (the values since the last hour: prepared, `FUNNEL_READS`)
    assert prepared and not [s for s in prepared if "OFFSET" in s
                             or "deal_durations.bucket = $" in s]
    sent = "\n".join(trips.lines)  # what libpq sent and received, as its trace shows it
    # each bucket's settled deals with its values written into the text (a part per bucket,
    # padded with bucket -1), read once per period and then remembered, not every time
    buckets = Counter(re.findall(r"deal_durations.bucket = (\d+)::BIGINT", sent))
    assert buckets and max(buckets.values()) < RUNS, buckets
    assert not re.findall(r"deal_durations.bucket = \$", sent)
    # the settled months' histograms, with their months written in
    months = re.findall(r"deal_duration_counts.month >= (\d+)::INTEGER AND "
                        r"deal_duration_counts.month < (\d+)::INTEGER", sent)
    # (this period's, its elapsed part's and the previous period's settled parts, each once:
    # then remembered, not once per answer)
    assert len([m for m in months if int(m[1]) - int(m[0]) > 12]) == 3, months
    # the read around them plans the others generically
    with database.read() as session:
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"


def test_the_values_at_percentile_ranks_keep_one_generic_plan_in_bucket_order(chat, database):
    """The values at the ranks read by bucket and offset (the sales cycle's, whose deals are
    not remembered by the hour; the stage times' read theirs as the test above says)."""
    with RoundTrips(database.engine) as trips:
        for _ in range(RUNS):
            _ask(database, WS, "sales-cycle 2020-01-01..2027-01-01")
            _ask(database, WS, "sales-cycle this-quarter")
        prepared = _prepared(database)
    # the values at the ranks: one statement for any number of buckets and any period,
    # prepared, planned once generically (it was planned for its values on every run)
    values = {s: plans for s, plans in prepared.items() if "OFFSET" in s}
    assert len(values) == 1, values
    [(statement, (generic, custom))] = values.items()
    assert custom == 0 and generic >= RUNS, (generic, custom)
    sent = "\n".join(trips.lines)  # what libpq sent and received, as its trace shows it
    assert not re.findall(r"OFFSET \d+::INTEGER", sent)
    # its generic plan reads each bucket's durations in their order (ix_deal_durations_bucket,
    # stopping at the offsets), never the period's range of a measure sorted anew
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        # The test's table is tiny: without statistics yet, or with them, a sequential scan
        # can win on its size alone; the choice asked about is between the two indexes.
        connection.exec_driver_sql("SET enable_seqscan = off")
        connection.exec_driver_sql(f"PREPARE values_at_ranks AS {statement}")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            "EXPLAIN EXECUTE values_at_ranks('{0,1}', '{3,4}', '{0,2}', '{1,1}', "
            f"'{WS}', '2020-01-01T00:00:00+00:00', '2027-01-01T00:00:00+00:00')"))
        connection.exec_driver_sql("DEALLOCATE values_at_ranks")
    assert "ix_deal_durations_bucket" in plan and "Sort" not in plan, plan
    assert "ix_deal_durations_exit" not in plan, plan
    # the read around them plans the others generically
    with database.read() as session:
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"


def test_writes_keep_the_automatic_plan_cache_mode(chat, database):
    with database.until(time.monotonic() + 30).read() as session:
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"
    with database.until(time.monotonic() + 30).write() as session:
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "auto"
    with database.write() as session:
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "auto"


def test_prepared_statements_serve_every_workspace_with_its_own_values(chat, database):
    seed_workspace(database=database, workspace_id=OTHER, target_events=800, end=NOW, seed=5)
    commands = ("funnel this-quarter", "stage-time this-year", "win-rate this-year")
    for _ in range(RUNS):
        for text in commands:
            _ask(database, WS, text)
    prepared = _prepared(database)
    assert len(_funnel_reads(prepared)) >= len(FUNNEL_READS)
    answers = {}
    for _ in range(RUNS):
        for workspace in (OTHER, WS):
            for text in commands:
                answers[workspace, text] = _ask(database, workspace, text).plain_text()
    # the same statements, the workspace a parameter of each
    assert set(_prepared(database)) == set(prepared)
    assert not [s for s in prepared if "TPLANS" in s]
    fresh = Database.from_url(database.engine.url.render_as_string(hide_password=False))
    try:
        for (workspace, text), answer in answers.items():
            got = _ask(fresh, workspace, text).plain_text()
            assert got == answer, (got, answer)
    finally:
        fresh.dispose()
    assert answers[WS, "funnel this-quarter"] != answers[OTHER, "funnel this-quarter"]


def test_values_written_into_a_statement_read_back_as_given(database):
    """`with_values` (the statements planned for their values): quotes, backslashes, percent
    signs, negative numbers, NULL and instants come back exactly as bound values would."""
    given = {"text": "O'Brien \\ 100% -- done", "negative": -7, "none": None,
             "at": datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC), "yes": True}
    statement = ("SELECT %(text)s::VARCHAR, 5 -%(negative)s::INTEGER, %(none)s::VARCHAR, "
                 "%(at)s::TIMESTAMP WITH TIME ZONE, %(yes)s::BOOLEAN, '50%%'")
    text = with_values(statement, given)
    with database.engine.connect() as connection:
        row = connection.exec_driver_sql(text.replace("%", "%%")).one()
    assert row == (given["text"], 12, None, given["at"], True, "50%")

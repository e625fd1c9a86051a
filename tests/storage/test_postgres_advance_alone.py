"""PostgreSQL: a stage event (after lead) logged at the present moment moves its deal in the
statement that stores it, from the deal's row alone, with its COMMIT: one round trip
(storage/recording.py `store_event`, storage/deals.py `advance_after`, reports/deal_state.py
`stage_it_advances_to`). What must hold: the deal's row is exactly what a full refresh from its
events writes, whatever the history before (a new deal, no stage yet, a stage skipped, the same
stage again, a lower one, another owner, a close, a reopened deal, a later event, another name,
a source), and where the row alone does not decide it the statement is refused and the event
written the full way, stored once; a lead is not tried. Rows and counts, never timings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage.deals import STAMP_MISSED, refresh_deal
from tests.support.dialog import Chat, served_chat
from tests.support.round_trips import RoundTrips
from tests.support.statements import executed

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TADVANCE"

# (the history before: (hours before NOW, user, text)), the stage event logged now by U1, and
# whether the row alone decides it (one round trip) or the statement is refused
CASES = {
    "a new deal": ((), "log demo-booked acme", False),
    "no stage yet": (((3, "U1", "log meeting-booked acme"),), "log sql acme", True),
    "a stage skipped": (((50, "U1", "log lead acme"),), "log demo-booked acme", True),
    "every stage in turn": (((9, "U1", "log lead acme"), (5, "U1", "log mql acme"),
                             (2, "U1", "log sql acme")), "log opportunity acme 20k", True),
    "the same stage again": (((26, "U1", "log lead acme"), (4, "U1", "log demo-booked acme")),
                             "log demo-booked acme", True),
    "a lower stage": (((26, "U1", "log lead acme"), (4, "U1", "log demo-booked acme")),
                      "log sql acme", False),
    "another owner": (((30, "U2", "log lead acme"),), "log mql acme", False),
    "another owner, no stage yet": (((30, "U2", "log meeting-booked acme"),),
                                    "log mql acme", True),
    "won": (((30, "U1", "log lead acme"), (3, "U1", "log deal-won acme 5k")),
            "log demo-booked acme", False),
    "lost and reopened": (((30, "U1", "log lead acme"), (20, "U1", "log deal-lost acme"),
                           (10, "U1", "log opportunity acme")), "log demo-booked acme", False),
    "a later event": (((-2, "U1", "log meeting-booked acme"), (30, "U1", "log lead acme")),
                      "log mql acme", False),
    "another name": (((30, "U1", "log lead Acme-Corp"),), "log mql ACME-CORP", True),
    "a source": (((30, "U1", "log lead acme source=referral"),), "log sql acme", True),
}


@pytest.fixture
def chat(database):
    return served_chat(database, workspace=WS, now=NOW, users=("U1", "U2"))


def _ask(chat: Chat, text: str, key: str, user: str = "U1"):
    reply = chat.ask_served(text, key, user=user)
    assert reply.ok, reply.plain_text()
    return reply


def _row(database, key: str) -> dict:
    with database.engine.connect() as connection:
        return dict(connection.execute(sa.text(
            "SELECT * FROM deals WHERE workspace_id = :w AND key = :k"),
            {"w": WS, "k": key}).mappings().one())


def _counted(database, table: str) -> list[tuple]:
    with database.engine.connect() as connection:
        return sorted((tuple(row) for row in connection.execute(sa.text(
            f"SELECT * FROM {table} WHERE workspace_id = :w"), {"w": WS})), key=repr)


@pytest.mark.parametrize("case", list(CASES))
def test_a_stage_event_leaves_the_deal_as_a_full_refresh_would(chat, database, case):
    history, text, decided = CASES[case]
    for i, (hours, user, before) in enumerate(history):
        earlier = Chat(database, workspace=WS, now=NOW - timedelta(hours=hours), admins=(),
                       default_user=user)
        _ask(earlier, before, f"before-{i}", user=user)
    key = text.split()[2].casefold()
    _ask(chat, "log email-sent 1", "warm")  # U1's rows read: guessed from now on
    with RoundTrips(database.engine) as trips, executed(database.engine) as seen:
        _ask(chat, text, "now")
    refused = [s for s, _p in seen if STAMP_MISSED in s]
    assert len(refused) == 1  # tried
    if decided:
        assert trips.count == 1 and len(seen) == 2, [s[:60] for s, _p in seen]  # lock, insert
    else:
        assert trips.count > 1 and len(seen) > 2  # refused, then written the full way
    assert database.read_first(sa.text(
        "SELECT count(*) FROM events WHERE workspace_id = :w AND idempotency_key = :k"),
        {"w": WS, "k": "slack:now"})[0] == 1
    moved = _row(database, key)
    counts = [_counted(database, t) for t in ("deal_counts", "deal_durations",
                                              "deal_duration_counts", "open_deal_stages")]
    with database.write() as session:
        refresh_deal(session=session, workspace_id=WS, deal_key=key)
    refreshed = _row(database, key)
    assert {**moved, "updated_at": None} == {**refreshed, "updated_at": None}
    assert moved["updated_at"] == NOW
    assert counts == [_counted(database, t) for t in ("deal_counts", "deal_durations",
                                                      "deal_duration_counts", "open_deal_stages")]


def test_a_lead_is_written_the_full_way_at_once(chat, database):
    """A lead mostly starts a new deal, with no row to follow from: it is not tried (no refused
    statement, no round trip more than before), whether its deal is new or not."""
    for key, text in (("new", "log lead acme"), ("again", "log lead acme")):
        with executed(database.engine) as seen:
            _ask(chat, text, key)
        assert not [s for s, _p in seen if STAMP_MISSED in s], key
    assert _row(database, "acme")["stage"] == "lead"


def test_a_backdated_stage_event_is_written_the_full_way(chat, database):
    """Its stage times may be history (a window already read): the full refresh moves the
    workspace's history version; the row alone is not tried."""
    _ask(chat, "log lead acme", "lead")
    with executed(database.engine) as seen:
        _ask(chat, "log demo-booked acme on 2026-11-10", "backdated")
    assert not [s for s, _p in seen if STAMP_MISSED in s]
    assert _row(database, "acme")["demo_at"] < NOW - timedelta(days=7)


STAGES = ("lead", "mql", "sql", "opportunity", "demo-booked")
NOW_KINDS = (*STAGES, "meeting-booked", "meeting-held")  # a stage moves, a meeting stamps
EARLIER = (*STAGES, *STAGES, "deal-won 5k", "deal-lost reason=price", "meeting-booked",
           "call")


def test_random_histories_leave_each_deal_as_a_full_refresh_would(chat, database):
    """60 histories drawn from fixed seeds (stages in any order, closes, reopenings, activities,
    two reps, the deal's name in three cases, now and then an event after the present), each
    on its own deal, then a stage event or a meeting logged now (storage/deals.py
    `advance_after`, `stamp_after(renaming=True)`): the row and the trigger-kept tables are
    those of a full refresh whether the row alone decided it or the statement was refused."""
    import random

    _ask(chat, "log email-sent 1", "warm")
    decided = 0
    for seed in range(60):
        draw = random.Random(seed)
        deal = f"deal{seed}"
        for i in range(draw.randrange(0, 7)):
            hours = draw.choice((-3, *range(1, 240, 5)))  # now and then after the present
            kind, user = draw.choice(EARLIER), draw.choice(("U1", "U1", "U1", "U1", "U2"))
            named = draw.choice((deal, deal.upper(), deal.title()))
            earlier = Chat(database, workspace=WS, now=NOW - timedelta(hours=hours),
                           admins=(), default_user=user)
            _ask(earlier, f"log {kind.split()[0]} {named} {' '.join(kind.split()[1:])}",
                 f"{seed}-{i}", user=user)
        named = draw.choice((deal, deal.upper(), deal.title()))
        with executed(database.engine) as seen:
            _ask(chat, f"log {draw.choice(NOW_KINDS)} {named}", f"{seed}-now")
        decided += len(seen) == 2  # the lock and the insert: the row decided it
        moved = _row(database, deal)
        counts = [_counted(database, t) for t in ("deal_counts", "deal_durations",
                                                  "deal_duration_counts", "open_deal_stages")]
        with database.write() as session:
            refresh_deal(session=session, workspace_id=WS, deal_key=deal)
        assert {**_row(database, deal), "updated_at": None} == {**moved, "updated_at": None}, \
            seed
        assert counts == [_counted(database, t) for t in (
            "deal_counts", "deal_durations", "deal_duration_counts", "open_deal_stages")], seed
    assert 10 <= decided <= 50, decided  # both ways taken

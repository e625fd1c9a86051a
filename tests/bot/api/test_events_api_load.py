"""Concurrent batches over real HTTP, on SQLite and PostgreSQL: 10,000 events in batches of 500
from 4 clients are stored exactly once; sending them all again stores nothing; the rollups and
deals they feed stay in step with the events."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from storage.deals import refresh_deals
from storage.models import DailyRollup, Deal, Event
from storage.workspaces import lock_derived_rows
from tests.bot.api.conftest import (
    NOW,
    WORKSPACE,
    event_count,
    make_bot,
    new_token,
    post_events,
)
from tests.support.bot_server import running_server

CLIENTS = 4
BATCH = 500
TOTAL = 10_000
USERS = ["Jane Doe", "U0001", "Ola Nordmann", "pat@example.com", "U0002", "Li Wei"]


def generate(total: int, seed: int = 17) -> list[dict]:
    """`total` distinct events: activities, leads and the funnel of 300 shared deals."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=70)
    items = []
    for i in range(total):
        at = (start + timedelta(seconds=i * 577)).strftime("%Y-%m-%dT%H:%M:%SZ")
        deal = f"Deal {rng.randrange(300)}"
        kind = rng.choice(["email-sent", "call", "lead", "opportunity", "demo-booked",
                           "deal-won", "deal-lost", "meeting-held"])
        item = {"occurred_at": at, "event": kind, "user": rng.choice(USERS)}
        if kind == "email-sent":
            item["count"] = rng.randrange(1, 60)
        elif kind == "lead":
            item.update(deal=deal, source=rng.choice(["organic", "Paid Search", "referral"]))
        elif kind in ("opportunity", "demo-booked", "meeting-held"):
            item["deal"] = deal
        elif kind == "deal-won":
            item.update(deal=deal, amount=rng.randrange(1_000, 90_000) + 0.5)
        elif kind == "deal-lost":
            item.update(deal=deal, reason=rng.choice(["price", "timing"]))
        if i % 2:
            item["key"] = f"load-{i}"  # half carry their own key, half get the derived one
        items.append(item)
    return items


BUSY_RETRIES = 20


def send_all(base_url: str, token: str, batches: list[list[dict]]) -> list[dict]:
    """Each batch sent as a client that keeps the contract does (README, the events API's
    answers): a 503 `unavailable` stored nothing and is sent again. One batch at a time
    writes a workspace; a batch that waits over 10 s for it (API_LOCK_TIMEOUT_MS: three
    batches before it on a loaded machine) is answered 503. The server's own wait for the
    lock paces the retries."""
    def send(batch: list[dict]) -> dict:
        for _attempt in range(BUSY_RETRIES):
            response = post_events(base_url, token, {"events": batch})
            if response.status != 503:
                break
            assert response.json()["error"] == "unavailable", response.body[:300]
        assert response.status == 200, response.body[:300]
        return response.json()

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(send, batches))


def rollup_totals(database) -> tuple[int, int]:
    with database.engine.connect() as connection:
        events, counts = connection.execute(
            sa.select(sa.func.sum(DailyRollup.events), sa.func.sum(DailyRollup.count_sum))
            .where(DailyRollup.workspace_id == WORKSPACE)).one()
    return int(events or 0), int(counts or 0)


def deals_out_of_step(database) -> list[str]:
    """Deals whose stored row differs from a fresh rewrite from their events (rolled back)."""
    columns = [c for c in Deal.__table__.columns if c.name not in ("id", "updated_at")]

    def rows(session) -> dict[str, tuple]:
        found = session.execute(sa.select(*columns).where(Deal.workspace_id == WORKSPACE))
        return {row.key: tuple(row) for row in found}

    with database.write() as session:
        stored = rows(session)
        refresh_deals(session=session, workspace_id=WORKSPACE, deal_keys=list(stored))
        session.flush()
        fresh = rows(session)
        session.rollback()
    return sorted(key for key in stored if stored[key] != fresh.get(key))


def test_ten_thousand_events_from_four_clients_are_stored_exactly_once(api):
    items = generate(TOTAL)
    batches = [items[i : i + BATCH] for i in range(0, TOTAL, BATCH)]
    first = send_all(api.base_url, api.token, batches)
    assert sum(r["stored"] for r in first) == TOTAL
    assert sum(r["duplicates"] + r["errors"] for r in first) == 0
    assert event_count(api.database, WORKSPACE) == TOTAL

    again = batches * 2  # every batch twice more, shuffled, two copies often at once
    random.Random(3).shuffle(again)
    second = send_all(api.base_url, api.token, again)
    assert sum(r["stored"] for r in second) == 0
    assert sum(r["duplicates"] for r in second) == 2 * TOTAL
    assert event_count(api.database, WORKSPACE) == TOTAL

    with api.database.engine.connect() as connection:
        keys = [k for (k,) in connection.execute(
            sa.select(Event.idempotency_key).where(Event.workspace_id == WORKSPACE))]
    assert len(set(keys)) == TOTAL
    assert Counter(k.startswith("load-") for k in keys) == {True: TOTAL // 2,
                                                            False: TOTAL // 2}
    counts = sum(item.get("count", 1) for item in items)
    assert rollup_totals(api.database) == (TOTAL, counts)
    assert deals_out_of_step(api.database) == []


def test_one_new_batch_sent_by_four_clients_at_once_is_stored_once(api):
    batch = generate(BATCH, seed=5)
    results = send_all(api.base_url, api.token, [batch] * CLIENTS)
    assert sorted(r["stored"] for r in results) == [0, 0, 0, BATCH]
    assert all(r["stored"] + r["duplicates"] == BATCH for r in results)
    assert event_count(api.database, WORKSPACE) == BATCH
    assert rollup_totals(api.database)[0] == BATCH


def test_a_batch_kept_from_the_write_lock_is_a_503_that_stored_nothing(database, clock):
    """What the load test met once on a loaded machine, made certain: a batch that cannot get
    the workspace's write lock within the API's lock timeout (another transaction holds it)
    is answered 503 `unavailable` with Retry-After and stores nothing; sent again once the lock
    is free, it is stored, once."""
    token = new_token(database)
    bot = make_bot(database, clock)
    bot.api.database = bot.api.database.with_lock_timeout(300)  # instead of 10 s
    batch = generate(40, seed=9)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with database.write() as session:  # SQLite: the writer's turn; PostgreSQL: the lock
            lock_derived_rows(session, WORKSPACE)
            holding.set()
            release.wait()

    with running_server(bot) as base_url:
        assert post_events(base_url, token, {"events": []}).status == 200  # token use noted
        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        try:
            holding.wait()
            busy = post_events(base_url, token, {"events": batch})
        finally:
            release.set()
            holder.join()
        assert busy.status == 503, busy.body[:300]
        assert busy.json()["error"] == "unavailable" and busy.headers.get("retry-after") == "1"
        assert event_count(database, WORKSPACE) == 0
        again = send_all(base_url, token, [batch])
    assert again[0]["stored"] == 40 and event_count(database, WORKSPACE) == 40

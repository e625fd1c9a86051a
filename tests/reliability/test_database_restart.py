"""PostgreSQL stopped and started while clients keep sending `/kpi log` over signed HTTP.

Every request is either confirmed, and its event stored exactly once, or refused with the clear
"database is busy or not reachable ... nothing was stored" reply, and nothing stored for it;
never a 500.
After each restart the bot recovers by itself (storage/pg_pool.py), and a refused request sent
again (Slack's retry, same trigger_id) is stored once.

The cluster is private to this module: the session's shared cluster is never restarted. It runs
with synchronous_commit=on, so a crash (immediate stop) cannot lose a committed event.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from storage import migrate
from storage.engine import Database
from tests.reliability.harness import (
    CONFIRMED,
    DUPLICATE,
    REFUSED,
    Answer,
    event_total,
    key_of,
    outcomes,
    rollup_sums,
    run_clients,
    send_log,
    serving,
    stored_events,
    unexpected,
)
from tests.support.postgres import (
    PostgresCluster,
    fresh_postgres_url,
)
from tests.support.slack_signing import random_trigger_id

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

CLIENTS = 8
PAUSE = 0.01  # between one client's requests
FAULTS = ("restart", "stop, wait, start", "crash (immediate stop), start")


def _inject(cluster: PostgresCluster, fault: str) -> None:
    if fault == "restart":
        cluster.restart("fast")
    elif fault == "stop, wait, start":
        cluster.stop("fast")
        time.sleep(0.5)  # clients keep sending into the outage
        cluster.start()
    else:
        cluster.stop("immediate")
        time.sleep(0.2)
        cluster.start()  # crash recovery replays the WAL


def test_database_restarts_under_load(private_cluster, slack_api, sizes, figures):
    url = fresh_postgres_url(private_cluster, "reliability")
    migrate.upgrade(url)
    database = Database.from_url(url)
    counter = itertools.count()
    running = threading.Event()
    running.set()
    confirmed_at: list[float] = []  # monotonic times of confirmations, to see recovery
    texts: dict[str, str] = {}  # trigger id -> the command sent

    try:
        with serving(database, slack_api.base_url) as base_url:

            def client(index: int) -> list[Answer]:
                answers = []
                while running.is_set():
                    n = next(counter)
                    text = f"log call {n % 5 + 1}" if n % 2 else f"log demo-booked deal-{n % 11}"
                    trigger_id = random_trigger_id()
                    texts[trigger_id] = text
                    answer = send_log(base_url, text, user_id=f"U{index:02d}",
                                      trigger_id=trigger_id)
                    if answer.outcome == CONFIRMED:
                        confirmed_at.append(time.monotonic())
                    answers.append(answer)
                    time.sleep(PAUSE)
                return answers

            faults: list[str] = []

            def inject_faults() -> None:
                time.sleep(0.3)
                for cycle in range(sizes.restart_cycles):
                    fault = FAULTS[cycle % len(FAULTS)]
                    _inject(private_cluster, fault)
                    faults.append(fault)
                    back = time.monotonic()
                    deadline = back + 10
                    # recovered: confirmations again after the restart, without intervention
                    while not any(t > back for t in confirmed_at[-CLIENTS:]):
                        assert time.monotonic() < deadline, f"no recovery after {fault}"
                        time.sleep(0.05)
                    time.sleep(0.3)
                running.clear()

            injector = threading.Thread(target=inject_faults, name="fault-injector")
            injector.start()
            answers = run_clients(CLIENTS, client)
            injector.join()

            counts = outcomes(answers)
            stored = stored_events(database)
            figures.add(clients=CLIENTS, requests_sent=len(answers), faults_injected=len(faults),
                        confirmed=counts[CONFIRMED], refused=counts[REFUSED],
                        events_stored=len(stored), http_500=sum(a.status == 500 for a in answers),
                        other=counts.get("other", 0))

            assert len(faults) == sizes.restart_cycles
            assert unexpected(answers, (CONFIRMED, REFUSED)) == []
            assert counts[REFUSED] > 0, "no request hit a fault: the test proved nothing"
            confirmed = [a for a in answers if a.outcome == CONFIRMED]
            refused = [a for a in answers if a.outcome == REFUSED]
            # (first: which command was stored although its reply said nothing was)
            assert not [(texts[a.trigger_id], a.text) for a in refused
                        if key_of(a.trigger_id) in stored]
            assert len(stored) == event_total(database) == len(confirmed)
            for answer in confirmed:
                assert stored[key_of(answer.trigger_id)][0] == answer.event_id
            assert not {key_of(a.trigger_id) for a in refused} & set(stored)
            assert rollup_sums(database)[0] == len(confirmed)

            # The refused requests sent again (as Slack retries): each stored once now.
            retried = [send_log(base_url, "log call 1", user_id="U_RETRY",
                                trigger_id=a.trigger_id, retry_num=1) for a in refused]
            assert outcomes(retried) == {CONFIRMED: len(refused)}
            again = [send_log(base_url, "log call 1", user_id="U_RETRY",
                              trigger_id=a.trigger_id, retry_num=2) for a in refused[:5]]
            assert outcomes(again) == {DUPLICATE: len(again)}
            figures.add(requests_sent=len(retried) + len(again), retried=len(retried),
                        events_stored=event_total(database) - len(stored))
            assert event_total(database) == len(confirmed) + len(refused)
            assert rollup_sums(database)[0] == len(confirmed) + len(refused)
    finally:
        database.dispose()

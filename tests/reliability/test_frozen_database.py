"""PostgreSQL frozen (SIGSTOP of the postmaster and every backend) while 8 clients send
`/kpi log` over signed HTTP (issue 14, items 6 and 7).

A frozen server is the hard case: it accepts connections and holds statements without ever
answering, so only the bot's own deadline helps. Every command is answered within Slack's 3 s:
"Logged" if its event is stored; "nothing was stored" if nothing is stored for it (not even
after the server thaws and the stuck threads run on); or, when its COMMIT was out as the server
froze (it may have committed just before), "cannot tell yet", and once the server thaws its
outcome follows on the response_url, once, and says what is stored. `/healthz` answers 503 within
1 s while the database does not answer, and `/kpi ping` keeps answering "pong" (with the server
frozen and with it stopped). The cluster is private to this module.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import COMMAND_DEADLINE
from storage import migrate
from storage.engine import Database
from tests.reliability.harness import (
    CONFIRMED,
    LATE,
    REFUSED,
    SECRET,
    TEAM,
    Answer,
    event_total,
    key_of,
    late_outcome,
    outcomes,
    run_clients,
    send_log,
    serving,
    stored_events,
)
from tests.support.postgres import (
    PostgresCluster,
    fresh_postgres_url,
)
from tests.support.slack_signing import post_slash_command, random_trigger_id

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

CLIENTS = 8
SLACK_BUDGET = 3.0  # Slack shows the user a timeout after this
HEALTH_BUDGET = 1.0


def cluster_pids(cluster: PostgresCluster) -> list[int]:
    """The postmaster and all its children (backends, checkpointer, walwriter, ...)."""
    postmaster = int((Path(cluster.data_dir) / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(cluster: PostgresCluster) -> Iterator[None]:
    """Every process of the cluster stopped (SIGSTOP) inside the block, continued after."""
    pids = cluster_pids(cluster)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def ping(base_url: str) -> str:
    status, payload, _ = post_slash_command(base_url, "ping", secret=SECRET, team_id=TEAM,
                                            user_id="U0PING", timeout=10)
    assert status == 200, payload
    return payload["text"]


def probe(call, *args) -> object:
    """`call(*args)`, or the name of what it raised (a timeout, a failed assertion)."""
    try:
        return call(*args)
    except (OSError, AssertionError) as error:
        return type(error).__name__


def timed(call, *args) -> tuple[float, object]:
    started = time.monotonic()
    result = call(*args)
    return time.monotonic() - started, result


@pytest.fixture
def database(private_cluster) -> Iterator[Database]:
    url = fresh_postgres_url(private_cluster, "frozen")
    migrate.upgrade(url)
    db = Database.from_url(url)
    yield db
    db.dispose()


def test_frozen_postgres_under_load_answers_in_time_and_stores_exactly_what_it_confirmed(
        private_cluster, database, slack_api, sizes, figures):
    freeze_seconds = 8.0 if sizes.long else 5.0
    counter = itertools.count()
    running = threading.Event()
    running.set()
    took: dict[str, float] = {}  # trigger id -> seconds until answered
    probes: dict[str, object] = {}

    with serving(database, slack_api.base_url, deadline=COMMAND_DEADLINE) as base_url:
        def client(index: int) -> list[Answer]:
            answers = []
            while running.is_set():
                n = next(counter)
                text = f"log call {n % 5 + 1}" if n % 2 else f"log demo-booked deal-{n % 11}"
                trigger_id = random_trigger_id()
                started = time.monotonic()
                answer = send_log(base_url, text, user_id=f"U{index:02d}",
                                  trigger_id=trigger_id,
                                  response_url=slack_api.response_url(trigger_id))
                took[trigger_id] = time.monotonic() - started
                answers.append(answer)
                time.sleep(0.01)
            return answers

        def inject() -> None:
            try:
                time.sleep(0.5)
                with frozen(private_cluster):
                    time.sleep(0.3)  # every client is stuck on the frozen server by now
                    probes["healthz"] = timed(probe, get_status, f"{base_url}/healthz")
                    probes["ping"] = timed(probe, ping, base_url)
                    time.sleep(max(freeze_seconds - 0.3 - sum(
                        seconds for seconds, _ in probes.values()), 0))
                time.sleep(1.5)  # clients go on after the thaw
            finally:
                running.clear()

        injector = threading.Thread(target=inject, name="freezer")
        injector.start()
        answers = run_clients(CLIENTS, client)
        injector.join()
        time.sleep(2.0)  # threads stuck on the frozen server run on now: nothing may commit

        counts = outcomes(answers)
        late = {a.trigger_id for a in answers if a.outcome == LATE}
        follow_ups = Counter()  # trigger id -> follow-ups posted
        told: dict[str, str] = {}  # trigger id -> what its follow-up says
        for call in slack_api.wait_for("response_url", len(late), timeout=30):
            trigger_id = call.path.rsplit("/", 1)[-1]
            follow_ups[trigger_id] += 1
            told[trigger_id] = late_outcome(call.body)
        stored = stored_events(database)
        confirmed = {key_of(a.trigger_id) for a in answers if a.outcome == CONFIRMED} | {
            key_of(trigger_id) for trigger_id in late if told.get(trigger_id) == CONFIRMED}
        late_logged = [a for a in answers if a.outcome == CONFIRMED
                       and took[a.trigger_id] > SLACK_BUDGET]
        slowest = max(took.values())
        health_seconds, health_status = probes["healthz"]
        ping_seconds, ping_text = probes["ping"]
        figures.add(clients=CLIENTS, freeze_seconds=freeze_seconds, requests_sent=len(answers),
                    faults_injected=1, confirmed=counts[CONFIRMED], refused=counts[REFUSED],
                    late=len(late), late_stored=list(told.values()).count(CONFIRMED),
                    other=counts.get("other", 0),
                    http_5xx=sum(a.status >= 500 for a in answers),
                    http_500=sum(a.status == 500 for a in answers),
                    events_stored=len(stored), lost=len(confirmed - set(stored)),
                    stored_unconfirmed=len(set(stored) - confirmed),
                    doubled=event_total(database) - len(stored), late_logged=len(late_logged),
                    slowest_answer_s=round(slowest, 2),
                    healthz=f"{health_status}/{health_seconds:.2f}s",
                    ping_s=round(ping_seconds, 2))

        allowed = (CONFIRMED, REFUSED, LATE)
        assert Counter(a.outcome for a in answers if a.outcome not in allowed) \
            == Counter(), [a for a in answers if a.outcome not in allowed][:3]
        assert counts[REFUSED] + len(late) >= CLIENTS - 1, "the freeze caught (almost) no request"
        assert late_logged == []
        assert slowest < SLACK_BUDGET
        # every late answer followed up once, by what is stored: "Logged" or "nothing stored"
        assert follow_ups == Counter(late) and set(told.values()) <= {CONFIRMED, REFUSED}, told
        assert set(stored) == confirmed  # nothing lost, nothing stored without "Logged"
        assert event_total(database) == len(stored)
        assert health_status == 503 and health_seconds < HEALTH_BUDGET + 0.3
        assert str(ping_text).startswith("pong") and ping_seconds < SLACK_BUDGET
        # After the thaw the bot serves again by itself.
        assert get_status(f"{base_url}/healthz") == 200
        assert send_log(base_url, "log call", user_id="U0AFTER",
                        trigger_id=random_trigger_id()).outcome == CONFIRMED


def test_ping_answers_with_postgres_stopped(private_cluster, database, slack_api):
    with serving(database, slack_api.base_url, deadline=COMMAND_DEADLINE) as base_url:
        assert ping(base_url).startswith("pong")
        private_cluster.stop("fast")
        try:
            assert ping(base_url).startswith("pong")
            assert get_status(f"{base_url}/healthz") == 503
        finally:
            private_cluster.start()

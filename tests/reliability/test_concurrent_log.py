"""Many Slack clients sending `/kpi log` at once over signed HTTP to the running server: every
request is confirmed, and exactly as many events are stored (and counted in the daily rollups)
as were sent — none lost, none doubled."""

from __future__ import annotations

import random

import pytest

from tests.reliability.harness import (
    CONFIRMED,
    Answer,
    deals_out_of_step,
    event_total,
    key_of,
    outcomes,
    rollup_sums,
    run_clients,
    send_log,
    stored_events,
    unexpected,
)
from tests.support.slack_signing import random_trigger_id

pytestmark = pytest.mark.reliability


def _command(rng: random.Random, client: int, n: int) -> tuple[str, int]:
    """A realistic mix: count events, a deal of one's own, and deals every client shares."""
    choice = n % 4
    if choice == 0:
        count = rng.randint(1, 40)
        return f"log call {count}", count
    if choice == 1:
        return f"log demo-booked deal-{client}-{n}", 1
    if choice == 2:  # every client touches the same few deals at the same time
        # the client number is quoted: a bare number after an opportunity is its amount, and
        # an amount of 0 (client 0) is refused
        return f'log opportunity shared-{n % 3} note="from client {client}"', 1
    return f"log meeting-booked shared-{n % 3}", 1


def test_concurrent_logs_are_stored_exactly_once(slack_server, database, sizes, figures):
    sent: dict[str, int] = {}  # trigger id -> count

    def client(index: int) -> list[Answer]:
        rng = random.Random(index)
        answers = []
        for n in range(sizes.requests_per_client):
            text, count = _command(rng, index, n)
            trigger = random_trigger_id()
            sent[trigger] = count
            answers.append(send_log(slack_server, text, user_id=f"U{index:03d}",
                                    trigger_id=trigger))
        return answers

    answers = run_clients(sizes.clients, client)
    stored = stored_events(database)
    events, count_sum = rollup_sums(database)
    figures.add(backend=database.dialect, clients=sizes.clients, requests_sent=len(answers),
                confirmed=outcomes(answers)[CONFIRMED], events_stored=len(stored),
                rollup_events=events, http_500=sum(a.status == 500 for a in answers))

    assert len(answers) == sizes.clients * sizes.requests_per_client
    assert unexpected(answers, (CONFIRMED,)) == []
    assert len(stored) == event_total(database) == len(answers)
    for answer in answers:
        assert stored[key_of(answer.trigger_id)][0] == answer.event_id
    assert len({a.event_id for a in answers}) == len(answers)
    assert events == len(answers)
    assert count_sum == sum(sent.values())
    assert deals_out_of_step(database) == {}

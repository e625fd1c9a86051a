"""Slack redelivers a request it thinks went unanswered (same trigger_id, with
`X-Slack-Retry-Num: 1` and `2`). The original and its retries, arriving together or one after the
other, store one event; every delivery is answered with that event's confirmation."""

from __future__ import annotations

import threading

import pytest

from tests.reliability.harness import (
    CONFIRMED,
    DUPLICATE,
    Answer,
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

DELIVERIES = (None, 1, 2)  # the original, then X-Slack-Retry-Num 1 and 2


def _check_groups(answers: list[Answer], groups: dict[str, int], database) -> None:
    """Per trigger id: one event stored, one first confirmation, the others say duplicate,
    and all name the same event."""
    stored = stored_events(database)
    assert unexpected(answers, (CONFIRMED, DUPLICATE)) == []
    assert set(stored) == {key_of(t) for t in groups}
    for trigger, count in groups.items():
        replies = [a for a in answers if a.trigger_id == trigger]
        assert len(replies) == len(DELIVERIES)
        assert outcomes(replies) == {CONFIRMED: 1, DUPLICATE: len(DELIVERIES) - 1}
        event_id, stored_count = stored[key_of(trigger)]
        assert {a.event_id for a in replies} == {event_id}
        assert stored_count == count
    for duplicate in (a for a in answers if a.outcome == DUPLICATE):
        assert "nothing was added" in duplicate.text


def test_retries_arriving_with_the_original_store_once(slack_server, database, sizes, figures):
    """Each request's three deliveries race: three clients are released together per request."""
    groups = {random_trigger_id(): n % 7 + 1 for n in range(sizes.retry_groups)}
    together = threading.Barrier(len(DELIVERIES))

    def delivery(index: int) -> list[Answer]:
        answers = []
        for n, (trigger, count) in enumerate(groups.items()):
            together.wait()
            answers.append(send_log(slack_server, f"log call {count}", user_id=f"U{n % 5}",
                                    trigger_id=trigger, retry_num=DELIVERIES[index]))
        return answers

    answers = run_clients(len(DELIVERIES), delivery)
    figures.add(backend=database.dialect, requests_sent=len(answers), distinct=len(groups),
                events_stored=event_total(database), http_500=sum(a.status == 500 for a in answers))
    _check_groups(answers, groups, database)
    assert rollup_sums(database) == (len(groups), sum(groups.values()))


def test_retries_after_the_original_store_once(slack_server, database, sizes, figures):
    """Slack's usual order: the original is answered, then the retries come in."""
    groups = {random_trigger_id(): n % 3 + 1 for n in range(max(4, sizes.retry_groups // 4))}
    answers = []
    for n, (trigger, count) in enumerate(groups.items()):
        for retry_num in DELIVERIES:
            answers.append(send_log(slack_server, f"log demo-booked deal-{n} {count}x",
                                    user_id="U0RETRY", trigger_id=trigger, retry_num=retry_num))
    figures.add(backend=database.dialect, requests_sent=len(answers), distinct=len(groups),
                events_stored=event_total(database), http_500=sum(a.status == 500 for a in answers))
    _check_groups(answers, groups, database)
    for n, trigger in enumerate(groups):
        first, *retries = (a for a in answers if a.trigger_id == trigger)
        assert first.outcome == CONFIRMED and f"deal-{n}" in first.text
        assert all(r.outcome == DUPLICATE for r in retries)

"""A command that cannot get the database within Slack's 3 s budget (another transaction holds
the write lock longer: a big import, a stuck session) must still end one way or the other: stored
and confirmed, or refused with nothing stored — never answered with a failure and stored later."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from storage.workspaces import lock_derived_rows
from tests.reliability.harness import (
    CONFIRMED,
    REFUSED,
    WORKSPACE,
    event_total,
    key_of,
    send_log,
    stored_events,
)
from tests.support.slack_signing import random_trigger_id

pytestmark = pytest.mark.reliability

HOLD_SECONDS = 4.0  # longer than Slack's (and Bolt's) 3 s


def test_command_blocked_past_slacks_budget_is_stored_and_confirmed_or_refused(
        slack_server, database, figures):
    first = send_log(slack_server, "log call", user_id="U0SLOW", trigger_id=random_trigger_id())
    assert first.outcome == CONFIRMED  # the workspace and user exist
    holding, answered = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with database.write() as session:
            session.execute(sa.text("UPDATE workspaces SET name = name WHERE id = :id"),
                            {"id": WORKSPACE})
            lock_derived_rows(session, WORKSPACE)  # PostgreSQL: what an import holds
            holding.set()
            answered.wait(HOLD_SECONDS)  # until the command is answered, at most 4 s

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    holding.wait(5)
    answer = send_log(slack_server, "log demo-booked acme", user_id="U0SLOW",
                      trigger_id=random_trigger_id())
    answered.set()
    holder.join()
    time.sleep(0.5)  # a handler still running after the answer would commit now
    stored = stored_events(database)
    figures.add(backend=database.dialect, requests_sent=2, faults_injected=1,
                events_stored=event_total(database), http_500=int(answer.status == 500),
                answer=f"{answer.status}/{answer.outcome}")
    assert answer.outcome in (CONFIRMED, REFUSED), answer
    assert (key_of(answer.trigger_id) in stored) == (answer.outcome == CONFIRMED)

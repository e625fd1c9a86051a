"""The Slack Web API failing (5xx, 429, a dropped connection, a slow answer, not reachable at all)
while the bot answers `/kpi log`: a command is answered in the HTTP response and needs no Web API
call, so it is stored and confirmed anyway (Bolt's auth.test on the first request once made
these a 500 or a "please reinstall this app" reply)."""

from __future__ import annotations

import pytest

from tests.reliability.harness import CONFIRMED, event_total, send_log
from tests.support.slack_signing import random_trigger_id

pytestmark = pytest.mark.reliability

FAULTS = {
    "500": {"status": 500},
    "429": {"status": 429, "retry_after": 1},
    "dropped connection": {"disconnect": True},
    "slow (4 s)": {"delay": 4.0},
    "unreachable": None,  # the stand-in stopped: connection refused
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_log_works_while_the_web_api_fails(slack_server, slack_api, database, fault, figures):
    if FAULTS[fault] is None:
        slack_api.stop()
    else:
        for method in ("auth.test", "users.info"):
            slack_api.fail_next(method, times=5, **FAULTS[fault])
    answers = [send_log(slack_server, "log call 2", user_id="U0API",
                        trigger_id=random_trigger_id()) for _ in range(5)]
    figures.add(backend=database.dialect, web_api=fault, requests_sent=len(answers),
                events_stored=event_total(database),
                http_500=sum(a.status == 500 for a in answers))
    assert [a.outcome for a in answers] == [CONFIRMED] * 5, answers[0]
    assert event_total(database) == 5

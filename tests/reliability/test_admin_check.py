"""The admin check (`users.info`) cannot make a command miss Slack's 3 s (issue 14, item 8).

With the Slack stand-in answering `users.info` only after 8 s, a non-admin's `/kpi digest off`
is answered well inside 3 s, refused with a clear reply, and nothing is changed; the failed
look-up is cached briefly, so the next admin command does not wait on Slack again."""

from __future__ import annotations

import time

import pytest

from tests.reliability.harness import SECRET, TEAM
from tests.support.slack_signing import post_slash_command

pytestmark = pytest.mark.reliability

SLACK_BUDGET = 3.0


def _send(base_url: str, text: str, user_id: str) -> tuple[float, dict]:
    started = time.monotonic()
    status, payload, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                            user_id=user_id, channel_id="C0ADM", timeout=15)
    assert status == 200, payload
    return time.monotonic() - started, payload


def test_a_slow_admin_lookup_is_refused_inside_slacks_budget(slack_server, slack_api, figures):
    slack_api.fail_next("users.info", delay=8, times=5)
    took, first = _send(slack_server, "digest off", "U0NOBODY")
    took_again, second = _send(slack_server, "digest here weekly mon 09:00", "U0NOBODY")
    figures.add(requests_sent=2, first_answer_s=round(took, 2),
                second_answer_s=round(took_again, 2),
                users_info_calls=len(slack_api.calls_to("users.info")))
    assert took < SLACK_BUDGET and took_again < SLACK_BUDGET
    for payload in (first, second):
        assert "could not check with Slack whether you are an admin" in payload["text"]
        assert "nothing was changed" in payload["text"]
    assert len(slack_api.calls_to("users.info")) == 1  # the failure was cached
    _took, listed = _send(slack_server, "digest list", "U0NOBODY")
    assert "No digest" in listed["text"] or "no digest" in listed["text"].lower()

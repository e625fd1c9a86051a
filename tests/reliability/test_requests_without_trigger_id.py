"""A signed slash command without `trigger_id` (other senders of signed requests may omit it)
is stored once however often it is delivered (issue 14, item 11): the key is derived from the
team, user, channel, command text and the signed request timestamp, which Slack's retries
(`X-Slack-Retry-Num`) repeat."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from tests.reliability.harness import (
    CONFIRMED,
    DUPLICATE,
    SECRET,
    TEAM,
    WORKSPACE,
    classify,
    event_total,
)
from tests.support.slack_signing import FORM_CONTENT_TYPE, post_signed

pytestmark = pytest.mark.reliability


def body_without_trigger_id(text: str, user_id: str = "U0NOTRIG") -> str:
    return urllib.parse.urlencode([
        ("team_id", TEAM), ("team_domain", "reliability"), ("channel_id", "C0REL"),
        ("user_id", user_id), ("user_name", "nt"), ("command", "/kpi"), ("text", text)])


def deliver(base_url: str, body: str, timestamp: int, retry: int | None = None):
    extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} \
        if retry else None
    status, payload, _ = post_signed(f"{base_url}/slack/events", body, secret=SECRET,
                                     timestamp=timestamp, content_type=FORM_CONTENT_TYPE,
                                     extra_headers=extra)
    return classify(status, payload)


def test_replays_and_retries_without_trigger_id_store_one_event(slack_server, database,
                                                                 figures):
    timestamp = int(time.time())
    body = body_without_trigger_id("log demo-booked acme")
    answers = [deliver(slack_server, body, timestamp),
               deliver(slack_server, body, timestamp),
               deliver(slack_server, body, timestamp, retry=1),
               deliver(slack_server, body, timestamp, retry=2)]
    outcomes = [outcome for outcome, _, _ in answers]
    assert outcomes == [CONFIRMED, DUPLICATE, DUPLICATE, DUPLICATE], answers
    assert len({event_id for _, event_id, _ in answers}) == 1
    # Another request: a new timestamp, or the same second from another user, is stored.
    later = deliver(slack_server, body, timestamp + 1)
    other_user = deliver(slack_server, body_without_trigger_id("log demo-booked acme", "U0B"),
                         timestamp)
    assert (later[0], other_user[0]) == (CONFIRMED, CONFIRMED)
    stored = event_total(database)
    figures.add(backend=database.dialect, requests_sent=6, events_stored=stored,
                doubled=stored - 3, workspace=WORKSPACE)
    assert stored == 3

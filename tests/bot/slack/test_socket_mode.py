"""Slack over Socket Mode: the bot's real Socket Mode client against the local stand-in
(tests/support/socket_mode.py), on both databases, with no signing secret anywhere."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.logs import QuietChatSdks, redact
from bot.settings import build_settings
from bot.wiring import build_bot
from storage.models import Event
from tests.support.socket_mode import (
    app_home_opened,
    app_mention,
    block_actions,
    block_suggestion,
    global_shortcut,
    message_shortcut,
    retry,
    running_socket_mode,
    slash_command,
    socket_mode_server,
    view_submission,
)


@pytest.fixture
def socket_slack(slack_api, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    with socket_mode_server(slack_api) as slack:
        yield slack


def _bot(database, slack_api, socket_slack, clock):
    settings = build_settings(
        DATABASE_URL=database.engine.url.render_as_string(hide_password=False),
        SLACK_BOT_TOKEN="xoxb-test-token", SLACK_APP_TOKEN=socket_slack.app_token,
        SLACK_API_URL=slack_api.base_url, KPIBOT_ADMINS="U_BOSS",
        KPIBOT_TIMEZONE="Europe/Oslo")
    assert settings.slack_signing_secret is None
    settings.require_socket_mode()
    return build_bot(settings, database=database, clock=clock)


@pytest.fixture
def over_socket(database, slack_api, socket_slack, clock):
    """The bot connected over Socket Mode; yields the stand-in."""
    with running_socket_mode(_bot(database, slack_api, socket_slack, clock)):
        yield socket_slack


@pytest.fixture
def over_socket_fast_pings(database, slack_api, socket_slack, clock):
    """As over_socket, pinging every 3 s (not 10): a silently dropped connection is noticed
    sooner. (A ping unanswered for half the interval also replaces the connection: tests using
    this count connections with >=.)"""
    with running_socket_mode(_bot(database, slack_api, socket_slack, clock), ping_interval=3):
        yield socket_slack


def _events(database, team="T0001"):
    with database.read() as session:
        return session.scalars(select(Event).where(Event.workspace_id == f"slack:{team}")
                            .order_by(Event.id)).all()


def test_a_slash_command_is_stored_once_and_the_ack_carries_the_reply(over_socket, database):
    ack = over_socket.deliver(slash_command("log demo-booked acme", user_id="U1"))
    (event,) = _events(database)
    assert (event.kind, event.deal_key, event.user_id, event.channel_id) == (
        "demo-booked", "acme", "U1", "C_SALES")
    assert ack.payload["response_type"] == "ephemeral"
    assert "Logged demo-booked" in ack.payload["text"] and f"#{event.id}" in ack.payload["text"]
    assert ack.payload["blocks"]
    assert over_socket.opens == 1


def test_an_envelope_delivered_again_after_a_reconnect_stores_once(over_socket_fast_pings,
                                                                   database):
    slack = over_socket_fast_pings
    slack.lose_next_ack()  # the ack never reaches Slack, then the network fails
    envelope_id = slack.send(slash_command("log deal-won acme 12k", user_id="U1"))
    (lost,) = slack.wait_lost_acks()
    assert lost.envelope_id == envelope_id and "Logged deal-won" in lost.payload["text"]
    slack.drop()
    slack.wait_connections(2)  # Slack delivers the unacknowledged envelope again on it
    again = slack.wait_ack(envelope_id)
    assert again.connection >= 2
    (event,) = _events(database)
    assert event.kind == "deal-won" and event.amount_minor == 1_200_000
    assert "already stored" in again.payload["text"] and f"#{event.id}" in again.payload["text"]
    assert slack.opens >= 2


def test_slacks_retry_of_a_command_stores_once(over_socket, database):
    first = slash_command("log call 3", user_id="U2")
    over_socket.deliver(first)
    ack = over_socket.deliver(retry(first))
    (event,) = _events(database)
    assert event.count == 3 and "already stored" in ack.payload["text"]


@pytest.mark.parametrize("reason", ["refresh_requested", "link_disabled"])
def test_disconnect_opens_a_new_connection_and_keeps_answering(over_socket, database, reason,
                                                               caplog):
    with caplog.at_level(logging.INFO, logger="bot.slack.socket_mode"):
        over_socket.deliver(slash_command("log call", user_id="U1"))
        over_socket.disconnect(reason)
        over_socket.wait_connections(2)
        over_socket.wait_closed(1)  # the bot leaves the old one
        ack = over_socket.deliver(slash_command("log meeting-booked globex", user_id="U1"))
    assert ack.connection == 2 and "Logged meeting-booked" in ack.payload["text"]
    assert over_socket.opens == 2  # a fresh URL: the old one cannot be used again
    assert [e.kind for e in _events(database)] == ["call", "meeting-booked"]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert ("Socket Mode is turned off" if reason == "link_disabled" else reason) in said


def test_a_dropped_connection_is_replaced(over_socket_fast_pings, database):
    slack = over_socket_fast_pings
    slack.deliver(slash_command("log call", user_id="U1"))
    slack.drop()
    slack.wait_connections(2)
    ack = slack.deliver(slash_command("undo", user_id="U1"))
    assert ack.connection >= 2 and "Undone" in ack.payload["text"]
    (event,) = _events(database)
    assert event.voided_at is not None
    assert slack.opens >= 2


@pytest.mark.parametrize("envelope", [
    block_actions("kpibot-no-such-action", "1"),
    view_submission("kpibot-no-such-view", {}),
    global_shortcut("kpibot-no-such-shortcut"),
    message_shortcut("kpibot-no-such-shortcut", "demo booked with acme"),
    block_suggestion("kpibot-no-such-select", "ac"),
    app_home_opened(),
    app_mention("funnel"),
], ids=lambda e: e["payload"].get("type") if e["type"] == "interactive"
    else e["payload"].get("event", {}).get("type"))
def test_every_envelope_type_is_acknowledged_and_stores_nothing_it_does_not_handle(
        over_socket, database, envelope):
    ack = over_socket.deliver(envelope)
    assert ack.connection == 1
    assert _events(database) == []


def test_envelopes_never_reach_the_logs_even_at_debug(database, slack_api, socket_slack, clock,
                                                      caplog):
    caplog.handler.addFilter(QuietChatSdks())  # as configure_logging's handler has it
    with caplog.at_level(logging.DEBUG), \
            running_socket_mode(_bot(database, slack_api, socket_slack, clock)):
        socket_slack.deliver(slash_command("log deal-won zanzibar-secret-deal 5k"))
    assert [e.deal_key for e in _events(database)] == ["zanzibar-secret-deal"]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG was on
    leaked = [r.getMessage() for r in caplog.records if "zanzibar" in r.getMessage()]
    assert leaked == []


def test_the_connection_ticket_is_redacted_in_logs():
    line = redact("Failed to connect to ws://127.0.0.1:1/link/?ticket=5f1e2d&app_id=A0001")
    assert "5f1e2d" not in line and "ticket=[redacted]" in line


def test_the_bot_keeps_trying_while_slack_refuses_new_connections(over_socket_fast_pings,
                                                                  slack_api, database):
    """After a dropped connection apps.connections.open fails twice (Slack's side down, or
    Socket Mode switched off and on again): the bot keeps asking and answers once it may."""
    slack = over_socket_fast_pings
    slack_api.fail_next("apps.connections.open", error="internal_error", times=2)
    slack.drop()
    slack.wait_connections(2)
    ack = slack.deliver(slash_command("log call", user_id="U1"))
    assert "Logged call" in ack.payload["text"]
    refused = [c for c in slack_api.calls_to("apps.connections.open")
               if c.response.get("error") == "internal_error"]
    assert len(refused) == 2 and slack.opens >= 2
    assert [e.kind for e in _events(database)] == ["call"]

"""Digests in Teams: a proactive Adaptive Card to a channel the bot was added to, or a Teams
Workflows webhook; same ledger and failure rules as Slack. Offline, against `TeamsCloud`."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from bot.digests.channels import TeamsChannel
from bot.digests.delivery import REPOSTED_NOTE, DeliveryPolicy, DigestDeliverer
from bot.wiring import build_bot
from sampledata import seed_workspace
from storage import digests as ledger
from tests.bot.teams.card_schema import assert_valid_card
from tests.bot.teams.test_teams_http import BOSS, CHANNEL, WORKSPACE, _card, _send, _settings
from tests.support.teams import (
    LOOPBACK_WORKFLOWS,
    channel_message,
    conversation_update,
    running_bot_server,
)

SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def _no_sleep(_seconds: float) -> None:
    return None


def _deliverer(bot, clock):
    return DigestDeliverer(database=bot.database, channels={"teams": TeamsChannel(bot.teams)},
                           clock=clock, policy=DeliveryPolicy(), worker="teams-test",
                           sleep=_no_sleep)


def _seed(database):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=400,
                   end=SLOT - timedelta(hours=2), timezone="Europe/Oslo", platform="teams")


def test_teams_digest_schedule_posts_one_valid_adaptive_card(database, teams_cloud, clock):
    _seed(database)
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        _send(teams_cloud, base_url, conversation_update(service_url=teams_cloud.service_url))
        activity = channel_message("kpi digest here", service_url=teams_cloud.service_url,
                                   sender=BOSS)
        _send(teams_cloud, base_url, activity)
        (reply,) = teams_cloud.connector_calls("reply")
        assert "Digest set" in str(_card(reply))
        with database.read() as session:
            (schedule,) = ledger.list_schedules(session=session)
        assert (schedule.platform, schedule.channel_id) == ("teams", CHANNEL)
        with database.write() as session:  # configured days ago
            schedule.updated_at = SLOT - timedelta(days=3)
            session.add(schedule)
        clock.now = SLOT
        outcomes = asyncio.run(_deliverer(bot, clock).catch_up())
        assert [o.status for o in outcomes] == ["sent"]
        assert asyncio.run(_deliverer(bot, clock).catch_up()) == []
    (sent,) = teams_cloud.connector_calls("send")
    assert sent.conversation_id == CHANNEL
    card = _card(sent)
    assert_valid_card(card)
    assert card["version"] == "1.5"
    with database.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert (row.status, row.attempts) == ("sent", 1) and row.message_id


def test_references_survive_a_restart(database, teams_cloud, clock):
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        _send(teams_cloud, base_url, conversation_update(service_url=teams_cloud.service_url))
    again = build_bot(_settings(database, teams_cloud), database=database, clock=clock)
    reference = again.teams.references.get_reference(WORKSPACE, CHANNEL)
    assert reference is not None and reference.service_url == teams_cloud.service_url


def test_workflow_webhook_schedule_posts_the_card_and_keeps_the_url_secret(
        database, teams_cloud, clock, caplog):
    caplog.set_level(logging.DEBUG)
    _seed(database)
    url = teams_cloud.workflow_url("sales")
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock,
                    outbound=LOOPBACK_WORKFLOWS)
    with running_bot_server(bot) as base_url:
        activity = channel_message(f"kpi digest here webhook={url}",
                                   service_url=teams_cloud.service_url, sender=BOSS)
        _send(teams_cloud, base_url, activity)
        (reply,) = teams_cloud.connector_calls("reply")
        shown = str(_card(reply))
        assert "Workflows webhook" in shown and url not in shown
        with database.read() as session:
            (schedule,) = ledger.list_schedules(session=session)
        assert schedule.webhook_url == url
        teams_cloud.fail_next("workflow", status=429, retry_after=0)
        outcome = asyncio.run(_deliverer(bot, clock).deliver_slot(schedule, SLOT))
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert len(teams_cloud.workflow_posts) == 2  # the 429 and the retry
    post = teams_cloud.workflow_posts[-1]
    assert post.body["type"] == "message"
    (attachment,) = post.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert_valid_card(attachment["content"])
    assert url not in caplog.text


def test_digest_preview_in_teams_is_a_valid_adaptive_card(database, teams_cloud, clock):
    _seed(database)
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock)
    with running_bot_server(bot) as base_url:
        _send(teams_cloud, base_url, channel_message("kpi digest preview",
                                                     service_url=teams_cloud.service_url))
    (reply,) = teams_cloud.connector_calls("reply")
    card = _card(reply)
    assert_valid_card(card)
    text = str(card)
    assert "Preview of this channel's digest" in text and "Weekly digest" in text


def test_an_interrupted_teams_digest_is_posted_again_and_says_so(database, teams_cloud, clock):
    """Teams has no read-back: a slot whose post may have landed is posted again (at least
    once), and the ledger notes it; nothing stays claimed."""
    _seed(database)
    url = teams_cloud.workflow_url("sales")
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock,
                    outbound=LOOPBACK_WORKFLOWS)
    with running_bot_server(bot) as base_url:
        _send(teams_cloud, base_url, channel_message(f"kpi digest here webhook={url}",
                                                     service_url=teams_cloud.service_url,
                                                     sender=BOSS))
    with database.write() as session:  # a process died mid-post, after one counted attempt
        (schedule,) = ledger.list_schedules(session=session)
        claim = ledger.claim_slot(session=session, schedule=schedule, slot_at=SLOT,
                                  worker="dead:1", now=SLOT, lease=timedelta(minutes=10),
                                  trigger="manual")
        ledger.renew_claim(session=session, delivery_id=claim.id, worker="dead:1", now=SLOT,
                           lease=timedelta(minutes=10), attempts=1)
    clock.now = SLOT + timedelta(minutes=11)
    outcomes = asyncio.run(_deliverer(bot, clock).catch_up())
    assert [(o.status, o.note) for o in outcomes] == [("sent", REPOSTED_NOTE.format(
        platform="Teams"))]
    assert len(teams_cloud.workflow_posts) == 1
    with database.read() as session:
        (row,) = [r for r in ledger.list_deliveries(session=session) if r.trigger == "manual"]
    assert (row.status, row.attempts) == ("sent", 2) and "may show it twice" in row.note

"""Proactive cards and Workflows webhooks against the local Bot Connector stand-in."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.digests.outbound import OutboundPolicy, mask_url
from bot.replies import Reply
from bot.teams.auth import ConnectorTokenProvider
from bot.teams.cards import render_card
from bot.teams.connector import (
    TeamsDeliveryError,
    TeamsSender,
    check_workflow_url,
    post_to_workflow,
)
from bot.teams.references import InMemoryReferenceStore, StoredReference
from tests.bot.teams.card_schema import assert_valid_card
from tests.support.teams import APP_ID, APP_PASSWORD, LOOPBACK_WORKFLOWS, TENANT_ID

CHANNEL = "19:c0ffee0123456789abcdef0123456789@thread.tacv2"


def _reference(cloud, **overrides) -> StoredReference:
    fields = dict(workspace_id=f"teams:{TENANT_ID}", conversation_key=CHANNEL,
                  conversation_id=CHANNEL, service_url=cloud.service_url, bot_id=f"28:{APP_ID}",
                  tenant_id=TENANT_ID, conversation_type="channel")
    fields.update(overrides)
    return StoredReference(**fields)


@pytest.fixture
def sender(teams_cloud):
    return TeamsSender(ConnectorTokenProvider(app_id=APP_ID, password=APP_PASSWORD,
                                              token_url=teams_cloud.token_url))


def test_send_card_posts_a_new_message_and_returns_its_id(sender, teams_cloud):
    card = render_card(Reply(text="Weekly digest: 12 demos"))
    ids = [asyncio.run(sender.send_card(_reference(teams_cloud), card, "Weekly digest"))
           for _ in range(2)]
    first, second = teams_cloud.connector_calls("send")
    assert ids == [first.response["id"], second.response["id"]] and ids[0] != ids[1]
    assert first.path == f"/amer/v3/conversations/{CHANNEL}/activities"
    assert first.body["type"] == "message" and first.body["text"] == "Weekly digest"
    assert first.body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert_valid_card(first.body["attachments"][0]["content"])
    assert len(teams_cloud.token_requests) == 1  # token cached across sends


@pytest.mark.parametrize(("status", "code", "transient"), [
    (429, "rate_limited", True),
    (500, "server_error", True),
    (503, "server_error", True),
    (400, "bad_request", False),
    (403, "bot_not_in_conversation", False),
    (404, "conversation_not_found", False),
])
def test_send_failures_are_classified_for_the_retry_rules(sender, teams_cloud, status, code,
                                                          transient):
    teams_cloud.fail_next("connector", status=status, retry_after=3 if status == 429 else None)
    with pytest.raises(TeamsDeliveryError) as failure:
        asyncio.run(sender.send_card(_reference(teams_cloud), render_card(Reply(text="x")), "x"))
    assert (failure.value.status, failure.value.code, failure.value.transient) == (
        status, code, transient)
    if status == 429:
        assert failure.value.retry_after == 3.0


def test_an_unreachable_connector_is_transient(sender, teams_cloud):
    reference = _reference(teams_cloud, service_url="http://127.0.0.1:9/amer/")
    with pytest.raises(TeamsDeliveryError) as failure:
        asyncio.run(sender.send_card(reference, render_card(Reply(text="x")), "x"))
    assert failure.value.transient and failure.value.code == "connection_error"


def test_workflow_urls_are_checked_and_masked(teams_cloud, caplog):
    caplog.set_level(logging.DEBUG)
    url = ("https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
           "invoke?api-version=2016-06-01&sig=SuperSecretSignatureValue1234")
    public = OutboundPolicy(lookup=lambda host, port: ["13.69.0.10"])  # no DNS in tests
    assert check_workflow_url(f"  {url} ", public) == url
    masked = mask_url(url)
    assert masked == "https://prod-42.westeurope.logic.azure.com/…1234"
    assert "SuperSecret" not in masked
    for bad in ("http://prod-42.westeurope.logic.azure.com/x", "ftp://x/y", "https://",
                "not a url"):
        with pytest.raises(ValueError):
            check_workflow_url(bad, public)
    # unreachable webhook: the error names no part of the URL's secret
    with pytest.raises(TeamsDeliveryError) as failure:
        asyncio.run(post_to_workflow("http://127.0.0.1:9/workflows/x?sig=TopSecretSig",
                                     render_card(Reply(text="x")), timeout=2,
                                     policy=LOOPBACK_WORKFLOWS))
    assert failure.value.transient
    assert "TopSecretSig" not in str(failure.value) and "TopSecretSig" not in caplog.text


def test_workflow_rate_limit_keeps_retry_after(teams_cloud):
    teams_cloud.fail_next("workflow", status=429, retry_after=30)
    with pytest.raises(TeamsDeliveryError) as failure:
        asyncio.run(post_to_workflow(teams_cloud.workflow_url(), render_card(Reply(text="x")),
                                     policy=LOOPBACK_WORKFLOWS))
    assert (failure.value.code, failure.value.retry_after) == ("rate_limited", 30.0)


def test_in_memory_reference_store(teams_cloud):
    store = InMemoryReferenceStore()
    channel = _reference(teams_cloud)
    personal = _reference(teams_cloud, conversation_key="a:1xyz", conversation_id="a:1xyz",
                          conversation_type="personal", user_id="aad-boss")
    store.save_reference(channel)
    store.save_reference(personal)
    assert store.get_reference(channel.workspace_id, CHANNEL) == channel
    assert store.get_reference("teams:other", CHANNEL) is None
    assert store.personal_reference(channel.workspace_id, "aad-boss") == personal
    assert store.personal_reference(channel.workspace_id, "aad-alice") is None
    assert [r.conversation_key for r in store.list_references(channel.workspace_id)] == [
        CHANNEL, "a:1xyz"]
    moved = _reference(teams_cloud, service_url="https://smba.trafficmanager.net/emea/")
    store.save_reference(moved)
    assert store.get_reference(channel.workspace_id, CHANNEL).service_url.endswith("/emea/")
    store.remove_reference(channel.workspace_id, CHANNEL)
    store.remove_reference(channel.workspace_id, CHANNEL)
    assert store.get_reference(channel.workspace_id, CHANNEL) is None

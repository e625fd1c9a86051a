"""The Slack surfaces stay inside Slack's limits and pass slack_sdk's validation whatever the
data: a digest with its buttons, a Home tab with more than fits, a modal for every event."""

from __future__ import annotations

from datetime import date

import pytest

from bot.handlers.home import DigestRow, Home, StalledDeal
from bot.replies import Reply, Section
from bot.slack.digest_buttons import with_digest_buttons
from bot.slack.views import home_view, log_modal, metadata
from reports.digest.render import render_slack
from reports.events import KINDS
from tests.reports.digest.samples import huge_digest, nasty_digest, sample_digest
from tests.support.slack_views import assert_valid_blocks, assert_valid_view


@pytest.mark.parametrize("digest", [sample_digest(), nasty_digest(), huge_digest()],
                         ids=["sample", "nasty", "huge"])
def test_a_digest_keeps_its_buttons_within_50_blocks(digest):
    blocks = with_digest_buttons(render_slack(digest)["blocks"])
    assert_valid_blocks(blocks)
    assert [e["action_id"] for e in blocks[-1]["elements"]] == [
        "kpi_digest_funnel", "kpi_digest_stalled", "kpi_digest_pause"]


def test_a_home_with_more_than_fits_is_cut_at_100_blocks():
    nasty = "<!channel> *bold* <http://x|y> " + "x" * 4000
    team = Reply(text="Funnel", sections=tuple(Section(title=nasty, lines=(nasty,),
                                                       fields=(("a", nasty),) * 12)
                                               for _ in range(20)))
    home = Home(week=Reply(text="You · this week", sections=(Section(fields=(("a", "1"),)),)),
                logs=tuple((i, nasty) for i in range(8)),
                open_by_stage=(("lead", 3), ("sql", 1)),
                stalled=tuple(StalledDeal(nasty, "sql", 12.5) for _ in range(5)),
                admin=True, team=(team, team),
                digests=tuple(DigestRow(f"C{i}", nasty) for i in range(40)))
    view = home_view(home)
    assert len(view["blocks"]) == 100
    assert_valid_view(view)
    assert "more than fits" in str(view["blocks"][-1])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_modal_of_every_event_is_a_valid_view(kind):
    values = {"kind": kind, "deal": "d" * 120, "note": "n" * 600, "amount": "12k"}
    view = log_modal(kind=KINDS[kind], values=values, today=date(2026, 11, 18),
                     currency="NOK", private_metadata=metadata(c="C1"))
    assert_valid_view(view)
    (currency,) = [b for b in view["blocks"] if b["block_id"] == "currency"] or [None]
    if currency is not None:
        assert currency["element"]["initial_option"]["value"] == "NOK"


def test_a_posted_digest_carries_its_buttons(slack_api):
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.digests.channels import SlackChannel
    from storage.models import DigestSchedule

    channel = SlackChannel(AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url))
    schedule = DigestSchedule(workspace_id="slack:T1", platform="slack", channel_id="C_SALES")
    asyncio.run(channel.post(schedule, sample_digest(), slot_key="weekly:2026-11-23"))
    (call,) = slack_api.calls_to("chat.postMessage")
    blocks = call.json_field("blocks")
    assert_valid_blocks(blocks)
    assert blocks[-1]["block_id"] == "kpi_digest"

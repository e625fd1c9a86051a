"""A scripted session over signed HTTP: `/kpi log` opens the modal, the event is chosen (the
modal redraws), a deal is suggested, a bad amount is refused on its field, the fixed form
stores one event with an Undo button, Undo twice voids it once, Home no longer shows it."""

from __future__ import annotations

from tests.bot.slack.conftest import SECRET, stored_events
from tests.support.slack_interactive import (
    app_home_opened,
    block_actions,
    block_suggestion,
    post_event,
    post_payload,
    state_for,
    view_submission,
)
from tests.support.slack_signing import post_slash_command
from tests.support.slack_views import assert_valid_blocks, assert_valid_message, assert_valid_view


def _texts(blocks) -> str:
    """Every text in the blocks, joined (what a person reads)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(blocks)
    return "\n".join(found)


def _undo_value(call) -> str:
    blocks = call.json_field("blocks")
    (button,) = [e for b in blocks if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "kpi_undo"]
    return button["value"]


def test_modal_session_stores_once_and_undo_voids_once(slack_bot, database, slack_api,
                                                      slack_views):
    _bot, base_url = slack_bot
    assert post_event(base_url, app_home_opened("U1"), secret=SECRET)[0] == 200
    slack_api.wait_for("views.publish")  # Home opened: republished after each log from now on
    seeded = post_slash_command(base_url, "log lead acme", secret=SECRET, user_id="U1")
    assert seeded[0] == 200 and "Logged lead" in seeded[1]["text"]
    assert_valid_blocks(seeded[1]["blocks"])
    assert "kpi_undo" in str(seeded[1]["blocks"])  # every log confirmation has its Undo

    status, body, _ = post_slash_command(base_url, "log", secret=SECRET, user_id="U1",
                                         channel_id="C_SALES")
    assert status == 200 and not (body or {}).get("text")  # the modal opened instead
    (opened,) = slack_views.opened
    assert_valid_view(opened)
    assert [b["block_id"] for b in opened["blocks"]][:2] == ["kind", "deal"]
    assert "amount" not in [b["block_id"] for b in opened["blocks"]]

    # choosing deal-won redraws the modal with the amount (views.update)
    chosen = {**opened, "state": state_for(opened, {"kind": "deal-won"})}
    assert post_payload(base_url, block_actions("kind", view=chosen, selected="deal-won",
                                                block_id="kind"), secret=SECRET)[0] == 200
    (update,) = slack_api.wait_for("views.update")
    assert update.response["ok"] is True
    view = slack_views.views[opened["id"]]
    assert_valid_view(view)
    assert {"amount", "currency", "mrr"} <= {b["block_id"] for b in view["blocks"]}

    # the deal box suggests the workspace's deals, and the typed name as a new one
    status, options, _ = post_payload(base_url, block_suggestion("deal", "AC", view=view),
                                      secret=SECRET)
    assert status == 200
    assert [o["value"] for o in options["options"]] == ["acme", "AC"]
    status, options, _ = post_payload(base_url, block_suggestion("deal", "Globex", view=view),
                                      secret=SECRET)
    assert [o["value"] for o in options["options"]] == ["Globex"]

    bad = {"kind": "deal-won", "deal": "acme", "amount": "12kk", "currency": "USD"}
    status, answer, _ = post_payload(base_url, view_submission(view, bad), secret=SECRET)
    assert status == 200 and answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["amount"] and "12kk" in answer["errors"]["amount"]
    assert [e.kind for e in stored_events(database)] == ["lead"]

    good = {**bad, "amount": "12k", "note": "signed <@U2> & co"}
    for _attempt in range(2):  # Slack retries a submission: one event
        status, answer, _ = post_payload(base_url, view_submission(view, good), secret=SECRET)
        assert status == 200 and not answer
    lead, won = stored_events(database)
    assert (won.kind, won.deal_key, won.amount_minor, won.user_id, won.channel_id) == (
        "deal-won", "acme", 1_200_000, "U1", "C_SALES")
    assert won.note == "signed <@U2> & co"
    confirmations = slack_api.wait_for("chat.postEphemeral", 2)
    for call in confirmations:
        assert_valid_message(call)
        assert call.body["channel"] == "C_SALES" and call.body["user"] == "U1"
    assert f"#{won.id}" in confirmations[0].body["text"]
    homes = slack_api.wait_for("views.publish", 4)  # opened, the text log, each submission
    assert any(f"#{won.id} deal-won" in _texts(home.json_field("view")["blocks"])
               for home in homes)

    value = _undo_value(confirmations[0])
    for attempt in range(2):
        click = block_actions("kpi_undo", value, response_url=slack_api.response_url(
            f"undo{attempt}"))
        assert post_payload(base_url, click, secret=SECRET)[0] == 200
    answers = {call.path: call for call in slack_api.wait_for("response_url", 2)}
    first, second = answers["/response/undo0"], answers["/response/undo1"]
    assert first.body["replace_original"] is True
    assert f"Undone #{won.id}" in first.body["text"]
    assert second.body["replace_original"] is False
    assert second.body["response_type"] == "ephemeral"
    assert "already undone" in second.body["text"]
    for call in (first, second):
        assert_valid_blocks(call.body["blocks"])
    voided = [e for e in stored_events(database) if e.voided_at is not None]
    assert [e.id for e in voided] == [won.id]

    count = len(slack_api.calls_to("views.publish"))
    assert post_event(base_url, app_home_opened("U1"), secret=SECRET)[0] == 200
    home = slack_api.wait_for("views.publish", count + 1)[-1].json_field("view")
    assert_valid_view(home)
    shown = _texts(home["blocks"])
    assert f"#{won.id}" not in shown and f"#{lead.id} lead" in shown

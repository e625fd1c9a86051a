"""A scripted session, over signed HTTP and over Socket Mode (no signing secret): `/kpi log`
opens the modal, the event is chosen (the modal redraws), a deal is suggested, a bad amount is
refused on its field, the fixed form stores one event with an Undo button, Undo twice voids it
once, Home no longer shows it. Both transports leave the same events and get the same answers
(SESSION_EVENTS, SESSION_ANSWERS)."""

from __future__ import annotations

import re

from tests.bot.slack.conftest import stored_events
from tests.support.slack_interactive import (
    app_home_opened,
    block_actions,
    block_suggestion,
    state_for,
    view_submission,
)
from tests.support.slack_views import assert_valid_blocks, assert_valid_message, assert_valid_view

# (kind, deal, amount in minor units, voided) of each event the session leaves
SESSION_EVENTS = [("lead", "acme", None, False), ("deal-won", "acme", 1_200_000, True)]
_ON = "on Wed 18 Nov 2026"
_WON = f'deal-won "acme" $12,000.00 {_ON} — signed &lt;@U2&gt; &amp; co'
# what Slack gets back, step by step: the `/kpi log lead acme` reply, the bare `/kpi log` ack
# (the modal opened), two type-aheads, the bad amount's field error, the fixed form submitted
# twice, its confirmation, then the two Undo answers (event numbers as N)
SESSION_ANSWERS = [
    f'Logged lead "acme" {_ON} (#N)\n\nWrong? /kpi undo N',
    None,
    ["acme", "AC"],
    ["Globex"],
    {"response_action": "errors", "errors": {"amount": (
        '"12kk" is not a number: use one k or m at most, like 12k or 1.5m. '
        '(Quote it if it is a name: "12kk".)')}},
    None,
    None,
    f"Logged {_WON} (#N)\n\nWrong? /kpi undo N",
    f"Undone #N: {_WON}\n\nThe event is kept, marked void, and no longer counts.",
    "Event #N was already undone; nothing changed.",
]


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


def _said(text: str) -> str:
    """A reply's text without the event numbers (they differ between databases)."""
    return re.sub(r"(#|undo )\d+", r"\1N", text)


def test_modal_session_stores_once_and_undo_voids_once(slack_transport, database, slack_api,
                                                      slack_views):
    slack = slack_transport  # signed HTTP or Socket Mode: the same steps, the same answers
    answers: list = []  # what Slack gets back, step by step, as SESSION_ANSWERS
    assert slack.send(app_home_opened("U1")) == (200, None)
    slack_api.wait_for("views.publish")  # Home opened: republished after each log from now on
    status, seeded = slack.command("log lead acme", user_id="U1")
    assert status == 200 and "Logged lead" in seeded["text"]
    answers.append(_said(seeded["text"]))
    assert_valid_blocks(seeded["blocks"])
    assert "kpi_undo" in str(seeded["blocks"])  # every log confirmation has its Undo

    status, body = slack.command("log", user_id="U1", channel_id="C_SALES")
    assert status == 200 and not (body or {}).get("text")  # the modal opened instead
    answers.append(body or None)
    (opened,) = slack_views.opened
    assert_valid_view(opened)
    assert [b["block_id"] for b in opened["blocks"]][:2] == ["kind", "deal"]
    assert "amount" not in [b["block_id"] for b in opened["blocks"]]

    # choosing deal-won redraws the modal with the amount (views.update)
    chosen = {**opened, "state": state_for(opened, {"kind": "deal-won"})}
    assert slack.send(block_actions("kind", view=chosen, selected="deal-won",
                                    block_id="kind")) == (200, None)
    (update,) = slack_api.wait_for("views.update")
    assert update.response["ok"] is True
    view = slack_views.views[opened["id"]]
    assert_valid_view(view)
    assert {"amount", "currency", "mrr"} <= {b["block_id"] for b in view["blocks"]}

    # the deal box suggests the workspace's deals, and the typed name as a new one
    for typed in ("AC", "Globex"):
        status, options = slack.send(block_suggestion("deal", typed, view=view))
        assert status == 200
        answers.append([o["value"] for o in options["options"]])

    bad = {"kind": "deal-won", "deal": "acme", "amount": "12kk", "currency": "USD"}
    status, answer = slack.send(view_submission(view, bad))
    assert status == 200 and answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["amount"] and "12kk" in answer["errors"]["amount"]
    answers.append(answer)
    assert [e.kind for e in stored_events(database)] == ["lead"]

    good = {**bad, "amount": "12k", "note": "signed <@U2> & co"}
    for _attempt in range(2):  # Slack retries a submission: one event
        status, answer = slack.send(view_submission(view, good))
        assert status == 200 and not answer
        answers.append(answer)
    lead, won = stored_events(database)
    assert (won.kind, won.deal_key, won.amount_minor, won.user_id, won.channel_id) == (
        "deal-won", "acme", 1_200_000, "U1", "C_SALES")
    assert won.note == "signed <@U2> & co"
    confirmations = slack_api.wait_for("chat.postEphemeral", 2)
    for call in confirmations:
        assert_valid_message(call)
        assert call.body["channel"] == "C_SALES" and call.body["user"] == "U1"
    assert f"#{won.id}" in confirmations[0].body["text"]
    answers.append(_said(confirmations[0].body["text"]))
    homes = slack_api.wait_for("views.publish", 4)  # opened, the text log, each submission
    assert any(f"#{won.id} deal-won" in _texts(home.json_field("view")["blocks"])
               for home in homes)

    value = _undo_value(confirmations[0])
    for attempt in range(2):
        click = block_actions("kpi_undo", value, response_url=slack_api.response_url(
            f"undo{attempt}"))
        assert slack.send(click) == (200, None)
    said = {call.path: call for call in slack_api.wait_for("response_url", 2)}
    first, second = said["/response/undo0"], said["/response/undo1"]
    assert first.body["replace_original"] is True
    assert f"Undone #{won.id}" in first.body["text"]
    assert second.body["replace_original"] is False
    assert second.body["response_type"] == "ephemeral"
    assert "already undone" in second.body["text"]
    for call in (first, second):
        assert_valid_blocks(call.body["blocks"])
        answers.append(_said(call.body["text"]))
    voided = [e for e in stored_events(database) if e.voided_at is not None]
    assert [e.id for e in voided] == [won.id]

    count = len(slack_api.calls_to("views.publish"))
    assert slack.send(app_home_opened("U1")) == (200, None)
    home = slack_api.wait_for("views.publish", count + 1)[-1].json_field("view")
    assert_valid_view(home)
    shown = _texts(home["blocks"])
    assert f"#{won.id}" not in shown and f"#{lead.id} lead" in shown
    for recorded in slack_views.published + list(slack_views.views.values()):
        assert_valid_view(recorded)

    assert [(e.kind, e.deal_key, e.amount_minor, e.voided_at is not None)
            for e in stored_events(database)] == SESSION_EVENTS
    assert answers == SESSION_ANSWERS

"""Every interactive payload type over signed HTTP, and the refusals: forged or stale payloads,
buttons from another workspace, for another person's event, for an event already undone."""

from __future__ import annotations

import time

import pytest

from storage.digests import list_schedules
from tests.bot.slack.conftest import SECRET, stored_events
from tests.support.slack_interactive import (
    app_home_opened,
    block_actions,
    message_action,
    post_event,
    post_payload,
    shortcut,
    state_for,
    view_submission,
)
from tests.support.slack_signing import post_slash_command
from tests.support.slack_views import assert_valid_blocks, assert_valid_message, assert_valid_view

FAULTS = [{"bad_signature": True}, {"omit_signature": True}, {"omit_timestamp": True},
          {"timestamp": int(time.time()) - 6 * 60}]


def _log(base_url, text, **fields):
    status, body, _ = post_slash_command(base_url, text, secret=SECRET, **fields)
    assert status == 200, body
    return body


def _undo_value(body) -> str:
    (button,) = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "kpi_undo"
    return button["value"]


def _opened_view(slack_api, slack_views, base_url, **fields):
    count = len(slack_views.opened)
    _log(base_url, "log", **fields)
    slack_api.wait_for("views.open", count + 1)
    return slack_views.opened[-1]


def _choose(base_url, slack_api, slack_views, view, kind, user="U1"):
    """Pick the event in the open modal; returns the modal redrawn with its fields."""
    count = len(slack_api.calls_to("views.update"))
    chosen = {**view, "state": state_for(view, {"kind": kind})}
    click = block_actions("kind", view=chosen, selected=kind, block_id="kind", user=user)
    assert post_payload(base_url, click, secret=SECRET)[0] == 200
    slack_api.wait_for("views.update", count + 1)
    return slack_views.views[view["id"]]


@pytest.mark.parametrize("fault", FAULTS)
def test_forged_or_stale_payloads_get_401_and_change_nothing(slack_bot, database, slack_api,
                                                            slack_views, fault):
    _bot, base_url = slack_bot
    body = _log(base_url, "log call 3", user_id="U1")
    view = _opened_view(slack_api, slack_views, base_url, user_id="U1")
    before = len(slack_api.calls)
    payloads = [
        block_actions("kpi_undo", _undo_value(body), response_url=slack_api.response_url("x")),
        view_submission(view, {"kind": "call", "count": "5"}),
        shortcut("kpi_log_activity"),
    ]
    for payload in payloads:
        assert post_payload(base_url, payload, secret=SECRET, **fault)[0] == 401
    assert post_event(base_url, app_home_opened("U1"), secret=SECRET, **fault)[0] == 401
    (event,) = stored_events(database)
    assert (event.count, event.voided_at) == (3, None)
    assert len(slack_api.calls) == before  # nothing was opened, posted or published


def test_undo_refusals_are_answered_to_the_clicker_and_change_nothing(slack_bot, database,
                                                                      slack_api):
    _bot, base_url = slack_bot
    mine = _undo_value(_log(base_url, "log call 3", user_id="U1"))
    elsewhere = _undo_value(_log(base_url, "log call 4", user_id="U1", team_id="T0002"))
    cases = [
        (block_actions("kpi_undo", mine, user="U2"), "logged by someone else"),
        (block_actions("kpi_undo", elsewhere, user="U1"), "does not belong to this workspace"),
        (block_actions("kpi_undo", mine[:-2] + "xx", user="U1"), "does not belong"),
        (block_actions("kpi_undo", "k1.undo.1", user="U1"), "does not belong"),
    ]
    for number, (payload, _expected) in enumerate(cases):
        payload["response_url"] = slack_api.response_url(f"r{number}")
        assert post_payload(base_url, payload, secret=SECRET)[0] == 200
    answers = {call.path: call for call in slack_api.wait_for("response_url", len(cases))}
    for number, (_payload, expected) in enumerate(cases):
        call = answers[f"/response/r{number}"]
        assert call.body["replace_original"] is False
        assert call.body["response_type"] == "ephemeral"
        assert expected in call.body["text"]
        assert_valid_blocks(call.body["blocks"])
    assert [e.voided_at for e in stored_events(database)] == [None]
    assert [e.voided_at for e in stored_events(database, team="T0002")] == [None]


def test_an_admin_may_undo_anyone_and_a_public_message_is_updated(slack_bot, database,
                                                                  slack_api):
    _bot, base_url = slack_bot
    body = _log(base_url, "log demo-booked acme public", user_id="U1")
    assert body["response_type"] == "in_channel"
    click = block_actions("kpi_undo", _undo_value(body), user="U_BOSS")  # no response_url
    assert post_payload(base_url, click, secret=SECRET)[0] == 200
    (update,) = slack_api.wait_for("chat.update")
    assert_valid_message(update)
    assert update.body["channel"] == "C_SALES" and "Undone #" in update.body["text"]
    (event,) = stored_events(database)
    assert event.voided_by == "U_BOSS"


def test_out_of_limit_values_are_refused_on_their_fields(slack_bot, database, slack_api,
                                                         slack_views):
    _bot, base_url = slack_bot
    view = _choose(base_url, slack_api, slack_views,
                   _opened_view(slack_api, slack_views, base_url, user_id="U1"), "call")
    form = {"kind": "call", "count": "100001", "date": "2026-11-19", "note": "x"}
    status, answer, _ = post_payload(base_url, view_submission(view, form), secret=SECRET)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"count", "date"}
    assert "100,000" in answer["errors"]["count"] and "future" in answer["errors"]["date"]
    view = _choose(base_url, slack_api, slack_views, view, "deal-won")
    form = {"kind": "deal-won", "deal": "x" * 121, "amount": "12k", "currency": "EUR"}
    status, answer, _ = post_payload(base_url, view_submission(view, form), secret=SECRET)
    assert answer["response_action"] == "errors"
    assert "120" in answer["errors"]["deal"] and "USD" in answer["errors"]["currency"]
    assert stored_events(database) == []


def test_shortcuts_open_the_modal_and_the_message_text_becomes_the_note(slack_bot, database,
                                                                        slack_api, slack_views):
    _bot, base_url = slack_bot
    assert post_payload(base_url, shortcut("kpi_log_activity"), secret=SECRET)[0] == 200
    payload = message_action("kpi_log_from_message", "Call with Acme &amp; co went well")
    assert post_payload(base_url, payload, secret=SECRET)[0] == 200
    slack_api.wait_for("views.open", 2)
    global_view, from_message = slack_views.opened
    for view in (global_view, from_message):
        assert_valid_view(view)
    (note,) = [b for b in from_message["blocks"] if b["block_id"] == "note"]
    assert note["element"]["initial_value"] == "Call with Acme & co went well"
    from_message = _choose(base_url, slack_api, slack_views, from_message, "call")
    status, answer, _ = post_payload(base_url, view_submission(
        from_message, {"kind": "call", "count": "2"}), secret=SECRET)  # the note as prefilled
    assert status == 200 and not answer
    (event,) = stored_events(database)
    assert (event.count, event.note, event.channel_id) == (2, "Call with Acme & co went well",
                                                           "C_SALES")
    (posted,) = slack_api.wait_for("chat.postEphemeral")
    assert_valid_message(posted)
    status, answer, _ = post_payload(base_url, view_submission(global_view, {"kind": "call"}),
                                     secret=SECRET)
    assert status == 200 and not answer
    (direct,) = slack_api.wait_for("chat.postMessage")  # no channel: in their messages
    assert direct.body["channel"] == "U1" and "Undo" in str(direct.json_field("blocks"))


def test_home_shows_the_admin_the_team_and_digest_buttons(slack_bot, database, slack_api):
    _bot, base_url = slack_bot
    _log(base_url, "digest here weekly mon 09:00", user_id="U_BOSS", channel_id="C_SALES")
    _log(base_url, "log lead acme", user_id="U1")
    assert post_event(base_url, app_home_opened("U_BOSS"), secret=SECRET)[0] == 200
    assert post_event(base_url, app_home_opened("U1", tab="messages"), secret=SECRET)[0] == 200
    assert post_event(base_url, app_home_opened("U1"), secret=SECRET)[0] == 200
    published = slack_api.wait_for("views.publish", 2)  # the messages tab publishes nothing
    homes = {call.body["user_id"]: call.json_field("view") for call in published}
    assert set(homes) == {"U1", "U_BOSS"}
    for view in homes.values():
        assert_valid_view(view)
    boss = str(homes["U_BOSS"]["blocks"])
    assert "Your team" in boss and "kpi_home_digest_now" in boss and "Funnel" in boss
    assert "Your team" not in str(homes["U1"]["blocks"])
    preview = block_actions("kpi_home_digest_preview", "C_SALES", user="U_BOSS", channel=None)
    assert post_payload(base_url, preview, secret=SECRET)[0] == 200
    (sent,) = slack_api.wait_for("chat.postMessage")
    assert sent.body["channel"] == "U_BOSS"
    assert_valid_message(sent)


def test_digest_buttons_answer_the_clicker_and_pause_is_for_admins(slack_bot, database,
                                                                   slack_api):
    _bot, base_url = slack_bot
    _log(base_url, "digest here weekly mon 09:00", user_id="U_BOSS", channel_id="C_SALES")
    for number, (action, user) in enumerate([("kpi_digest_funnel", "U1"),
                                             ("kpi_digest_stalled", "U1"),
                                             ("kpi_digest_pause", "U1"),
                                             ("kpi_digest_pause", "U_BOSS")]):
        click = block_actions(action, "x", user=user,
                              response_url=slack_api.response_url(f"d{number}"))
        assert post_payload(base_url, click, secret=SECRET)[0] == 200
    answers = {call.path: call for call in slack_api.wait_for("response_url", 4)}
    funnel, stalled, refused, paused = (answers[f"/response/d{n}"] for n in range(4))
    for call in (funnel, stalled, refused, paused):
        assert call.body["response_type"] == "ephemeral"
        assert call.body["replace_original"] is False
        assert_valid_blocks(call.body["blocks"])
    assert funnel.body["text"].startswith("Funnel")
    assert "Stalled" in stalled.body["text"]
    assert "admin" in refused.body["text"]
    with database.read() as session:
        assert list_schedules(session=session, enabled_only=True) == []  # paused by the admin
        assert len(list_schedules(session=session)) == 1


def test_home_is_republished_after_a_log_only_for_people_who_opened_it(slack_bot, slack_api):
    _bot, base_url = slack_bot
    _log(base_url, "log call 2", user_id="U1")
    assert post_event(base_url, app_home_opened("U2"), secret=SECRET)[0] == 200
    slack_api.wait_for("views.publish")
    _log(base_url, "log call 3", user_id="U2")
    published = slack_api.wait_for("views.publish", 2)
    assert [call.body["user_id"] for call in published] == ["U2", "U2"]
    assert "3 × call" in str(published[1].json_field("view")["blocks"])
    assert slack_api.calls_to("views.publish") == published  # none for U1, who never opened it


def test_home_and_replies_in_the_users_slack_language_and_people_by_mention(slack_bot,
                                                                             slack_api):
    _bot, base_url = slack_bot
    slack_api.set_user("U_NB", locale="nb-NO", real_name="Kari Nordmann")
    slack_api.set_user("U_BOSS", locale="sv-SE", real_name="Sara Chef", is_admin=True)
    assert post_event(base_url, app_home_opened("U_NB"), secret=SECRET)[0] == 200
    (published,) = slack_api.wait_for("views.publish", 1)
    view = published.json_field("view")
    assert_valid_view(view)
    assert "Uken din" in str(view["blocks"]) and "Your week" not in str(view["blocks"])
    # a person kpibot has no row for: a mention Slack renders as the name, never a bare id
    body = _log(base_url, "quota set <@U_CY> 20 monthly demo-booked", user_id="U_BOSS")
    assert_valid_blocks(body["blocks"])
    headline = body["blocks"][0]["text"]
    assert headline["type"] == "mrkdwn" and headline["text"].startswith(
        "Säljmål satt: <@U_CY> — 20 demo-booked per månad, från ")
    assert body["text"].startswith("Säljmål satt: <@U_CY> — ")


def test_the_logging_form_is_in_the_users_slack_language(slack_bot, database, slack_api,
                                                         slack_views):
    _bot, base_url = slack_bot
    slack_api.set_user("U_NB", locale="nb-NO", real_name="Kari Nordmann")
    view = _opened_view(slack_api, slack_views, base_url, user_id="U_NB")
    assert_valid_view(view)
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Registrer aktivitet", "Registrer", "Avbryt")
    assert "Choose an event" not in str(view) and "Velg en hendelse" in str(view)
    redrawn = _choose(base_url, slack_api, slack_views, view, "deal-won", user="U_NB")
    labels = [block["label"]["text"] for block in redrawn["blocks"] if block["type"] == "input"]
    assert labels[:3] == ["Hendelse", "Avtale eller kunde", "Beløp"], labels
    assert "who won it" not in str(redrawn) and "Deal or account" not in str(redrawn)

"""Slack's interactive payloads and Events API bodies, signed and posted as Slack sends them.

Interactivity arrives form-encoded with one field, `payload=<JSON>`; events arrive as JSON.
The builders use Slack's field names and shapes (block_actions, view_submission, shortcut,
message_action, block_suggestion, event_callback/app_home_opened).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    post_signed,
    random_trigger_id,
)


def post_payload(base_url: str, payload: dict[str, Any], *, secret: str,
                 **faults: Any) -> tuple[int, Any, dict[str, str]]:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    return post_signed(base_url.rstrip("/") + "/slack/events", body, secret=secret,
                       content_type=FORM_CONTENT_TYPE, **faults)


def post_event(base_url: str, body: dict[str, Any], *, secret: str,
               **faults: Any) -> tuple[int, Any, dict[str, str]]:
    return post_signed(base_url.rstrip("/") + "/slack/events", json.dumps(body),
                       secret=secret, content_type=JSON_CONTENT_TYPE, **faults)


def _who(user: str, team: str) -> dict[str, Any]:
    return {"team": {"id": team, "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(),
                     "team_id": team},
            "api_app_id": "A0001", "token": "legacy-verification-token",
            "is_enterprise_install": False, "enterprise": None}


def block_actions(action_id: str, value: str | None = None, *, user: str = "U1",
                  team: str = "T0001", channel: str | None = "C_SALES",
                  response_url: str | None = None, message_ts: str = "1700000000.000100",
                  view: dict[str, Any] | None = None, selected: str | None = None,
                  block_id: str = "b") -> dict[str, Any]:
    """A click on a button (`value`) or a select (`selected`) in a message or a view."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id,
                              "action_ts": "1700000001.000200"}
    if selected is not None:
        action.update(type="static_select", selected_option={
            "text": {"type": "plain_text", "text": selected}, "value": selected})
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "x"})
    payload = {"type": "block_actions", **_who(user, team), "trigger_id": random_trigger_id(),
               "actions": [action]}
    if view is not None:
        payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
    else:
        payload.update(container={"type": "message", "message_ts": message_ts,
                                  "channel_id": channel, "is_ephemeral": True},
                       channel={"id": channel, "name": "sales"} if channel else None,
                       message={"ts": message_ts, "text": "x", "type": "message"})
    if response_url:
        payload["response_url"] = response_url
    return payload


def state_for(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Slack's `view.state` for `values` typed into the view's input blocks (by block id);
    an input not in `values` keeps what the view put in it (its initial value), as in Slack."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        initial = (element.get("initial_option") or {}).get("value") \
            or element.get("initial_date") or element.get("initial_value")
        kind, value = element["type"], values.get(block["block_id"], initial)
        if kind in ("static_select", "external_select"):
            entry: dict[str, Any] = {"type": kind, "selected_option": None if value is None else
                                     {"text": {"type": "plain_text", "text": value},
                                      "value": value}}
        elif kind == "datepicker":
            entry = {"type": kind, "selected_date": value}
        else:
            entry = {"type": kind, "value": value}
        state[block["block_id"]] = {element["action_id"]: entry}
    return {"values": state}


def view_submission(view: dict[str, Any], values: dict[str, str], *, user: str = "U1",
                    team: str = "T0001") -> dict[str, Any]:
    submitted = {**view, "state": state_for(view, values)}
    return {"type": "view_submission", **_who(user, team), "trigger_id": random_trigger_id(),
            "view": submitted, "response_urls": []}


def shortcut(callback_id: str, *, user: str = "U1", team: str = "T0001") -> dict[str, Any]:
    return {"type": "shortcut", **_who(user, team), "callback_id": callback_id,
            "trigger_id": random_trigger_id(), "action_ts": "1700000001.000300"}


def message_action(callback_id: str, text: str, *, user: str = "U1", team: str = "T0001",
                   channel: str = "C_SALES") -> dict[str, Any]:
    return {"type": "message_action", **_who(user, team), "callback_id": callback_id,
            "trigger_id": random_trigger_id(), "channel": {"id": channel, "name": "sales"},
            "message": {"type": "message", "user": "U9", "ts": "1700000000.000500",
                        "text": text},
            "message_ts": "1700000000.000500", "response_url": None}


def block_suggestion(action_id: str, typed: str, *, user: str = "U1", team: str = "T0001",
                     view: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = {"type": "block_suggestion", **_who(user, team), "action_id": action_id,
               "block_id": action_id, "value": typed}
    if view is not None:
        payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
    return payload


def app_home_opened(user: str = "U1", *, team: str = "T0001", tab: str = "home"
                    ) -> dict[str, Any]:
    return {"token": "legacy-verification-token", "team_id": team, "api_app_id": "A0001",
            "type": "event_callback", "event_id": f"Ev{random_trigger_id()[:10]}",
            "event_time": 1700000000,
            "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": True}],
            "event": {"type": "app_home_opened", "user": user, "channel": "D0001", "tab": tab,
                      "event_ts": "1700000000.000600"}}

"""Slack's view methods for the Web API stand-in (tests/support/slack_api.py), in Slack's shapes.

    views = SlackViews.install(slack_api)   # or the `slack_views` fixture
    ... the bot calls views.open / views.update / views.publish ...
    views.opened[-1]       # the last modal as Slack holds it (id, hash, state, ...)
    views.home["U1"]       # the Home tab published for U1

Every view is checked with slack_sdk's models (`View(**view).validate_json()`), as Slack checks
it: an invalid one gets `invalid_arguments` with the reason, like Slack's answer.
`views.open` needs a trigger_id, `views.update` a known view_id (or external_id) and, when a
hash is given, the current one (`hash_conflict` otherwise); each update makes a new hash.
`chat.update`, `chat.postMessage` and `chat.postEphemeral` keep the stand-in's own answers;
`assert_valid_message` checks their blocks the same way.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support.slack_api import RecordedCall, SlackApiServer


def view_problem(view: Any) -> str | None:
    """Why slack_sdk's models refuse `view`, or None when it is valid."""
    if not isinstance(view, dict):
        return "view is not a JSON object"
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError) as error:
        return str(error) or type(error).__name__
    if len(view.get("blocks") or []) > 100:
        return "more than 100 blocks"
    return None


def assert_valid_view(view: Any) -> None:
    problem = view_problem(view)
    assert problem is None, problem


def assert_valid_blocks(blocks: Any, *, limit: int = 50) -> None:
    """Each block parses and validates with slack_sdk (as chat.postMessage would take it)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    assert isinstance(blocks, list) and len(blocks) <= limit, blocks
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


def assert_valid_message(call: RecordedCall) -> None:
    """A recorded chat.* or response_url call carries valid text and blocks."""
    blocks = call.json_field("blocks")
    assert isinstance(call.body.get("text"), str) and call.body["text"], call.body
    if blocks is not None:
        assert_valid_blocks(blocks)


class SlackViews:
    """Views the bot opened, updated and published, as the stand-in answered them."""

    def __init__(self, server: SlackApiServer) -> None:
        self.server = server
        self.views: dict[str, dict[str, Any]] = {}  # view id -> current view
        self.opened: list[dict[str, Any]] = []  # views.open results, in order
        self.home: dict[str, dict[str, Any]] = {}  # user id -> published Home view
        self.published: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def install(cls, server: SlackApiServer) -> SlackViews:
        views = cls(server)
        server.set_response("views.open", views._open)
        server.set_response("views.update", views._update)
        server.set_response("views.publish", views._publish)
        return views

    def _stored(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        number = next(self._ids)
        view_id = view_id or f"V{number:09d}"
        stored = {
            "id": view_id, "team_id": self.server.team_id, "app_id": self.server.app_id,
            "bot_id": self.server.bot_id, "type": view.get("type"),
            "blocks": view.get("blocks", []), "private_metadata": view.get("private_metadata",
                                                                             ""),
            "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id",
                                                                                 ""),
            "state": {"values": {}}, "hash": f"{number}.h{number:06d}",
            "title": view.get("title"), "close": view.get("close"), "submit": view.get("submit"),
            "clear_on_close": False, "notify_on_close": False, "root_view_id": view_id,
            "previous_view_id": None,
        }
        self.views[view_id] = stored
        return stored

    def _view_arg(self, call: RecordedCall) -> tuple[dict[str, Any] | None, dict | None]:
        view = call.json_field("view")
        problem = view_problem(view)
        if problem is not None:
            return None, {"ok": False, "error": "invalid_arguments",
                          "response_metadata": {"messages": [problem]}}
        return view, None

    def _open(self, call: RecordedCall) -> dict[str, Any]:
        if not call.body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view, error = self._view_arg(call)
        if error:
            return error
        with self._lock:
            stored = self._stored(view)
            self.opened.append(stored)
        return {"ok": True, "view": stored}

    def _update(self, call: RecordedCall) -> dict[str, Any]:
        view, error = self._view_arg(call)
        if error:
            return error
        with self._lock:
            view_id = call.body.get("view_id")
            if not view_id and call.body.get("external_id"):
                view_id = next((v["id"] for v in self.views.values()
                                if v["external_id"] == call.body["external_id"]), None)
            current = self.views.get(view_id or "")
            if current is None:
                return {"ok": False, "error": "not_found"}
            if call.body.get("hash") and call.body["hash"] != current["hash"]:
                return {"ok": False, "error": "hash_conflict"}
            stored = self._stored(view, view_id)
        return {"ok": True, "view": stored}

    def _publish(self, call: RecordedCall) -> dict[str, Any]:
        user_id = call.body.get("user_id")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        view, error = self._view_arg(call)
        if error:
            return error
        if view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments",
                    "response_metadata": {"messages": ["views.publish takes a home view"]}}
        with self._lock:
            stored = self._stored(view)
            self.home[user_id] = stored
            self.published.append(stored)
        return {"ok": True, "view": stored}


@pytest.fixture
def slack_views(slack_api: SlackApiServer) -> SlackViews:
    return SlackViews.install(slack_api)

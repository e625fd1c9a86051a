"""A command answered at its deadline while its COMMIT was out: the reply says kpibot cannot
tell yet, and the command's own reply follows once the database answers.

A server frozen just after it committed answers when it thaws: the bot, answering by its
deadline, told the user "nothing was stored" for an event that was (session 17 saw it once
in tests/reliability/test_frozen_database.py). "Nothing was stored" is said only when no
COMMIT was out (storage/commit_watch.py); otherwise the reply says so and the outcome follows
(bot/core.py `answer_in_time`, Slack's response_url). The served test holds a real commit's
confirmation in a relay (tests/support/fatal_after_commit.py): deterministic, no timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.cli.shutdown import Shutdown
from bot.core import (
    COMMAND_DEADLINE,
    COMMIT_LATE_FOLLOWED_REPLY,
    COMMIT_LATE_REPLY,
    COMMIT_UNKNOWN_REPLY,
    DEADLINE_REPLY,
    CommandRequest,
    answer_in_time,
    drain_late_answers,
    late_reply,
)
from bot.replies import Reply
from storage import commit_watch
from tests.reliability.harness import SECRET, TEAM, WORKSPACE, serving
from tests.support.dialog import Chat
from tests.support.fatal_after_commit import through_relay
from tests.support.slack_interactive import block_actions, post_payload, state_for, view_submission
from tests.support.slack_signing import post_slash_command, random_trigger_id
from tests.support.slack_views import slack_views  # noqa: F401  (fixture)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
REQUEST = CommandRequest(platform="slack", workspace_id="slack:TLATE", user_id="U1",
                         text="log   call 3", channel_id="C1", idempotency_key="late")
WAIT = 30.0  # seconds a test waits for what must happen (never reached when it works)


@dataclasses.dataclass(frozen=True)
class _Context:
    deadline: float


class _StuckHandler:
    """Answers `reply` once `go` is set; stuck inside its COMMIT when `committing`."""

    def __init__(self, reply: Reply | Exception, *, committing: bool,
                 deadline: float = 1.0) -> None:  # (ample for its thread to start)
        self.context = _Context(deadline)
        self.reply, self.committing = reply, committing
        self.go, self.done = threading.Event(), threading.Event()

    def handle(self, _request: CommandRequest, _deadline: float) -> Reply:
        try:
            with commit_watch.committing() if self.committing else contextlib.nullcontext():
                assert self.go.wait(WAIT)
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply
        finally:
            self.done.set()


def _answer(handler: _StuckHandler, *, follow: bool = True) -> tuple[Reply, list[Reply]]:
    """The answer in time, and what was followed up once the handler is let go."""
    followed: list[Reply] = []

    async def run() -> Reply:
        arrived = asyncio.Event()
        reply = await answer_in_time(
            handler, REQUEST,
            follow_up=(lambda late: (followed.append(late), arrived.set())) if follow else None)
        handler.go.set()
        await asyncio.to_thread(handler.done.wait, WAIT)
        if reply.text == COMMIT_LATE_FOLLOWED_REPLY:
            await asyncio.wait_for(arrived.wait(), WAIT)
        else:
            await asyncio.sleep(0)  # (a follow-up scheduled now would be seen below)
        return reply

    return asyncio.run(run()), followed


LOGGED = Reply(text="Logged call ×3 (#7)", undo_event=7)


def test_no_commit_out_at_the_deadline_is_answered_nothing_stored_and_never_followed():
    reply, followed = _answer(_StuckHandler(LOGGED, committing=False))
    assert reply.text == DEADLINE_REPLY and not reply.ok
    assert followed == []


def test_a_commit_out_at_the_deadline_is_answered_cannot_tell_then_followed_up():
    reply, followed = _answer(_StuckHandler(LOGGED, committing=True))
    assert reply.text == COMMIT_LATE_FOLLOWED_REPLY and not reply.ok
    assert "nothing was stored" not in reply.text
    [late] = followed
    assert late.text == ("Update on “/kpi log call 3”, which the database answered late: "
                         "Logged call ×3 (#7)")
    assert late.undo_event == 7 and late.ok and not late.public


def test_without_a_way_to_follow_up_the_reply_says_to_check_before_sending_again():
    reply, followed = _answer(_StuckHandler(LOGGED, committing=True), follow=False)
    assert reply.text == COMMIT_LATE_REPLY and followed == []


def test_a_command_that_fails_after_answering_late_is_followed_up_as_unknown():
    reply, followed = _answer(_StuckHandler(RuntimeError("boom"), committing=True))
    assert reply.text == COMMIT_LATE_FOLLOWED_REPLY
    [late] = followed
    assert late.text.endswith(COMMIT_UNKNOWN_REPLY) and not late.ok


def test_the_late_headline_is_in_the_users_language_and_names_a_long_command_briefly():
    request = dataclasses.replace(REQUEST, user_language="nb", text="log call " + "x" * 200)
    late = late_reply(LOGGED, request)
    assert late.text.startswith("Oppdatering om «/kpi log call xxx")
    assert "x" * 60 not in late.text and "…»" in late.text and late.language == "nb"


def test_a_stopping_server_tells_the_outcome_of_commands_answered_late_before_it_exits():
    """`kpibot serve` stopping waits for a command answered "cannot tell yet" (its thread
    still on the database), then for the follow-ups it starts, Slack's and Teams'."""
    handler = _StuckHandler(LOGGED, committing=True)
    followed: list[Reply] = []

    class _Teams:  # a Teams late message still being posted when its time is up
        async def drain(self, timeout: float) -> int:
            assert timeout >= 1.0
            return 1

    async def run() -> str:
        reply = await answer_in_time(handler, REQUEST, follow_up=followed.append)
        assert reply.follows and await drain_late_answers(0) == 1  # not waited for: cut off
        stopping = asyncio.ensure_future(
            Shutdown(0.0, monotonic=lambda: 0.0).drain_follow_ups(None, _Teams()))
        await asyncio.sleep(0)
        assert followed == [] and not stopping.done()  # waiting for the command's thread
        handler.go.set()
        return await stopping

    assert asyncio.run(run()) == "1 Teams late message(s) cut off"
    [late] = followed
    assert late.text.startswith("Update on “/kpi log call 3”") and late.undo_event == 7


class _Steps(commit_watch.CommitWatch):
    """A watch that remembers each step of its count."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []

    def _add(self, step: int) -> None:
        self.steps.append(step)
        super()._add(step)


def _watched_ask(chat: Chat, text: str, key: str) -> tuple[Reply, list[int]]:
    watch = _Steps()
    reply = commit_watch.watched(watch, chat.handler.handle, CommandRequest(
        platform="slack", workspace_id=chat.workspace, user_id="U1", user_name="Ann",
        text=text, channel_id="C1", idempotency_key=key), time.monotonic() + WAIT)
    return reply, watch.steps


@pytest.mark.parametrize("text", ["log call 3", "log demo-booked acme", "undo"])
def test_every_write_of_a_command_marks_its_commit_out_until_answered(database, text):
    chat = Chat(database, workspace="slack:TWATCH", now=NOW, admins=(), default_user="U1")
    _watched_ask(chat, "log meeting-booked acme", "first")
    reply, steps = _watched_ask(chat, text, "second")
    assert reply.ok, reply.plain_text()
    assert steps and steps.count(1) == steps.count(-1) and steps[0] == 1
    assert all(steps[i] == -steps[i + 1] for i in range(0, len(steps), 2))  # one at a time


@pytest.mark.parametrize("text", ["funnel", "win-rate", "me"])
def test_a_read_sends_no_commit_that_counts(database, text):
    chat = Chat(database, workspace="slack:TWATCH", now=NOW, admins=(), default_user="U1")
    _watched_ask(chat, "log meeting-booked acme", "first")
    for _ in range(3):  # the later ones on PostgreSQL with their COMMIT sent ahead
        reply, steps = _watched_ask(chat, text, "read")
        assert reply.ok, reply.plain_text()
        assert steps == []


# --------------------------------------------------------------------- served, PostgreSQL
def _stored(database_url: str, *, voided: bool = False) -> int:
    """The workspace's events that count (or, `voided`, those undone), on a connection of
    its own."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM events WHERE workspace_id = :w AND voided_at IS "
                + ("NOT NULL" if voided else "NULL")), {"w": WORKSPACE}).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_served_a_log_whose_commit_answer_is_late_is_told_then_followed_up_once(
        database_url, slack_api):
    with through_relay(database_url) as (relay, database), \
            serving(database, slack_api.base_url, deadline=COMMAND_DEADLINE) as base_url:
            def log(text: str) -> tuple[int, dict]:
                status, payload, _ = post_slash_command(
                    base_url, text, secret=SECRET, team_id=TEAM, user_id="U0LATE",
                    user_name="u0late", channel_id="C0LATE", trigger_id=random_trigger_id(),
                    response_url=slack_api.response_url(), timeout=WAIT)
                return status, payload

            assert log("log call")[1]["text"].startswith("Logged ")  # the caller's rows
            relay.armed = relay.hold_answer = True
            status, payload = log("log call 3")
            assert status == 200 and relay.held == 1
            assert payload["text"] == COMMIT_LATE_FOLLOWED_REPLY, payload
            assert _stored(database_url) == 2  # committed: "nothing was stored" was false
            assert slack_api.calls_to("response_url") == []  # nothing before the answer
            relay.release()
            [late] = slack_api.wait_for("response_url", 1, timeout=WAIT)
    text = late.body["text"]
    assert text.startswith("Update on “/kpi log call 3”, which the database answered late: "
                           "Logged "), text
    assert late.body["response_type"] == "ephemeral" and late.body["replace_original"] is False
    [button] = [element for block in late.body["blocks"] if block["type"] == "actions"
                for element in block["elements"]]
    assert button["action_id"] == "kpi_undo"  # the log's own Undo, under its late answer
    assert len(slack_api.calls_to("response_url")) == 1


def _undo_value(body: dict) -> str:
    [button] = [element for block in body["blocks"] if block["type"] == "actions"
                for element in block["elements"]]
    assert button["action_id"] == "kpi_undo"
    return button["value"]


def _slash(base_url: str, text: str) -> dict:
    """`/kpi TEXT` from U0LATE in C0LATE; its answer."""
    status, payload, _ = post_slash_command(
        base_url, text, secret=SECRET, team_id=TEAM, user_id="U0LATE", channel_id="C0LATE",
        trigger_id=random_trigger_id(), timeout=WAIT)
    assert status == 200
    return payload


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_served_an_undo_button_whose_commit_answer_is_late_is_followed_up_once(
        database_url, slack_api):
    """A button runs its command as typed: a late commit's outcome follows on the clicked
    message's response_url, as a typed command's does."""
    with through_relay(database_url) as (relay, database), \
            serving(database, slack_api.base_url, deadline=COMMAND_DEADLINE) as base_url:
        def log(text: str) -> dict:
            logged = _slash(base_url, text)
            assert logged["text"].startswith("Logged "), logged
            return logged

        def click(logged: dict, answer: str) -> None:
            payload = block_actions("kpi_undo", _undo_value(logged), user="U0LATE", team=TEAM,
                                    channel="C0LATE", response_url=slack_api.response_url(answer))
            assert post_payload(base_url, payload, secret=SECRET)[0] == 200

        first, second = log("log call 3"), log("log call 4")
        click(first, "settled")  # (the person's name as a click carries it: stored now)
        slack_api.wait_for("response_url", 1, timeout=WAIT)
        relay.armed = relay.hold_answer = True
        click(second, "undo")
        _, told = slack_api.wait_for("response_url", 2, timeout=WAIT)
        assert relay.held == 1 and told.body["text"] == COMMIT_LATE_FOLLOWED_REPLY, told.body
        assert _stored(database_url, voided=True) == 2  # committed: the outcome is what follows
        relay.release()
        _, told, late = slack_api.wait_for("response_url", 3, timeout=WAIT)
    assert late.body["text"].startswith(
        "Update on “/kpi undo ") and "which the database answered late: Undone #" in \
        late.body["text"], late.body
    assert late.body["response_type"] == "ephemeral" and late.body["replace_original"] is False
    assert [call.path for call in slack_api.calls_to("response_url")] == [
        "/response/settled", "/response/undo", "/response/undo"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_served_a_logging_form_whose_commit_answer_is_late_closes_then_tells_the_outcome(
        database_url, slack_api, slack_views):  # noqa: F811
    """The form closes (its "will tell you here" would be wrong inside it) and both the
    answer and the late outcome, with its Undo, reach the channel the form was opened from."""
    with through_relay(database_url) as (relay, database), \
            serving(database, slack_api.base_url, deadline=COMMAND_DEADLINE) as base_url:
        def submit(note: str) -> None:
            opened = len(slack_api.calls_to("views.open"))
            _slash(base_url, "log")
            slack_api.wait_for("views.open", opened + 1, timeout=WAIT)
            view = slack_views.opened[-1]
            values = {"kind": "call", "note": note}
            status, answer, _ = post_payload(
                base_url, view_submission({**view, "state": state_for(view, values)}, values,
                                          user="U0LATE", team=TEAM), secret=SECRET)
            assert status == 200 and not answer, answer  # an empty ack: the form closes

        submit("first")  # (the caller's rows, their name as a form carries it)
        slack_api.wait_for("chat.postEphemeral", 1, timeout=WAIT)
        relay.armed = relay.hold_answer = True
        submit("second")
        _, told = slack_api.wait_for("chat.postEphemeral", 2, timeout=WAIT)
        assert relay.held == 1 and told.body["text"] == COMMIT_LATE_FOLLOWED_REPLY, told.body
        assert _stored(database_url) == 2
        relay.release()
        _, told, late = slack_api.wait_for("chat.postEphemeral", 3, timeout=WAIT)
    assert late.body["channel"] == "C0LATE" and late.body["user"] == "U0LATE"
    assert late.body["text"].startswith(
        "Update on “/kpi log call ") and "answered late: Logged call" in late.body["text"], \
        late.body
    assert "kpi_undo" in str(late.body["blocks"])  # the log's own Undo

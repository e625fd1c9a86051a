"""The Bolt app: `/kpi` slash commands into the command handler, replies back as Block Kit;
the interactive listeners (buttons, modals, shortcuts, Home) in bot/slack/interactive.py."""

from __future__ import annotations

import hashlib
import logging
import re
import time
import weakref

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import CommandHandler, CommandRequest, answer_in_time
from bot.interactive.actions import Actor
from bot.interactive.values import ActionValues
from bot.replies import Reply, error_reply
from bot.slack.blocks import render_slash_response
from bot.slack.people import Profile, SlackProfiles


def slack_workspace_id(team_id: str, enterprise_id: str | None = None) -> str:
    """Workspace key: `slack:T…`, or `slack:E…:T…` on Enterprise Grid."""
    return f"slack:{enterprise_id}:{team_id}" if enterprise_id else f"slack:{team_id}"


_SLACK_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # T…, E…, U…, W…, C…, D…, G…
_TRIGGER_ID = re.compile(r"[\x21-\x7e]{1,150}")


def malformed_command(command: dict) -> str | None:
    """What makes a signed payload unusable as a command (a missing or malformed id), if any.

    Checked before anything is stored: a field the database cannot hold would otherwise fail
    deep in a write and be reported as a database outage."""
    for name, required in (("team_id", True), ("user_id", True), ("enterprise_id", False),
                           ("channel_id", False)):
        value = command.get(name) or ""
        if (value or required) and not _SLACK_ID.fullmatch(value):
            return f"This request has no valid {name}, so nothing was stored."
    trigger_id = command.get("trigger_id") or ""
    if trigger_id and not _TRIGGER_ID.fullmatch(trigger_id):
        return "This request has a malformed trigger_id, so nothing was stored."
    return None


def _name(value: str | None) -> str | None:
    """A display name as the database keeps it: no control characters, at most 200 long."""
    cleaned = "".join(c for c in value or "" if c.isprintable())[:200].strip()
    return cleaned or None


def request_key(command: dict, timestamp: str | None) -> str | None:
    """What makes two deliveries the same request: Slack's trigger_id, or, when a signed sender
    sends none, a digest of who sent what where and the signed X-Slack-Request-Timestamp (a
    retry, X-Slack-Retry-Num, repeats the original timestamp). None without either."""
    trigger_id = command.get("trigger_id")
    if trigger_id:
        return trigger_id
    if not timestamp:
        return None
    parts = [command.get(name) or "" for name in (
        "enterprise_id", "team_id", "user_id", "channel_id", "command", "text")]
    digest = hashlib.sha256("\x1f".join([*parts, timestamp]).encode()).hexdigest()
    return f"request-{digest[:40]}"


def _channel_name(name: object) -> str | None:
    """The channel's name as Slack sends it; not its stand-ins for a DM or a private group."""
    name = _name(name)
    return None if name in (None, "directmessage", "privategroup", "mpdm") else name


def request_from_command(command: dict, timestamp: str | None = None,
                         profile: Profile | None = None) -> CommandRequest:
    """Slack's slash-command payload as the internal request (see malformed_command);
    `timestamp` is the request's X-Slack-Request-Timestamp (see request_key); `profile` the
    user's name and email from `users.info` (the payload's `user_name` is only the handle)."""
    return CommandRequest(
        platform="slack",
        workspace_id=slack_workspace_id(command["team_id"], command.get("enterprise_id") or None),
        user_id=command["user_id"],
        user_name=(profile.name if profile and profile.name else _name(command.get("user_name"))),
        user_email=profile.email if profile else None,
        user_language=profile.language if profile else None,
        channel_id=command.get("channel_id") or None,
        channel_name=_channel_name(command.get("channel_name")),
        workspace_name=_name(command.get("team_domain")),
        text=command.get("text", ""),
        idempotency_key=request_key(command, timestamp),
    )


def slack_actor(request: CommandRequest) -> Actor:
    return Actor(platform="slack", workspace_id=request.workspace_id, user_id=request.user_id,
                 channel_id=request.channel_id, user_name=request.user_name,
                 workspace_name=request.workspace_name)


def _drop_token_unused_warning(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns at every start that
    it is unused next to `client`; the token is used, through `authorize`."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


# Each app's listeners' shared state, for `drain_follow_ups`.
_INTERACTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def drain_follow_ups(app: AsyncApp, timeout: float) -> int:
    """Wait up to `timeout` seconds for the follow-ups `app` runs after an ack (a modal's
    confirmation, a button's answer) before the server stops; how many were left."""
    slack = _INTERACTIONS.get(app)
    return await slack.drain(timeout) if slack is not None else 0


def build_slack_app(
    *, handler: CommandHandler, bot_token: str, signing_secret: str | None, api_url: str,
    profiles: SlackProfiles | None = None,
) -> AsyncApp:
    """A Bolt app that verifies every request's signature and answers `/kpi` in the ack.

    Without `signing_secret` (Socket Mode) it may only be fed over the Socket Mode connection:
    `bot.server` serves it over HTTP only with the secret."""
    async def authorize(enterprise_id: str | None, team_id: str | None,
                        user_id: str | None) -> AuthorizeResult:
        # The token as configured, without Bolt's auth.test round trip on the first request:
        # a command is answered in the ack and needs no Web API call, so a Slack API hiccup
        # (429, 5xx, a dropped connection) must not turn it into a 500 or a "reinstall" reply.
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                               bot_token=bot_token)

    client = AsyncWebClient(base_url=api_url)  # each request's client gets the token above
    # process_before_response: the answer is the ack, so the HTTP response goes out as soon as
    # the handler returns. Without it Bolt runs the listener in a task and polls for the ack
    # every 10 ms, which added 0-10 ms (about 8 ms on average) to every command.
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_drop_token_unused_warning)  # once
    # A name given: without one Bolt names the app after its caller's file through
    # inspect.stack(), which reads the source of every frame (a tenth of serve's start-up).
    app = AsyncApp(name="kpibot", client=client, signing_secret=signing_secret or "",
                   authorize=authorize, process_before_response=True)
    # here, not at the top: bot/slack/interactive.py reads this module's request helpers
    from bot.slack.interactive import answer_bare_log, is_bare_log, register_interactions

    async def language(actor) -> str | None:  # the Home tab's language: the user's locale
        if profiles is None:
            return None
        profile = await profiles(actor.workspace_id, actor.user_id, bot_token)
        return profile.language if profile else None

    # The slash command's listener first: Bolt tries its listeners in the order they were
    # added, and each try builds the listener's arguments (Bolt's kwargs injection, ~20 µs):
    # behind the 14 interactive ones every command (/kpi ping too) paid for 15 tries.
    @app.command(re.compile(r"^/"))
    async def on_command(ack: AsyncAck, command: dict, request: AsyncBoltRequest,
                         client: AsyncWebClient, respond: AsyncRespond) -> None:
        arrived = time.monotonic()
        problem = malformed_command(command)
        if problem is not None:
            await ack(**render_slash_response(error_reply(problem)))
            return
        timestamp = (request.headers.get("x-slack-request-timestamp") or [None])[0]
        internal = request_from_command(command, timestamp)
        if profiles is not None:
            profile = await profiles(internal.workspace_id, internal.user_id, bot_token)
            internal = request_from_command(command, timestamp, profile)
        if is_bare_log(internal.text):
            await ack(**await answer_bare_log(slack, internal, command.get("trigger_id"),
                                              client))
            return
        def follow_up(late: Reply) -> None:  # (response_url: the command's own thread)
            slack.later(respond(**render_slash_response(
                late, slack.undo_value(internal.workspace_id)), replace_original=False))
            if late.undo_event is not None:
                slack.refresh_home(client, slack_actor(internal))

        reply = await answer_in_time(handler, internal, arrived=arrived,
                                     follow_up=follow_up if command.get("response_url") else None)
        await ack(**render_slash_response(reply, slack.undo_value(internal.workspace_id)))
        if reply.undo_event is not None:  # a log: the person's Home tab shows it
            slack.refresh_home(client, slack_actor(internal))

    slack = register_interactions(app, handler, ActionValues(bot_token), language)
    _INTERACTIONS[app] = slack
    return app

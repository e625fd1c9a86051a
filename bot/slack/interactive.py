"""Slack's interactive surfaces as Bolt listeners on the one app (HTTP and Socket Mode alike).

- Undo button under a log confirmation: `/kpi undo ID` for the event its signed value names;
  the message then says it was undone (response_url, else chat.update); a refusal (another
  person's event, already undone, another workspace's button) is answered to the clicker only.
- Logging modal (`/kpi log` with nothing after it, the "Log activity" shortcut, the "Log from
  this message" message shortcut, Home's buttons): views.open; choosing the event redraws it
  with that event's fields (views.update); the deal box suggests the workspace's deals
  (block_suggestion); submitting runs the `/kpi log` text its fields read as
  (bot/interactive/log_form.py), errors on their fields (`response_action: errors`), the view
  id as idempotency key.
- Home tab: views.publish on app_home_opened, and after each log or undo of a person who has
  opened it (bot/handlers/home.py).
- Digest buttons: the funnel and the stalled deals (to the clicker), pausing (admins).
Work after the acknowledgement (posting, publishing) runs in tasks of the app's loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import (
    AdminCheckFailed,
    CommandHandler,
    CommandRequest,
    drain,
    request_translator,
)
from bot.handlers.home import compose_home
from bot.interactive.actions import (
    READ_FAILURES,
    UNDO,
    Actor,
    bounded,
    form_rules,
    run_text,
    submit_log_form,
    undo_from_button,
)
from bot.interactive.log_form import DEAL, KIND, NOTE, kind_of
from bot.interactive.values import ActionValues
from bot.replies import Reply, error_reply
from bot.slack import views
from bot.slack.app import slack_actor, slack_workspace_id
from bot.slack.blocks import UNDO_ACTION, render_blocks, render_slash_response
from bot.slack.digest_buttons import DIGEST_FUNNEL, DIGEST_PAUSE, DIGEST_STALLED
from reports.i18n import translator
from reports.slack_text import slack_escape
from storage.lookups import deals_starting

log = logging.getLogger(__name__)

LOG_SHORTCUT = "kpi_log_activity"  # the global shortcut's callback_id (manifests)
MESSAGE_SHORTCUT = "kpi_log_from_message"  # the message shortcut's callback_id
_SLACK_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, OSError, TimeoutError)
MAX_FIELD_ERROR = 300
MAX_DEALS = 20
MAX_HOME_VIEWERS = 10_000


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and _SLACK_ID.fullmatch(value) else None


def actor_from(body: dict) -> Actor | None:
    """Who acted where, from an interactive payload or event; None when an id is malformed."""
    user = body.get("user")
    user_id = _id(user) or (_id(body.get("event", {}).get("user"))
                            if isinstance(body.get("event"), dict) else None)
    team_id = _id(body.get("team")) or _id(body.get("team_id")) or (
        _id(user.get("team_id")) if isinstance(user, dict) else None)
    enterprise = body.get("enterprise") or body.get("enterprise_id")
    enterprise_id = _id(enterprise) if enterprise else None
    if not user_id or not team_id or (enterprise and not enterprise_id):
        return None
    channel = body.get("channel")
    name = user.get("username") or user.get("name") if isinstance(user, dict) else None
    return Actor(platform="slack", workspace_id=slack_workspace_id(team_id, enterprise_id),
                 user_id=user_id, channel_id=_id(channel) if channel else None,
                 user_name=name if isinstance(name, str) else None)


def _action_value(body: dict) -> str | None:
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        value = actions[0].get("value")
        return value if isinstance(value, str) else None
    return None


def is_bare_log(text: str) -> bool:
    """`/kpi log` with nothing after it (the modal opens instead of a usage error)."""
    return text.strip().casefold() == "log"


class SlackInteractions:
    """The listeners' shared state: the command handler, the button signer, running tasks."""

    def __init__(self, handler: CommandHandler, values: ActionValues,
                 language: Callable[[Actor], Awaitable[str | None]] | None = None) -> None:
        self.handler = handler
        self.values = values
        self.language = language  # the person's language (users.info's locale), if known
        self._tasks: set[asyncio.Task] = set()
        self._home_viewers: OrderedDict[tuple[str, str], None] = OrderedDict()

    def undo_value(self, workspace_id: str) -> Callable[[int], str]:
        return lambda event_id: self.values.sign(UNDO, workspace_id, event_id)

    def later(self, work: Coroutine) -> None:
        """Run `work` after the acknowledgement; its failure is logged, never raised."""
        task = asyncio.get_running_loop().create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the follow-ups still running (a stopping server:
        a confirmation is part of the answer); how many were left."""
        return await drain(self._tasks, timeout)

    async def _logged(self, work: Awaitable) -> None:
        try:
            await work
        except _SLACK_ERRORS as error:
            log.warning("a Slack follow-up failed: %s", type(error).__name__)

    # ------------------------------------------------------------------ the modal
    async def with_language(self, actor: Actor) -> Actor:
        """`actor` with the person's language (users.info's locale, cached), when known."""
        if actor.user_language is not None or self.language is None:
            return actor
        return dataclasses.replace(actor, user_language=await self.language(actor))

    async def open_log_modal(self, client: AsyncWebClient, trigger_id: str, actor: Actor, *,
                             values: dict[str, str] | None = None) -> bool:
        actor = await self.with_language(actor)
        today, currency = await asyncio.to_thread(form_rules, self.handler, actor.workspace_id)
        values = values or {}
        view = views.log_modal(kind=kind_of(values.get(KIND)), values=values, today=today,
                               currency=currency, t=translator(actor.user_language or "en"),
                               private_metadata=views.metadata(c=actor.channel_id))
        try:
            await client.views_open(trigger_id=trigger_id, view=view)
        except _SLACK_ERRORS as error:
            log.warning("views.open failed: %s", type(error).__name__)
            return False
        return True

    async def redraw_modal(self, client: AsyncWebClient, actor: Actor, view: dict) -> None:
        actor = await self.with_language(actor)
        values = views.state_values(view)
        today, currency = await asyncio.to_thread(form_rules, self.handler, actor.workspace_id)
        new = views.log_modal(kind=kind_of(values.get(KIND)), values=values, today=today,
                              currency=currency, t=translator(actor.user_language or "en"),
                              private_metadata=view.get("private_metadata") or "{}")
        await client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=new)

    async def submit(self, ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        actor = actor_from(body)
        if actor is None or not isinstance(view.get("id"), str):
            await ack(response_action="errors",
                      errors={KIND: "This form came without a valid user or team; nothing "
                                    "was stored."})
            return
        channel = _id(views.read_metadata(view.get("private_metadata")).get("c"))
        actor = dataclasses.replace(await self.with_language(actor), channel_id=channel)
        values = views.state_values(view)

        def told(reply: Reply) -> None:  # where the confirmation goes, with its Undo
            self.later(self._confirm(client, actor, reply))
            if reply.ok:
                self.refresh_home(client, actor)

        reply, errors = await submit_log_form(self.handler, actor, values,
                                              key=f"view:{view['id'][:100]}", follow_up=told)
        if reply is not None and reply.follows:  # the form closes; the outcome is told there
            await ack()
            told(reply)
            return
        if reply is not None and not reply.ok:
            errors = {KIND: reply.text}
        if errors:
            shown = set((view.get("state") or {}).get("values") or {})
            fields: dict[str, str] = {}
            for name, problem in errors.items():
                target = name if name in shown else KIND
                fields[target] = (fields.get(target, "") + " " + problem).strip()[
                    :MAX_FIELD_ERROR]
            await ack(response_action="errors", errors=fields)
            return
        await ack()
        told(reply)

    async def _confirm(self, client: AsyncWebClient, actor: Actor, reply: Reply) -> None:
        """The log confirmation with its Undo button: to the person in the channel the form
        was opened from, else in their messages with kpibot."""
        text = slack_escape(reply.plain_text())[:3000]
        blocks = render_blocks(reply, self.undo_value(actor.workspace_id))
        if actor.channel_id:
            try:
                await client.chat_postEphemeral(channel=actor.channel_id, user=actor.user_id,
                                                text=text, blocks=blocks)
                return
            except SlackApiError as error:  # not in that channel any more: a direct message
                log.info("chat.postEphemeral refused: %s", error.response.get("error"))
        await client.chat_postMessage(channel=actor.user_id, text=text, blocks=blocks)

    # ------------------------------------------------------------------ Home
    def home_opened(self, actor: Actor) -> None:
        """Remember who looks at their Home tab (the most recent MAX_HOME_VIEWERS people)."""
        key = (actor.workspace_id, actor.user_id)
        self._home_viewers[key] = None
        self._home_viewers.move_to_end(key)
        while len(self._home_viewers) > MAX_HOME_VIEWERS:
            self._home_viewers.popitem(last=False)

    def refresh_home(self, client: AsyncWebClient, actor: Actor) -> None:
        """After a log or an undo: republish the Home of a person who has opened it (it is
        composed afresh at every open anyway; nobody else's costs a Web API call)."""
        if (actor.workspace_id, actor.user_id) in self._home_viewers:
            self.later(self.publish_home(client, actor))

    async def publish_home(self, client: AsyncWebClient, actor: Actor) -> None:
        try:
            language = await self.language(actor) if self.language is not None else None
            request = dataclasses.replace(actor.request("home"), user_language=language)
            home = await asyncio.to_thread(compose_home, bounded(self.handler.context), request)
        except AdminCheckFailed:
            log.warning("Home not published: the admin check did not answer")
            return
        except READ_FAILURES as error:
            log.warning("Home not published: the database did not answer (%s)",
                        type(error).__name__)
            return
        await client.views_publish(user_id=actor.user_id, view=views.home_view(home))

    # ------------------------------------------------------------------ buttons
    async def undo(self, body: dict, respond: AsyncRespond, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        if actor is None:
            return
        def told(reply: Reply, *, replace: bool) -> None:
            self.later(self._answer(body, respond, client, actor, reply, replace=replace))
            if reply.ok:
                self.refresh_home(client, actor)

        reply = await undo_from_button(self.handler, self.values, actor, _action_value(body),
                                       follow_up=lambda late: told(late, replace=False))
        told(reply, replace=reply.ok)

    async def run_button(self, body: dict, respond: AsyncRespond, client: AsyncWebClient,
                         text: str, *, channel_id: str | None = None,
                         to_messages: bool = False) -> None:
        """`/kpi TEXT` for the clicker; the answer to them only (or in their messages)."""
        actor = actor_from(body)
        if actor is None:
            return
        def told(reply: Reply) -> None:
            if to_messages:
                message = render_slash_response(reply)
                self.later(client.chat_postMessage(channel=actor.user_id, text=message["text"],
                                                   blocks=message["blocks"]))
            else:
                self.later(self._answer(body, respond, client, actor, reply, replace=False))

        told(await run_text(self.handler, actor, text, channel_id=channel_id, follow_up=told))

    async def _answer(self, body: dict, respond: AsyncRespond, client: AsyncWebClient,
                      actor: Actor, reply: Reply, *, replace: bool) -> None:
        """`reply` in place of the clicked message (`replace`), else to the clicker only."""
        message = render_slash_response(reply)
        if body.get("response_url"):
            if replace:
                await respond(text=message["text"], blocks=message["blocks"],
                              replace_original=True)
            else:
                await respond(text=message["text"], blocks=message["blocks"],
                              response_type="ephemeral", replace_original=False)
            return
        container = body.get("container") or {}
        channel, ts = _id(container.get("channel_id")), container.get("message_ts")
        if replace and channel and isinstance(ts, str):
            await client.chat_update(channel=channel, ts=ts, text=message["text"],
                                     blocks=message["blocks"])
        elif channel:
            await client.chat_postEphemeral(channel=channel, user=actor.user_id,
                                            text=message["text"], blocks=message["blocks"])


def register_interactions(app: AsyncApp, handler: CommandHandler, values: ActionValues,
                          language: Callable[[Actor], Awaitable[str | None]] | None = None
                          ) -> SlackInteractions:
    """Every interactive listener on `app` (the same app answers HTTP and Socket Mode);
    `language` tells a person's language (the Home tab is in it)."""
    slack = SlackInteractions(handler, values, language)

    @app.action(UNDO_ACTION)
    async def on_undo(ack: AsyncAck, body: dict, respond: AsyncRespond,
                      client: AsyncWebClient) -> None:
        await slack.undo(body, respond, client)
        await ack()

    @app.action(KIND)
    async def on_kind_chosen(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        await ack()
        actor = actor_from(body)
        if actor is not None and isinstance(body.get("view"), dict):
            slack.later(slack.redraw_modal(client, actor, body["view"]))

    @app.options(DEAL)
    async def on_deal_typed(ack: AsyncAck, body: dict) -> None:
        actor = actor_from(body)
        typed = body.get("value") if isinstance(body.get("value"), str) else ""
        found: list[tuple[str, str]] = []
        if actor is not None:
            found = await asyncio.to_thread(_deals, handler, actor.workspace_id, typed[:120])
            actor = await slack.with_language(actor)
        language = actor.user_language if actor is not None else None
        await ack(options=views.deal_options(found, typed, translator(language or "en")))

    @app.view(views.LOG_VIEW)
    async def on_log_submitted(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        await slack.submit(ack, body, client)

    @app.shortcut(LOG_SHORTCUT)
    async def on_log_shortcut(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        if actor is not None and isinstance(body.get("trigger_id"), str):
            await slack.open_log_modal(client, body["trigger_id"], actor)
        await ack()

    @app.shortcut(MESSAGE_SHORTCUT)
    async def on_message_shortcut(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if actor is not None and isinstance(body.get("trigger_id"), str):
            note = " ".join(html.unescape(text).split())[:500]
            await slack.open_log_modal(client, body["trigger_id"], actor,
                                       values={NOTE: note} if note else {})
        await ack()

    @app.event("app_home_opened")
    async def on_home_opened(body: dict, event: dict, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        if actor is not None and event.get("tab") == "home":
            slack.home_opened(actor)
            slack.later(slack.publish_home(client, actor))

    @app.action(views.OPEN_LOG)
    async def on_open_log(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        if actor is not None and isinstance(body.get("trigger_id"), str):
            await slack.open_log_modal(client, body["trigger_id"], actor)
        await ack()

    @app.action(views.LOG_NEXT_STEP)
    async def on_log_next_step(ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        actor = actor_from(body)
        deal = _action_value(body)
        if actor is not None and isinstance(body.get("trigger_id"), str):
            await slack.open_log_modal(client, body["trigger_id"], actor,
                                       values={DEAL: deal[:120]} if deal else {})
        await ack()

    def button(action_id: str, text: str, *, from_home: bool) -> None:
        @app.action(action_id)
        async def on_button(ack: AsyncAck, body: dict, respond: AsyncRespond,
                            client: AsyncWebClient) -> None:
            channel = _id(_action_value(body)) if from_home else None
            if from_home and channel is None:
                await ack()
                return
            await slack.run_button(body, respond, client, text, channel_id=channel,
                                   to_messages=from_home)
            await ack()

    button(DIGEST_FUNNEL, "funnel", from_home=False)
    button(DIGEST_STALLED, "stalled-deals", from_home=False)
    button(DIGEST_PAUSE, "digest off", from_home=False)
    button(views.DIGEST_NOW, "digest now", from_home=True)
    button(views.DIGEST_PREVIEW, "digest preview", from_home=True)
    return slack


def _deals(handler: CommandHandler, workspace_id: str, typed: str) -> list[tuple[str, str]]:
    """The deals to suggest; none when the database does not answer (a new name still is)."""
    try:
        with bounded(handler.context).database.read() as session:
            return deals_starting(session=session, workspace_id=workspace_id, typed=typed,
                                  limit=MAX_DEALS)
    except READ_FAILURES as error:
        log.warning("no deal suggestions: %s", type(error).__name__)
        return []


async def answer_bare_log(slack: SlackInteractions, request: CommandRequest,
                          trigger_id: str | None, client: AsyncWebClient) -> dict:
    """The ack of `/kpi log` with nothing after it: the modal opens (an empty ack), or, when
    Slack would not open it, how to log by typing."""
    actor = dataclasses.replace(slack_actor(request), user_language=request.user_language)
    if trigger_id and await slack.open_log_modal(client, trigger_id, actor):
        return {}
    t = request_translator(request)
    return render_slash_response(dataclasses.replace(error_reply(
        t.gettext("The logging form could not be opened; type the event instead."),
        usage="/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [on DATE] [note...]",
        example="/kpi log demo-booked acme", t=t), language=t.language))

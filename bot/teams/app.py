"""The Teams bot: `POST /api/messages` on the Agents SDK's aiohttp `CloudAdapter`.

Per request: validate the Bot Framework JWT (401 and nothing runs when it fails), then let the
SDK adapter run the turn. Message activities go to the shared `CommandHandler` (the same one
Slack uses) and the reply goes back to the conversation through the Bot Connector: in a
channel it lands in the thread of the message. Installs and first messages store the
conversation reference that proactive digests need.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import warnings
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from microsoft_agents.activity import Activity, Attachment
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ActivityHandler, TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from pydantic import ValidationError

from bot.core import CommandHandler, CommandRequest, FollowUp, answer_in_time, drain
from bot.interactive.values import ActionValues
from bot.replies import Reply
from bot.teams.activities import (
    base_conversation_id,
    bot_ids_for,
    mentioned_people,
    reference_from_activity,
    request_from_activity,
)
from bot.teams.auth import (
    AuthError,
    BotFrameworkJwtValidator,
    ConnectorTokenProvider,
    KeySetUnavailable,
    TokenEndpointError,
)
from bot.teams.cards import CONTENT_TYPE, render_card
from bot.teams.config import TeamsConfig
from bot.teams.connector import (
    ConnectorClientFactory,
    TeamsDeliveryError,
    TeamsSender,
    from_client_error,
)
from bot.teams.interactive import ACTION_KEY, TeamsInteractions, is_bare_log, undo_action
from bot.teams.references import InMemoryReferenceStore, ReferenceStore, StoredReference
from reports.i18n import translator

log = logging.getLogger(__name__)

REPLY_ATTEMPTS = 3
MAX_RETRY_WAIT = 2.0
NOT_IN_TEAMS = Reply(text="kpibot works inside a Microsoft Teams organisation only.", ok=False)
INTERNAL_ERROR = Reply(text="Sorry, kpibot hit an internal error answering that. It has been "
                            "logged; /kpi me shows what is stored.", ok=False)


def reply_activity(reply: Reply, actions: list[dict] | None = None) -> Activity:
    """A Reply as a Teams message: the headline as text, everything in an Adaptive Card
    (with `actions`, such as Undo, under it)."""
    return card_activity(reply_card(reply, actions), reply.text)


def reply_card(reply: Reply, actions: list[dict] | None = None) -> dict:
    """A Reply's Adaptive Card, with `actions` under it."""
    card = render_card(reply)
    return {**card, "actions": actions} if actions else card


def card_activity(card: dict, text: str) -> Activity:
    return Activity(type="message", text=text, text_format="plain",
                    summary=text[:200] or None,
                    attachments=[Attachment(content_type=CONTENT_TYPE, content=card)])


class KpiAgent(ActivityHandler):
    """Turns Teams activities into commands for the shared handler."""

    def __init__(self, *, handler: CommandHandler, references: ReferenceStore,
                 app_id: str, interactions: TeamsInteractions,
                 sender: TeamsSender | None = None) -> None:
        self.handler = handler
        self.references = references
        self.app_id = app_id
        self.interactions = interactions
        self.sender = sender  # a late answer's message (`_follow_up`)
        self._late: set[asyncio.Task] = set()

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        member_ids = await self._member_ids(turn_context)
        request = request_from_activity(activity, app_id=self.app_id, member_ids=member_ids)
        if request is None:
            await self._send(turn_context, NOT_IN_TEAMS)
            return
        await self._remember(activity, only_if_new=True)
        data = activity.value
        if isinstance(data, dict) and ACTION_KEY in data:  # a kpibot card's Action.Submit
            answer = await self.interactions.answer(
                request, data, follow_up=self._follow_up(activity, request))
        elif is_bare_log(request.text):
            answer = await asyncio.to_thread(self.interactions.new_log_card, request)
        else:
            answer = await answer_in_time(self.handler, request,
                                          follow_up=self._follow_up(activity, request))
        if isinstance(answer, dict):
            summary = translator(request.user_language or "en").gettext("Log activity")
            await self._send_activity(turn_context, card_activity(answer, summary))
            return
        await self._send(turn_context, answer, self._undo(request, answer))

    def _undo(self, request: CommandRequest, answer: Reply) -> list[dict] | None:
        """The Undo button under a log's answer."""
        if answer.undo_event is None:
            return None
        return [undo_action(self.interactions.undo_value(request.workspace_id,
                                                         answer.undo_event),
                            translator(answer.language))]

    def _follow_up(self, activity: Activity, request: CommandRequest) -> FollowUp | None:
        """How a late answer reaches this conversation (the thread of the message): a new
        message, the turn being over by then."""
        reference = reference_from_activity(activity, now=self.handler.context.now())
        if self.sender is None or reference is None or activity.conversation is None:
            return None
        reference = dataclasses.replace(reference, conversation_id=activity.conversation.id)

        def post(late: Reply) -> None:
            task = asyncio.get_running_loop().create_task(self._post_late(reference, request,
                                                                          late))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        return post

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the late answers still being posted (a stopping
        server); how many were left."""
        return await drain(self._late, timeout)

    async def _post_late(self, reference: StoredReference, request: CommandRequest,
                         late: Reply) -> None:
        try:
            await self.sender.send_card(reference, reply_card(late, self._undo(request, late)),
                                        late.text)
        except TeamsDeliveryError as failure:
            log.error("could not post a late answer to Teams: %s", failure)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        bot_ids = bot_ids_for(activity, self.app_id)
        if any(member.id in bot_ids for member in activity.members_added or []):
            await self._remember(activity, only_if_new=False)
        if any(member.id in bot_ids for member in activity.members_removed or []):
            await self._forget(activity)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity, only_if_new=False)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._forget(turn_context.activity)

    async def _remember(self, activity: Activity, *, only_if_new: bool) -> None:
        reference = reference_from_activity(activity, now=self.handler.context.now())
        if reference is None:
            return
        if only_if_new:
            known = await asyncio.to_thread(self.references.get_reference,
                                            reference.workspace_id, reference.conversation_key)
            if known is not None and known.service_url == reference.service_url:
                return
        await asyncio.to_thread(self.references.save_reference, reference)

    async def _forget(self, activity: Activity) -> None:
        reference = reference_from_activity(activity, now=self.handler.context.now())
        if reference is not None:
            await asyncio.to_thread(self.references.remove_reference, reference.workspace_id,
                                    reference.conversation_key)

    async def _member_ids(self, turn_context: TurnContext) -> Mapping[str, str]:
        """AAD object ids of mentioned people whose mention entity lacks one (roster look-up)."""
        activity = turn_context.activity
        missing = [person for person in
                   mentioned_people(activity, bot_ids_for(activity, self.app_id))
                   if not person.aad_object_id]
        if not missing or activity.conversation is None:
            return {}
        connector = turn_context.services.get(ConnectorClientBase)
        if connector is None:
            return {}
        found: dict[str, str] = {}
        conversation_id = base_conversation_id(activity.conversation.id)
        for person in missing:
            try:
                member = await connector.conversations.get_conversation_member(
                    conversation_id, person.id)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("Teams roster look-up failed: %s", type(error).__name__)
                continue
            if member.aad_object_id:
                found[person.id] = member.aad_object_id
        return found

    async def _send(self, turn_context: TurnContext, reply: Reply,
                    actions: list[dict] | None = None) -> None:
        await self._send_activity(turn_context, reply_activity(reply, actions))

    async def _send_activity(self, turn_context: TurnContext, message: Activity) -> None:
        """Send the message; retry 429/5xx/timeouts briefly (the event is stored either way)."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await turn_context.send_activity(message)
                return
            except (aiohttp.ClientError, TimeoutError, TokenEndpointError) as error:
                failure = from_client_error(error, "Teams reply")
            if not failure.transient or attempt == REPLY_ATTEMPTS:
                log.error("%s (attempt %d, not retried)", failure, attempt)
                return
            wait = failure.retry_after if failure.retry_after is not None else 0.25 * 2 ** attempt
            log.warning("%s; retrying in %.2fs", failure, min(wait, MAX_RETRY_WAIT))
            await asyncio.sleep(min(wait, MAX_RETRY_WAIT))


class TeamsBot:
    """What `bot.server` mounts at `POST /api/messages`, and the proactive senders."""

    def __init__(self, *, handler: CommandHandler, config: TeamsConfig,
                 references: ReferenceStore | None = None,
                 validator: BotFrameworkJwtValidator | None = None,
                 tokens: ConnectorTokenProvider | None = None) -> None:
        self.config = config
        self.references = references if references is not None else InMemoryReferenceStore()
        self.validator = validator or BotFrameworkJwtValidator(
            app_id=config.app_id, metadata_url=config.openid_metadata_url)
        self.tokens = tokens or ConnectorTokenProvider(
            app_id=config.app_id, password=config.password, token_url=config.token_url)
        self.adapter = CloudAdapter(
            channel_service_client_factory=ConnectorClientFactory(self.tokens))
        self.adapter.on_turn_error = self._on_turn_error
        self.sender = TeamsSender(self.tokens)
        self.agent = KpiAgent(handler=handler, references=self.references,
                              app_id=config.app_id, interactions=TeamsInteractions(
                                  handler, ActionValues(config.password)), sender=self.sender)
        self.outbound = handler.context.outbound  # where Workflows webhooks may point

    async def drain(self, timeout: float) -> int:
        """The agent's late answers still being posted, waited for (a stopping server)."""
        return await self.agent.drain(timeout)

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        """`POST /api/messages`: 401 unless the Bot Framework JWT checks out."""
        try:
            token = await asyncio.to_thread(self.validator.validate_token,
                                            request.headers.get("Authorization"))
        except AuthError as problem:
            log.warning("Teams request refused: %s", problem)
            return web.json_response({"error": "unauthorized"}, status=401)
        except KeySetUnavailable as problem:
            log.error("Teams request not checked: %s", problem)
            return web.json_response({"error": "key set unavailable"}, status=503)
        try:
            activity = Activity.model_validate(await request.json())
        except (ValueError, ValidationError):
            return web.json_response({"error": "the body is not a Bot Framework activity"},
                                     status=400)
        try:
            self.validator.check_activity(token, channel_id=str(activity.channel_id or ""),
                                          service_url=activity.service_url)
        except AuthError as problem:
            log.warning("Teams request refused: %s", problem)
            return web.json_response({"error": "unauthorized"}, status=401)
        with warnings.catch_warnings():  # the SDK reads this plain string key
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            request["claims_identity"] = ClaimsIdentity(token.claims,
                                                        authentication_type="Bearer")
        return await self.adapter.process(request, self.agent)

    async def send_card(self, reference: StoredReference, card: dict, text: str) -> str:
        """Proactive message into a stored conversation; returns the new message id."""
        return await self.sender.send_card(reference, card, text)

    @staticmethod
    async def _on_turn_error(context: TurnContext, error: Exception) -> None:
        # Replaces the SDK default, which would send the exception text into the chat.
        log.error("Teams turn failed (%s activity): %s", context.activity.type,
                  type(error).__name__, exc_info=error)
        if context.activity.type != "message" or context.responded:
            return
        try:
            await context.send_activity(reply_activity(INTERNAL_ERROR))
        except (aiohttp.ClientError, TimeoutError, TokenEndpointError) as failure:
            log.error("could not report the failure to Teams: %s", type(failure).__name__)


def build_teams_bot(*, handler: CommandHandler, config: TeamsConfig,
                    references: ReferenceStore | None = None) -> TeamsBot:
    return TeamsBot(handler=handler, config=config, references=references)

"""Where a digest goes: one `DigestChannel` per platform, all failing the same way.

`post` returns the platform's message id or raises `DeliveryFailure` with `transient` (retry:
429 with Retry-After, 5xx, timeouts, connection errors) or not (channel_not_found,
not_in_channel, is_archived, invalid_auth, token_revoked, anything unknown), and
`maybe_delivered` when the platform may have taken the post all the same (a timeout, a dropped
connection, a 5xx: the outcome is unknown).

`find` answers whether a slot's digest is already in the channel, by the slot key every post
carries. Slack can be asked (`conversations.history` with the message metadata); Teams cannot
(`looks_back` is False): the Bot Connector and Workflows webhooks have no read-back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.shared import SharedDigests
from bot.digests.threads import in_database_thread
from bot.slack.digest_buttons import with_digest_buttons
from reports.digest.model import Digest
from reports.slack_text import slack_escape
from storage.models import DigestSchedule

if TYPE_CHECKING:
    from bot.teams.app import TeamsBot

log = logging.getLogger(__name__)

SLACK_TRANSIENT = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                             "service_unavailable", "request_timeout", "timeout"})


class DeliveryFailure(Exception):
    """A post that did not land. `str()` is safe to store and show (no URL, no token)."""

    def __init__(self, message: str, *, code: str, transient: bool,
                 retry_after: float | None = None, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.code, self.transient, self.retry_after = code, transient, retry_after
        self.maybe_delivered = maybe_delivered


class DigestChannel(Protocol):
    looks_back: bool  # whether `find` can tell if an earlier post reached the channel

    async def post(self, schedule: DigestSchedule, digest: Digest, *, slot_key: str) -> str:
        """Post the digest; the message id."""

    async def find(self, schedule: DigestSchedule, *, slot_key: str,
                   since: datetime) -> str | None:
        """The id of the message carrying `slot_key` posted since `since`, or None."""

    async def attach_chart(self, schedule: DigestSchedule, digest: Digest,
                           message_id: str) -> None:
        """Add the chart image to the posted digest (best effort; may raise DeliveryFailure)."""

    async def notify_owner(self, schedule: DigestSchedule, text: str) -> None:
        """One direct message to the schedule's owner."""


def _slack_failure(error: BaseException, what: str) -> DeliveryFailure:
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", 200)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error") or f"http_{status}")
        retry_after = None
        headers = getattr(response, "headers", None) or {}
        raw = headers.get("Retry-After") or headers.get("retry-after")
        if raw:
            try:
                retry_after = max(0.0, float(raw[0] if isinstance(raw, list) else raw))
            except ValueError:
                retry_after = None
        transient = status == 429 or status >= 500 or code in SLACK_TRANSIENT
        limited = status == 429 or code in ("ratelimited", "rate_limited")
        return DeliveryFailure(f"{what}: {code}", code=code, transient=transient,
                               retry_after=retry_after, maybe_delivered=transient and not limited)
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return DeliveryFailure(f"{what}: timed out", code="timeout", transient=True,
                               maybe_delivered=True)
    return DeliveryFailure(f"{what}: connection failed ({type(error).__name__})",
                           code="connection_error", transient=True, maybe_delivered=True)


_SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError, asyncio.TimeoutError)


DIGEST_EVENT_TYPE = "kpibot_digest"
HISTORY_PAGE = 200  # messages per conversations.history page


class SlackChannel:
    """Posts with the bot token through the Web API (SLACK_API_URL); no SDK-level retries,
    so every attempt is counted in the ledger. Every digest carries its slot key in the
    message metadata (`kpibot_digest`, `{"slot": KEY}`), which `find` looks for."""

    looks_back = True

    def __init__(self, client: AsyncWebClient, *, history_page: int = HISTORY_PAGE,
                 shared: SharedDigests | None = None) -> None:
        self.client = client
        self.client.retry_handlers = []
        self.history_page = history_page
        self.shared = shared or SharedDigests()  # one message and chart per composed digest
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _api(self) -> AsyncWebClient:
        """The client with one HTTP session (keep-alive connections) per event loop. Without
        one, the SDK opened a session and a connection for each call: four per channel in a
        fan-out (post, upload URL, upload, complete)."""
        loop = asyncio.get_running_loop()
        session = self.client.session
        if session is None or session.closed or self._session_loop is not loop:
            self.client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout))
            self._session_loop = loop
        return self.client

    async def close(self) -> None:
        """Close the HTTP session (the scheduler's stop)."""
        session, self.client.session = self.client.session, None
        if session is not None and not session.closed and \
                self._session_loop is asyncio.get_running_loop():
            await session.close()

    async def find(self, schedule: DigestSchedule, *, slot_key: str,
                   since: datetime) -> str | None:
        """Page through the channel's messages since `since` (conversations.history with
        metadata; needs channels:history / groups:history) for the one carrying `slot_key`."""
        cursor = None
        while True:
            try:
                page = await self._api().conversations_history(
                    channel=schedule.channel_id, oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True, limit=self.history_page, cursor=cursor)
            except _SLACK_ERRORS as error:
                raise _slack_failure(error, "Slack conversations.history") from None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == DIGEST_EVENT_TYPE and \
                        payload.get("slot") == slot_key:
                    return str(message.get("ts") or "")
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None

    async def post(self, schedule: DigestSchedule, digest: Digest, *, slot_key: str) -> str:
        message = self.shared.slack_message(digest)
        try:
            response = await self._api().chat_postMessage(
                channel=schedule.channel_id, text=message["text"],
                blocks=with_digest_buttons(message["blocks"], digest.language),
                unfurl_links=False, unfurl_media=False,
                metadata={"event_type": DIGEST_EVENT_TYPE, "event_payload": {"slot": slot_key}})
        except _SLACK_ERRORS as error:
            raise _slack_failure(error, "Slack chat.postMessage") from None
        return str(response.get("ts") or "")

    async def attach_chart(self, schedule: DigestSchedule, digest: Digest,
                           message_id: str) -> None:
        if digest.chart.empty:
            return
        try:
            png = await self.shared.chart_png(digest)
        except (ImportError, OSError, ValueError, RuntimeError) as error:
            raise DeliveryFailure(f"chart could not be drawn ({type(error).__name__})",
                                  code="chart_error", transient=False) from error
        try:
            await self._api().files_upload_v2(
                channel=schedule.channel_id, thread_ts=message_id or None, content=None,
                file=png, filename="kpibot-digest.png", title=digest.chart.title,
                alt_txt=digest.chart.alt)
        except _SLACK_ERRORS as error:
            raise _slack_failure(error, "Slack files_upload_v2") from None

    async def notify_owner(self, schedule: DigestSchedule, text: str) -> None:
        try:
            opened = await self._api().conversations_open(users=schedule.owner_id)
            channel = opened["channel"]["id"]
            await self._api().chat_postMessage(channel=channel, text=slack_escape(text))
        except _SLACK_ERRORS as error:
            raise _slack_failure(error, "Slack direct message") from None


class TeamsChannel:
    """Proactive message to the stored conversation, or the schedule's Workflows webhook.

    Neither can be read back, so a post whose outcome is unknown (a crash mid-post, a
    timeout) is posted again: Teams digests are delivered at least once."""

    looks_back = False

    def __init__(self, teams: TeamsBot) -> None:
        self.teams = teams

    async def find(self, schedule: DigestSchedule, *, slot_key: str,
                   since: datetime) -> str | None:
        raise DeliveryFailure("Teams: a posted card cannot be looked up", code="no_read_back",
                              transient=False)

    async def post(self, schedule: DigestSchedule, digest: Digest, *, slot_key: str) -> str:
        from bot.teams.connector import TeamsDeliveryError, post_to_workflow
        from reports.digest.render import render_teams_card  # Jinja: when a digest goes out

        card = render_teams_card(digest)
        try:
            if schedule.webhook_url:
                await post_to_workflow(schedule.webhook_url, card, policy=self.teams.outbound)
                return ""
            reference = await in_database_thread(
                self.teams.references.get_reference, schedule.workspace_id, schedule.channel_id)
            if reference is None:
                raise DeliveryFailure(
                    "Teams: the bot has no conversation reference for this channel "
                    "(add the bot to the channel or message it there once)",
                    code="conversation_not_found", transient=False)
            return await self.teams.send_card(reference, card, digest.fallback)
        except TeamsDeliveryError as error:
            raise DeliveryFailure(str(error), code=error.code, transient=error.transient,
                                  retry_after=error.retry_after) from None

    async def attach_chart(self, schedule: DigestSchedule, digest: Digest,
                           message_id: str) -> None:
        """The Adaptive Card already carries every figure; Teams gets no separate image."""

    async def notify_owner(self, schedule: DigestSchedule, text: str) -> None:
        from bot.replies import Reply
        from bot.teams.cards import render_card
        from bot.teams.connector import TeamsDeliveryError

        reference = await in_database_thread(self.teams.references.personal_reference,
                                             schedule.workspace_id, schedule.owner_id)
        if reference is None:
            raise DeliveryFailure("Teams: no personal chat with the schedule's owner",
                                  code="conversation_not_found", transient=False)
        try:
            await self.teams.send_card(reference, render_card(Reply(text=text, ok=False)), text)
        except TeamsDeliveryError as error:
            raise DeliveryFailure(str(error), code=error.code, transient=error.transient,
                                  retry_after=error.retry_after) from None

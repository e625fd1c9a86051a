"""Outgoing Teams traffic: the Bot Connector (replies, proactive cards) and Workflows webhooks.

* `ConnectorClientFactory` plugs our token provider into the Agents SDK's `CloudAdapter`, so
  replies to incoming activities go through the SDK's `TeamsConnectorClient`.
* `TeamsSender.send_card(reference, card, text)` posts a new message (an Adaptive Card with a
  text fallback) into a conversation the bot was added to, e.g. a weekly digest.
* `post_to_workflow(url, card)` posts a card to a Teams Workflows "Post to a channel when a
  webhook request is received" URL. That URL is a secret: it never appears in a log line or an
  exception message; `mask_url` (bot/digests/outbound.py) shows it back as `https://host/…abcd`.

Failures raise `TeamsDeliveryError` with `transient` (429, 5xx, timeouts: retry later) or not
(400/401/403/404: the conversation or webhook is gone or the bot was removed), and the
`retry_after` seconds Teams asked for, so the digest runner applies the same rules as Slack.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from microsoft_agents.activity import Activity, Attachment
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase, TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.digests.outbound import OutboundPolicy, OutboundRefused
from bot.teams.auth import ConnectorTokenProvider, TokenEndpointError
from bot.teams.cards import CONTENT_TYPE, workflow_body
from bot.teams.references import StoredReference

log = logging.getLogger(__name__)

WORKFLOWS = OutboundPolicy()  # Microsoft's Workflows hosts, public addresses only

DEFAULT_TIMEOUT = 10.0
_PERMANENT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "bot_not_in_conversation",
    404: "conversation_not_found",
    410: "gone",
}


class TeamsDeliveryError(Exception):
    """A message could not be delivered. `str(error)` never contains a URL or a token."""

    def __init__(self, message: str, *, code: str, status: int | None = None,
                 transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


def delivery_error(status: int, retry_after: str | None, what: str) -> TeamsDeliveryError:
    """Classify an HTTP failure status the way the digest retry rules need it."""
    seconds = _retry_after_seconds(retry_after)
    if status == 429:
        return TeamsDeliveryError(f"{what}: rate limited (HTTP 429)", code="rate_limited",
                                  status=status, transient=True, retry_after=seconds)
    if status >= 500 and status != 501:
        return TeamsDeliveryError(f"{what}: server error (HTTP {status})", code="server_error",
                                  status=status, transient=True, retry_after=seconds)
    code = _PERMANENT_CODES.get(status, "rejected")
    return TeamsDeliveryError(f"{what}: refused (HTTP {status}, {code})", code=code,
                              status=status)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def from_client_error(error: BaseException, what: str) -> TeamsDeliveryError:
    """A TeamsDeliveryError for an aiohttp/token failure (without the URL aiohttp puts in)."""
    if isinstance(error, TeamsDeliveryError):
        return error
    if isinstance(error, aiohttp.ClientResponseError):
        retry_after = error.headers.get("Retry-After") if error.headers else None
        return delivery_error(error.status, retry_after, what)
    if isinstance(error, TokenEndpointError):
        return TeamsDeliveryError(f"{what}: no connector token ({error})", code="token_error",
                                  status=error.status, transient=error.transient)
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return TeamsDeliveryError(f"{what}: timed out", code="timeout", transient=True)
    return TeamsDeliveryError(f"{what}: connection failed ({type(error).__name__})",
                              code="connection_error", transient=True)


def check_workflow_url(url: str, policy: OutboundPolicy = WORKFLOWS) -> str:
    """A usable Workflows webhook URL (https on Microsoft's Workflows hosts, resolving to
    public addresses only), else OutboundRefused (a ValueError) saying why."""
    return policy.check_webhook(url)


def _connector_session(service_url: str, timeout: float) -> aiohttp.ClientSession:
    base = service_url if service_url.endswith("/") else service_url + "/"
    return aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=timeout))


class ConnectorClientFactory(ChannelServiceClientFactoryBase):
    """Hands the SDK adapter a `TeamsConnectorClient` authorised with our connector token."""

    def __init__(self, tokens: ConnectorTokenProvider, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.tokens = tokens
        self.timeout = timeout

    async def create_connector_client(
        self, context: TurnContext | None, claims_identity: ClaimsIdentity, service_url: str,
        audience: str, scopes: list[str] | None = None, use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        token = await self.tokens.get_token()
        return TeamsConnectorClient(endpoint=service_url, token=token,
                                    session=_connector_session(service_url, self.timeout))

    async def create_user_token_client(self, context: TurnContext,
                                       claims_identity: ClaimsIdentity,
                                       use_anonymous: bool = False) -> _NoUserTokens:
        return _NoUserTokens()  # kpibot asks users for no sign-in (no OAuth prompts)


class _NoUserTokens:
    """kpibot never asks for user tokens; this satisfies the adapter's turn setup."""

    async def close(self) -> None:
        return None


class TeamsSender:
    """Proactive messages to stored conversation references."""

    def __init__(self, tokens: ConnectorTokenProvider, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.tokens = tokens
        self.timeout = timeout

    async def send_card(self, reference: StoredReference, card: dict, text: str) -> str:
        """Post a new message (card + text) into the conversation; returns its message id."""
        activity = Activity(
            type="message",
            text=text,
            text_format="plain",
            summary=text[:200] or None,
            attachments=[Attachment(content_type=CONTENT_TYPE, content=card)],
            channel_id=reference.channel_id,
            service_url=reference.service_url,
        )
        what = "Teams message"
        try:
            token = await self.tokens.get_token()
            client = TeamsConnectorClient(
                endpoint=reference.service_url, token=token,
                session=_connector_session(reference.service_url, self.timeout))
            try:
                response = await client.conversations.send_to_conversation(
                    reference.conversation_id, activity)
            finally:
                await client.close()
        except (aiohttp.ClientError, TimeoutError, TokenEndpointError) as error:
            raise from_client_error(error, what) from None
        return response.id or ""


async def post_to_workflow(url: str, card: dict, *, timeout: float = DEFAULT_TIMEOUT,
                           policy: OutboundPolicy = WORKFLOWS) -> None:
    """Post `card` to a Teams Workflows webhook; raises TeamsDeliveryError (URL never shown).

    The URL is checked against `policy` again now (the host resolved anew, only to public
    addresses), the connection goes only to the checked addresses, and no redirect is followed:
    a refusal is a permanent failure (code `webhook_refused`) saying why."""
    what = "Teams Workflows webhook"
    try:
        host, _port, addresses = await asyncio.to_thread(policy.addresses, url)
    except OutboundRefused as refused:
        raise TeamsDeliveryError(f"{what}: refused, {refused}", code="webhook_refused") from None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                         connector=pinned_connector(host, addresses)) \
                as session, session.post(url.strip(), json=workflow_body(card),
                                         allow_redirects=False) as response:
            status = response.status
            retry_after = response.headers.get("Retry-After")
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise from_client_error(error, what) from None
    if status >= 300:
        raise delivery_error(status, retry_after, what)


class _PinnedResolver(AbstractResolver):
    """Answers one host with the addresses already checked; any other host is refused."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self.host = host
        self.pinned = addresses

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host != self.host:
            raise OSError(f"{host} was not checked")
        return [ResolveResult(hostname=host, host=address, port=port,
                              family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)
                for address in self.pinned]

    async def close(self) -> None:
        return None


def pinned_connector(host: str, addresses: list[str]) -> aiohttp.TCPConnector:
    """A connector that can only reach `host` at `addresses` (see OutboundPolicy.addresses)."""
    return aiohttp.TCPConnector(resolver=_PinnedResolver(host, addresses), use_dns_cache=False)

"""Turn an aiohttp request into a Bolt request; nothing unverified is parsed or runs.

The signature is checked on the raw bytes first (`RequestVerifier`: HMAC-SHA256 of
`v0:{timestamp}:{body bytes}`, 5-minute timestamp window): a request that fails gets 401 before
its body is decoded, so no JSON or form of an unsigned sender is ever parsed (a 2 KB body of
nested brackets made Bolt's parser recurse until RecursionError, a 500). The body size is
bounded by `MAX_BODY` (413 above it).

Bolt's own adapter raises on bodies it cannot read (not UTF-8, broken JSON, an unknown charset)
and its signature check raises on a timestamp that is not a number or a signature that is not
ASCII: aiohttp answers those with 500. Here they get 401 (junk signature headers) or 400 (a
body that cannot be read); nothing runs for them. Bolt then verifies the signature again.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
MAX_BODY = 1024 * 1024  # Slack's largest payloads (a modal's state, a message) are far smaller
MAX_SKEW = 5 * 60  # seconds between the request's timestamp and now


class RequestVerifier:
    """Slack's request signature over the raw body bytes (any bytes: nothing is decoded)."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time) -> None:
        self._key = signing_secret.encode()
        self.clock = clock

    def is_valid(self, body: bytes, timestamp: str, signature: str) -> bool:
        if abs(self.clock() - int(timestamp)) > MAX_SKEW:
            return False
        basestring = b"v0:" + timestamp.encode("ascii") + b":" + body
        expected = "v0=" + hmac.new(self._key, basestring, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


class MalformedRequest(Exception):
    """The request cannot be a valid Slack request; answer `status` and run nothing.

    `str(error)` is a fixed reason (never request bytes): it is answered and logged."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> web.Response:
        return web.json_response({"error": str(self)}, status=self.status)


def check_signature_headers(headers: Mapping[str, str]) -> None:
    """Both signature headers present and well-formed, else MalformedRequest (401)."""
    timestamp = headers.get(TIMESTAMP)
    signature = headers.get(SIGNATURE)
    if timestamp is None or signature is None:
        raise MalformedRequest(401, "missing signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):
        raise MalformedRequest(401, "invalid timestamp")
    if not (signature.isascii() and len(signature) <= 100):
        raise MalformedRequest(401, "invalid signature")


async def read_raw_body(request: web.Request) -> bytes:
    """The whole body; over the app's client_max_size (MAX_BODY) MalformedRequest 413."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise MalformedRequest(413, "body too large") from error


async def read_bolt_request(request: web.Request, verifier: RequestVerifier
                            ) -> AsyncBoltRequest:
    """The Bolt request for a validly signed `request`; raises MalformedRequest (401/400/413)."""
    headers = request.headers
    check_signature_headers(headers)
    raw = await read_raw_body(request)
    if not verifier.is_valid(raw, headers[TIMESTAMP], headers[SIGNATURE]):
        raise MalformedRequest(401, "signature verification failed")
    try:
        body = raw.decode("utf-8")  # Slack sends UTF-8 whatever the Content-Type says
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string,
                                        headers=dict(headers))
    except (ValueError, AttributeError, TypeError, RecursionError) as error:
        raise MalformedRequest(400, "malformed request body") from error  # bad UTF-8/JSON
    _keep_slash_command_form(bolt_request)
    return bolt_request


def _keep_slash_command_form(bolt_request: AsyncBoltRequest) -> None:
    """Bolt reads any form body containing the word "payload" as an interactivity payload, so
    `/kpi log call payload issue` arrived as an empty request (404). Read such a slash command
    as the form it is."""
    if bolt_request.body or not bolt_request.raw_body or bolt_request.raw_body.startswith("{"):
        return
    fields = dict(parse_qsl(bolt_request.raw_body, keep_blank_values=True))
    if "command" in fields and "payload" not in fields:
        bolt_request.body = fields
        bolt_request.context = build_async_context(bolt_request.context, fields)

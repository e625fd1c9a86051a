"""Turn an aiohttp request into a Bolt request without letting a malformed one become a 500.

Bolt's own adapter raises on bodies it cannot read (not UTF-8, broken JSON, an unknown charset)
and its signature check raises on a timestamp that is not a number or a signature that is not
ASCII: aiohttp answers those with 500. Here they get 401 (junk signature headers) or 400 (a body
that cannot be read); nothing runs for them. Bolt then verifies the signature as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"


class MalformedRequest(Exception):
    """The request cannot be a valid Slack request; answer `status` and run nothing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> web.Response:
        return web.json_response({"error": str(self)}, status=self.status)


def check_signature_headers(headers: Mapping[str, str]) -> None:
    """Present signature headers must be well-formed (missing ones are left to Bolt: 401)."""
    timestamp = headers.get(TIMESTAMP)
    signature = headers.get(SIGNATURE)
    if timestamp is not None and not (timestamp.isascii() and timestamp.isdigit()):
        raise MalformedRequest(401, "invalid request")
    if signature is not None and not signature.isascii():
        raise MalformedRequest(401, "invalid request")


async def read_bolt_request(request: web.Request) -> AsyncBoltRequest:
    """The Bolt request for `request`; raises MalformedRequest (401 or 400)."""
    check_signature_headers(request.headers)
    raw = await request.read()  # over client_max_size: aiohttp's own 413
    try:
        body = raw.decode("utf-8")  # Slack sends UTF-8 whatever the Content-Type says
        bolt_request = AsyncBoltRequest(body=body, query=request.query_string,
                                        headers=dict(request.headers))
    except (ValueError, AttributeError, TypeError) as error:  # bad UTF-8/JSON, a JSON non-object
        raise MalformedRequest(400, "malformed request body") from error
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

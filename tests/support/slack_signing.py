"""Sign HTTP requests exactly as Slack does, and post them to a local bot.

Reference: https://api.slack.com/authentication/verifying-requests-from-slack

    basestring = f"v0:{timestamp}:{body}"
    X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing_secret, basestring))
    X-Slack-Request-Timestamp = timestamp (integer seconds since the epoch)

Only the standard library is used (``urllib.request``); proxies from the
environment are ignored so that requests to 127.0.0.1 never leave the machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FORM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "compute_signature",
    "post_signed",
    "post_slash_command",
    "random_trigger_id",
    "sign",
    "slash_command_body",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

# Slack rejects requests whose timestamp is more than five minutes away from now.
MAX_CLOCK_SKEW_SECONDS = 60 * 5


def _to_bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def compute_signature(body: bytes | str, *, secret: str, timestamp: int | str) -> str:
    """Return the ``v0=<hex>`` signature Slack would send for ``body``."""
    basestring = b"v0:" + str(timestamp).encode("ascii") + b":" + _to_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def sign(
    body: bytes | str,
    *,
    secret: str,
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: signature, timestamp and Content-Type.

    ``timestamp`` defaults to now. ``content_type`` defaults to JSON when the body
    looks like a JSON object (Events API) and to form encoding otherwise (slash
    commands, interactivity payloads).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    if content_type is None:
        content_type = (
            JSON_CONTENT_TYPE if _to_bytes(body).lstrip().startswith(b"{") else FORM_CONTENT_TYPE
        )
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": compute_signature(body, secret=secret, timestamp=ts),
    }


def random_trigger_id() -> str:
    """A trigger id shaped like Slack's, e.g. ``13345224609.738474920.8088930838d88f008e0``."""
    return (
        f"{secrets.randbelow(9 * 10**10) + 10**10}."
        f"{secrets.randbelow(9 * 10**8) + 10**8}."
        f"{secrets.token_hex(11)[:21]}"
    )


def _random_response_url(team_id: str) -> str:
    return (
        f"http://127.0.0.1:9/commands/{team_id}/"
        f"{secrets.randbelow(9 * 10**12) + 10**12}/{secrets.token_urlsafe(18)}"
    )


def slash_command_body(
    text: str,
    *,
    team_id: str = "T0001",
    user_id: str = "U0001",
    channel_id: str = "C0001",
    command: str = "/kpi",
    trigger_id: str | None = None,
    user_name: str = "alice",
    team_domain: str = "acme",
    channel_name: str = "sales",
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    api_app_id: str = "A0001",
    response_url: str | None = None,
    token: str = "legacy-verification-token",
    is_enterprise_install: bool = False,
) -> str:
    """URL-encoded form body of a slash command, with Slack's real field names and order.

    ``response_url`` defaults to an unreachable local address (port 9, discard);
    pass ``f"{slack_api.base}/response/<id>"`` to capture responses with the Web API
    stand-in. ``enterprise_id``/``enterprise_name`` are only sent when given, as
    Slack does for Enterprise Grid workspaces.
    """
    fields: list[tuple[str, str]] = [
        ("token", token),
        ("team_id", team_id),
        ("team_domain", team_domain),
    ]
    if enterprise_id is not None:
        fields.append(("enterprise_id", enterprise_id))
        if enterprise_name is not None:
            fields.append(("enterprise_name", enterprise_name))
    fields += [
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "true" if is_enterprise_install else "false"),
        ("response_url", response_url or _random_response_url(team_id)),
        ("trigger_id", trigger_id or random_trigger_id()),
    ]
    return urllib.parse.urlencode(fields)


# An opener that ignores HTTP(S)_PROXY: requests to the bot under test must stay local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_signed(
    url: str,
    body: bytes | str,
    *,
    secret: str,
    timestamp: int | None = None,
    content_type: str | None = None,
    bad_signature: bool = False,
    omit_signature: bool = False,
    omit_timestamp: bool = False,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any, dict[str, str]]:
    """POST ``body`` to ``url`` signed like Slack; return ``(status, payload, headers)``.

    ``payload`` is the decoded JSON when the response is JSON, else the text.
    Fault switches: ``bad_signature`` flips the signature (still well-formed),
    ``omit_signature``/``omit_timestamp`` drop the header, and ``timestamp`` lets
    the caller send a stale one (e.g. ``int(time.time()) - 600``).
    HTTP error statuses are returned, not raised.
    """
    raw = _to_bytes(body)
    headers = sign(raw, secret=secret, timestamp=timestamp, content_type=content_type)
    if bad_signature:
        sig = headers["X-Slack-Signature"]
        last = "0" if sig[-1] != "0" else "1"
        headers["X-Slack-Signature"] = sig[:-1] + last
    if omit_signature:
        del headers["X-Slack-Signature"]
    if omit_timestamp:
        del headers["X-Slack-Request-Timestamp"]
    headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
    if extra_headers:
        headers.update(extra_headers)

    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            resp_headers = dict(response.headers.items())
            data = response.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
        resp_headers = dict(exc.headers.items()) if exc.headers else {}
        data = exc.read()
    text = data.decode("utf-8", errors="replace")
    ctype = next((v for k, v in resp_headers.items() if k.lower() == "content-type"), "")
    payload: Any = text
    if "json" in ctype.lower() or text.lstrip().startswith(("{", "[")):
        try:
            payload = json.loads(text)
        except ValueError:
            payload = text
    return status, payload, resp_headers


def post_slash_command(
    base_url: str,
    text: str,
    *,
    secret: str,
    path: str = "/slack/events",
    timestamp: int | None = None,
    bad_signature: bool = False,
    omit_signature: bool = False,
    omit_timestamp: bool = False,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    **fields: Any,
) -> tuple[int, Any, dict[str, str]]:
    """Post a signed slash command to ``{base_url}{path}``; see :func:`post_signed`.

    ``fields`` are passed to :func:`slash_command_body` (``user_id=``, ``response_url=``...).
    """
    body = slash_command_body(text, **fields)
    return post_signed(
        base_url.rstrip("/") + path,
        body,
        secret=secret,
        timestamp=timestamp,
        content_type=FORM_CONTENT_TYPE,
        bad_signature=bad_signature,
        omit_signature=omit_signature,
        omit_timestamp=omit_timestamp,
        extra_headers=extra_headers,
        timeout=timeout,
    )

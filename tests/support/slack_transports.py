"""One Slack conversation over either transport: signed HTTP POSTs or Socket Mode envelopes.

    slack = HttpSlack(base_url, secret=SECRET)     # or SocketSlack(socket_mode_server)
    status, answer = slack.command("log demo-booked acme", user_id="U1")
    status, answer = slack.send(payload)           # an interactive payload or an event body

`answer` is what Slack gets back: the HTTP response's JSON, or the ack's payload (None when
empty). A payload is whatever Slack would POST in HTTP mode; over Socket Mode it travels in
the envelope Slack wraps it in (tests/support/socket_mode.py `as_envelope`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from tests.support.slack_signing import post_signed, slash_command_body
from tests.support.socket_mode import SocketModeServer, as_envelope, http_request


def slash_fields(text: str, **fields: Any) -> dict[str, str]:
    """A slash command's fields as Slack sends them (tests/support/slack_signing.py names)."""
    return dict(parse_qsl(slash_command_body(text, **fields), keep_blank_values=True))


class HttpSlack:
    """Slack in HTTP mode: every payload signed and POSTed to /slack/events."""

    def __init__(self, base_url: str, *, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret

    def send(self, payload: dict) -> tuple[int, Any]:
        body, content_type = http_request(as_envelope(payload))
        status, answer, _ = post_signed(f"{self.base_url}/slack/events", body,
                                        secret=self.secret, content_type=content_type)
        return status, answer or None

    def command(self, text: str, **fields: Any) -> tuple[int, Any]:
        return self.send(slash_fields(text, **fields))


class SocketSlack:
    """Slack in Socket Mode: every payload sent as an envelope; the answer is its ack's."""

    def __init__(self, server: SocketModeServer) -> None:
        self.server = server

    def send(self, payload: dict) -> tuple[int, Any]:
        return 200, self.server.deliver(as_envelope(payload)).payload

    def command(self, text: str, **fields: Any) -> tuple[int, Any]:
        return self.send(slash_fields(text, **fields))

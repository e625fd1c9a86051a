"""Opaque values for buttons that act on one event (Undo): bound to a workspace and an event.

A button's value comes back in an interactive payload; it is only trusted when it carries this
app's HMAC over (purpose, workspace, event id). A value from another workspace, an edited
value or a value signed with another key reads as None and nothing is done. The key is derived
from a secret the bot already holds (the bot token or the Teams app password), so there is no
extra setting; the value itself holds no secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_VERSION = "k1"
MAX_VALUE = 2000  # Slack's limit for a button value


def _digest(key: bytes, text: str) -> str:
    mac = hmac.digest(key, text.encode(), "sha256")[:16]  # one C call: hmac.new is Python
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class ActionValues:
    """Signs and reads `k1.<purpose>.<event id>.<mac>` values for one workspace at a time."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"kpibot button values\x00" + secret.encode()).digest()

    def sign(self, purpose: str, workspace_id: str, event_id: int) -> str:
        body = f"{_VERSION}.{purpose}.{event_id}"
        return f"{body}.{_digest(self._key, workspace_id + chr(0) + body)}"

    def read(self, purpose: str, workspace_id: str, value: object) -> int | None:
        """The event id in `value` when it is this app's value for `purpose` in
        `workspace_id`; None otherwise (forged, edited, another workspace or purpose)."""
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            return None
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or parts[1] != purpose:
            return None
        if not parts[2].isascii() or not parts[2].isdigit() or len(parts[2]) > 18:
            return None
        body = ".".join(parts[:3])
        expected = _digest(self._key, workspace_id + chr(0) + body)
        if not hmac.compare_digest(expected, parts[3]):
            return None
        return int(parts[2])

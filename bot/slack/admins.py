"""Who counts as an admin: KPIBOT_ADMINS, plus Slack workspace admins and owners (cached).

The `users.info` look-up is bounded well inside a command's deadline (LOOKUP_TIMEOUT, no
retries): a slow or failing Slack raises AdminCheckFailed, which refuses the admin action with
a clear reply instead of missing Slack's 3 s. Answers are cached for `ttl_seconds`, failures
for `failure_ttl_seconds`, so a struggling Slack is not asked again by every command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.core import AdminCheckFailed

log = logging.getLogger(__name__)

Lookup = Callable[[str, str], bool]
LOOKUP_TIMEOUT = 1.0  # seconds; a command's whole budget is COMMAND_BUDGET (bot/core.py)


class AdminDirectory:
    """`is_admin(workspace, user)`: static admins first, then the platform's own answer."""

    def __init__(self, static_admins: frozenset[str] = frozenset(),
                 lookups: dict[str, Lookup] | None = None) -> None:
        self.static_admins = static_admins
        self.lookups = lookups or {}

    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        if user_id in self.static_admins:
            return True
        lookup = self.lookups.get(workspace_id.split(":", 1)[0])
        return bool(lookup and lookup(workspace_id, user_id))


def admin_lookup_client(token: str, api_url: str) -> WebClient:
    """A Web API client for the look-up: LOOKUP_TIMEOUT, and no retry that would double it."""
    return WebClient(token=token, base_url=api_url, timeout=LOOKUP_TIMEOUT, retry_handlers=[])


class SlackAdminLookup:
    """Asks Slack's `users.info` whether a user is a workspace admin or owner; caches answers
    and failures (see the module docstring)."""

    def __init__(self, client: WebClient, ttl_seconds: float = 600.0,
                 failure_ttl_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, bool | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace_id: str, user_id: str) -> bool:
        key = (workspace_id, user_id)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            at, answer = cached
            if answer is None and self.clock() - at < self.failure_ttl:
                raise AdminCheckFailed("Slack did not answer the admin check a moment ago")
            if answer is not None and self.clock() - at < self.ttl:
                return answer
        try:
            user = self.client.users_info(user=user_id)["user"]
        except (SlackApiError, SlackRequestError, OSError) as error:
            log.warning("users.info failed for %s: %s; admin actions refused for %.0f s",
                        user_id, type(error).__name__, self.failure_ttl)
            with self._lock:
                self._cache[key] = (self.clock(), None)
            raise AdminCheckFailed("Slack did not answer the admin check") from None
        answer = bool(user.get("is_admin") or user.get("is_owner")
                      or user.get("is_primary_owner"))
        with self._lock:
            self._cache[key] = (self.clock(), answer)
        return answer

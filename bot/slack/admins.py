"""Who counts as an admin: KPIBOT_ADMINS, plus Slack workspace admins and owners (cached)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

log = logging.getLogger(__name__)

Lookup = Callable[[str, str], bool]


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


class SlackAdminLookup:
    """Asks Slack's `users.info` whether a user is a workspace admin or owner; caches answers."""

    def __init__(self, client: WebClient, ttl_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace_id: str, user_id: str) -> bool:
        key = (workspace_id, user_id)
        with self._lock:
            cached = self._cache.get(key)
        if cached and self.clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except (SlackApiError, SlackRequestError, OSError) as error:
            log.warning("users.info failed for %s: %s; treating as not admin", user_id,
                        type(error).__name__)
            return False
        answer = bool(user.get("is_admin") or user.get("is_owner")
                      or user.get("is_primary_owner"))
        with self._lock:
            self._cache[key] = (self.clock(), answer)
        return answer

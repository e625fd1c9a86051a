"""Who counts as an admin: KPIBOT_ADMINS, plus Slack workspace admins and owners (cached).

The `users.info` look-up is bounded well inside a command's deadline (LOOKUP_TIMEOUT, no
retries): a slow or failing Slack raises AdminCheckFailed, which refuses the admin action with
a clear reply instead of missing Slack's 3 s. Answers are cached for `ttl_seconds`, failures
for `failure_ttl_seconds`, so a struggling Slack is not asked again by every command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.core import AdminCheckFailed
from bot.slack.people import SlackUsers

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
    """Asks Slack's `users.info` whether a user is a workspace admin or owner; answers and
    failures are cached (see the module docstring) in the `users` cache it shares with the name
    look-up (bot/slack/people.py), so one `users.info` serves both."""

    def __init__(self, client: WebClient, ttl_seconds: float = 600.0,
                 failure_ttl_seconds: float = 30.0, users: SlackUsers | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds
        self.users = users or SlackUsers(clock)

    def __call__(self, workspace_id: str, user_id: str) -> bool:
        key = (workspace_id, user_id)
        known, user = self.users.get(key, self.ttl, self.failure_ttl)
        if known and user is None:
            raise AdminCheckFailed("Slack did not answer the admin check a moment ago")
        if not known:
            try:
                user = self.client.users_info(user=user_id)["user"]
            except (SlackApiError, SlackRequestError, OSError) as error:
                log.warning("users.info failed for %s: %s; admin actions refused for %.0f s",
                            user_id, type(error).__name__, self.failure_ttl)
                self.users.put(key, None)
                raise AdminCheckFailed("Slack did not answer the admin check") from None
            self.users.put(key, user)
        return bool(user.get("is_admin") or user.get("is_owner")
                    or user.get("is_primary_owner"))

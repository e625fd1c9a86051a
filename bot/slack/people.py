"""Who a Slack user is: the name people know them by, their email and language, from
`users.info` (with `include_locale`).

The slash payload's `user_name` is the deprecated handle (`alice`), not the name a team reads
in a leaderboard (`Sara Nilsen`). The look-up is cached (an hour; a failure for a minute, so a
struggling Slack is not asked by every command) and bounded well inside a command's deadline;
when Slack does not answer, the command goes on with the handle and the name stored before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from reports.languages import language_code

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 1.0  # seconds


@dataclass(frozen=True)
class Profile:
    name: str | None  # real name, else display name
    email: str | None  # needs the users:read.email scope
    language: str | None = None  # kpibot's language for the user's Slack locale, if it has it


def profile_of(user: dict) -> Profile:
    """The name and email in a `users.info` user object (Slack's documented shape)."""
    profile = user.get("profile") or {}
    name = next((" ".join(value.split()) for value in (
        profile.get("real_name"), user.get("real_name"), profile.get("display_name"))
        if isinstance(value, str) and value.strip()), None)
    email = profile.get("email")
    locale = user.get("locale")
    return Profile(name=name[:200] if name else None,
                   email=email.strip()[:320] if isinstance(email, str) and email.strip() else None,
                   language=language_code(locale) if isinstance(locale, str) else None)


class SlackUsers:
    """The `users.info` answers of the last while, shared by the name look-up and the admin
    check (bot/slack/admins.py), so a command asks Slack about its user once: a user object, or
    None for a failed look-up. Keyed by (workspace id, user id); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, dict | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], ttl: float,
            failure_ttl: float) -> tuple[bool, dict | None]:
        """(known, user): known when an answer younger than its ttl is there."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return False, None
        at, user = entry
        return self.clock() - at < (ttl if user is not None else failure_ttl), user

    def put(self, key: tuple[str, str], user: dict | None) -> None:
        with self._lock:
            self._entries[key] = (self.clock(), user)


class SlackProfiles:
    """`await profiles(workspace_id, user_id, token)` → Profile, or None when Slack does not
    tell (then the command goes on with the handle)."""

    def __init__(self, api_url: str, users: SlackUsers | None = None,
                 ttl_seconds: float = 3600.0, failure_ttl_seconds: float = 60.0) -> None:
        self.client = AsyncWebClient(base_url=api_url, timeout=LOOKUP_TIMEOUT, retry_handlers=[])
        self.users = users or SlackUsers()
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds

    async def __call__(self, workspace_id: str, user_id: str, token: str) -> Profile | None:
        key = (workspace_id, user_id)
        known, user = self.users.get(key, self.ttl, self.failure_ttl)
        if not known:
            try:
                response = await asyncio.wait_for(
                    self.client.users_info(user=user_id, include_locale=True, token=token),
                    LOOKUP_TIMEOUT)
                user = response["user"]
            except (SlackApiError, SlackRequestError, OSError, TimeoutError, KeyError,
                    aiohttp.ClientError) as error:
                log.warning("users.info failed for %s: %s; using the name Slack sent",
                            user_id, type(error).__name__)
                user = None
            self.users.put(key, user)
        return profile_of(user) if isinstance(user, dict) else None

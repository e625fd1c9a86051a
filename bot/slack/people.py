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
import time
from collections.abc import Callable
from dataclasses import dataclass

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


class SlackProfiles:
    """`await profiles(user_id, token)` → Profile, or None when Slack does not tell."""

    def __init__(self, api_url: str, ttl_seconds: float = 3600.0,
                 failure_ttl_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = AsyncWebClient(base_url=api_url, timeout=LOOKUP_TIMEOUT, retry_handlers=[])
        self.ttl = ttl_seconds
        self.failure_ttl = failure_ttl_seconds
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Profile | None]] = {}

    async def __call__(self, team_id: str, user_id: str, token: str) -> Profile | None:
        key = (team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            at, profile = cached
            if self.clock() - at < (self.ttl if profile is not None else self.failure_ttl):
                return profile
        try:
            response = await asyncio.wait_for(
                self.client.users_info(user=user_id, include_locale=True, token=token),
                LOOKUP_TIMEOUT)
            profile = profile_of(response["user"])
        except (SlackApiError, SlackRequestError, OSError, TimeoutError, KeyError) as error:
            log.warning("users.info failed for %s: %s; using the name Slack sent",
                        user_id, type(error).__name__)
            profile = None
        self._cache[key] = (self.clock(), profile)
        return profile

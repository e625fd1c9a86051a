"""Fixtures of the HubSpot sync tests: the portal stand-in, a workspace, a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sync.hubspot import HubSpotClient
from storage.workspaces import ensure_user, ensure_workspace
from tests.conftest import FixedClock
from tests.support.hubspot_api import HubSpotApi, hubspot_api_server
from tests.support.hubspot_portal import NOW, Portal, build_portal
from tests.support.slack_api import PROXY_ENV_VARS

WORKSPACE = "slack:T0HUB"


@pytest.fixture
def hub_clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch, hub_clock: FixedClock) -> Iterator[HubSpotApi]:
    for var in PROXY_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    with hubspot_api_server(clock=hub_clock) as api:
        yield api
    assert not api.errors, api.errors


@pytest.fixture
def portal(hubspot: HubSpotApi) -> Portal:
    return build_portal(hubspot)


@pytest.fixture
def workspace(database) -> str:
    """The workspace, with one chat user whose email is a HubSpot owner's (Ana)."""
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=WORKSPACE, platform="slack",
                         timezone="UTC", currency="USD", now=NOW)
        user = ensure_user(session=session, workspace_id=WORKSPACE, user_id="U_ANA",
                           display_name="ana", now=NOW)
        user.email = "ana@example.com"
        session.add(user)
    return WORKSPACE


class Sleeps(list):
    """The injected sleep: records the seconds asked for, never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(hubspot: HubSpotApi, sleeps: Sleeps):
    def make(**kwargs) -> HubSpotClient:
        kwargs.setdefault("sleep", sleeps)
        return HubSpotClient(kwargs.pop("token", hubspot.token), base_url=hubspot.base_url,
                             **kwargs)
    return make

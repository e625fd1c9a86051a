"""Bot Framework JWT validation and the connector token cache, against the local TeamsCloud."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.teams.auth import (
    MULTI_TENANT_TOKEN_URL,
    AuthError,
    BotFrameworkJwtValidator,
    ConnectorTokenProvider,
    KeySetUnavailable,
    TokenEndpointError,
    token_url_for,
)
from tests.support.teams import APP_ID, APP_PASSWORD, SigningKey, sign_token


@pytest.fixture
def validator(teams_cloud):
    return BotFrameworkJwtValidator(app_id=APP_ID, metadata_url=teams_cloud.metadata_url)


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_valid_token_passes_and_keys_are_cached(validator, teams_cloud):
    for _ in range(3):
        checked = validator.validate_token(_bearer(teams_cloud.token()))
        validator.check_activity(checked, channel_id="msteams",
                                 service_url=teams_cloud.service_url)
    assert checked.claims["aud"] == APP_ID
    assert checked.claims["iss"] == "https://api.botframework.com"
    assert checked.endorsements == ("msteams",)
    assert (teams_cloud.metadata_requests, teams_cloud.jwks_requests) == (1, 1)


def test_clock_skew_of_a_few_minutes_is_tolerated(validator, teams_cloud):
    slightly_expired = teams_cloud.token(issued_at=time.time() - 3600 - 120, expires_in=3600)
    validator.validate_token(_bearer(slightly_expired))
    with pytest.raises(AuthError, match="expired"):
        validator.validate_token(_bearer(teams_cloud.token(issued_at=time.time() - 3600 - 600,
                                                            expires_in=3600)))


@pytest.mark.parametrize(("make", "problem"), [
    (lambda c: sign_token(SigningKey.generate(kid=c.key.kid)), "invalid token"),
    (lambda c: sign_token(SigningKey.generate()), "unknown key"),
    (lambda c: c.token(audience="someone-else"), "audience"),
    (lambda c: c.token(issuer="https://login.microsoftonline.com/x/v2.0"), "issuer"),
    (lambda c: c.token(not_before=time.time() + 900), "not yet valid"),
    (lambda c: c.token(algorithm="RS512"), "RS256"),
    (lambda c: "a.b.c", "malformed"),
])
def test_bad_tokens_are_refused(validator, teams_cloud, make, problem):
    with pytest.raises(AuthError, match=problem):
        validator.validate_token(_bearer(make(teams_cloud)))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer a b"])
def test_missing_or_malformed_headers_are_refused(validator, header):
    with pytest.raises(AuthError):
        validator.validate_token(header)


def test_token_must_fit_the_activity(validator, teams_cloud):
    checked = validator.validate_token(_bearer(teams_cloud.token()))
    with pytest.raises(AuthError, match="serviceurl"):
        validator.check_activity(checked, channel_id="msteams",
                                 service_url="https://smba.example/evil/")
    with pytest.raises(AuthError, match="endorse"):
        validator.check_activity(checked, channel_id="webchat",
                                 service_url=teams_cloud.service_url)
    # a trailing slash or letter case does not make a different service URL
    validator.check_activity(checked, channel_id="msteams",
                             service_url=teams_cloud.service_url.rstrip("/").upper())


def test_an_unreachable_key_set_is_not_an_auth_failure(teams_cloud):
    validator = BotFrameworkJwtValidator(app_id=APP_ID,
                                         metadata_url="http://127.0.0.1:9/openid", timeout=1)
    with pytest.raises(KeySetUnavailable):
        validator.validate_token(_bearer(teams_cloud.token()))


def test_token_url_defaults():
    assert token_url_for(None) == MULTI_TENANT_TOKEN_URL
    assert token_url_for("tid-1") == "https://login.microsoftonline.com/tid-1/oauth2/v2.0/token"


def test_connector_tokens_are_cached_and_never_shown(teams_cloud, caplog):
    caplog.set_level(logging.DEBUG)
    provider = ConnectorTokenProvider(app_id=APP_ID, password=APP_PASSWORD,
                                      token_url=teams_cloud.token_url)

    async def twice():
        return await provider.get_token(), await provider.get_token()

    first, second = asyncio.run(twice())
    assert first == second and first.startswith("connector-token-")
    assert len(teams_cloud.token_requests) == 1
    assert APP_PASSWORD not in repr(provider) and first not in repr(provider)
    assert APP_PASSWORD not in caplog.text and first not in caplog.text


def test_expired_connector_tokens_are_renewed(teams_cloud):
    now = [1000.0]
    provider = ConnectorTokenProvider(app_id=APP_ID, password=APP_PASSWORD,
                                      token_url=teams_cloud.token_url, monotonic=lambda: now[0])
    first = asyncio.run(provider.get_token())
    now[0] += 3599 - 300 - 1
    assert asyncio.run(provider.get_token()) == first
    now[0] += 2
    assert asyncio.run(provider.get_token()) != first
    assert len(teams_cloud.token_requests) == 2


def test_token_endpoint_failures_are_classified(teams_cloud):
    wrong = ConnectorTokenProvider(app_id=APP_ID, password="wrong-password",
                                   token_url=teams_cloud.token_url)
    with pytest.raises(TokenEndpointError) as refused:
        asyncio.run(wrong.get_token())
    assert (refused.value.status, refused.value.transient) == (401, False)
    assert "wrong-password" not in str(refused.value)
    teams_cloud.fail_next("token", status=503)
    right = ConnectorTokenProvider(app_id=APP_ID, password=APP_PASSWORD,
                                   token_url=teams_cloud.token_url)
    with pytest.raises(TokenEndpointError) as outage:
        asyncio.run(right.get_token())
    assert outage.value.transient is True

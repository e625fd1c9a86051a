"""Bot Framework authentication, both directions.

Incoming (`BotFrameworkJwtValidator`): every request to `/api/messages` carries
`Authorization: Bearer <JWT>` issued by the Bot Connector service. It is accepted only when
(Bot Framework "authenticate requests from the Bot Connector service" rules):
  * the signature is RS256 by a key in the JWKS named by the OpenID metadata's `jwks_uri`
    (the metadata URL is a setting, so tests serve a local key set);
  * `iss` is `https://api.botframework.com`;
  * `aud` is our Microsoft App ID;
  * `exp`/`nbf` hold, with 5 minutes of clock skew (the Bot Framework allowance);
  * the signing key endorses the activity's `channelId` when the key lists endorsements;
  * the `serviceurl` claim, when present, equals the activity's `serviceUrl`.
The SDK's own `JwtTokenValidator` cannot be pointed at another key set (its JWKS URLs are
fixed), so validation uses PyJWT's `PyJWKClient` against the configured metadata instead.

Outgoing (`ConnectorTokenProvider`): a client-credentials token from the token endpoint
(app id + password), cached until shortly before it expires. Neither the password nor any
token is ever logged or put into an exception message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
MULTI_TENANT_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
SINGLE_TENANT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
CONNECTOR_SCOPE = "https://api.botframework.com/.default"
CLOCK_SKEW_SECONDS = 300
ALGORITHMS = ("RS256",)


class AuthError(Exception):
    """The request is not authenticated (answer 401). The message is safe to log."""


class KeySetUnavailable(Exception):
    """The OpenID metadata or key set could not be fetched (answer 503, nothing runs)."""


class TokenEndpointError(Exception):
    """The token endpoint refused or could not be reached; `transient` says if a retry helps."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient


def token_url_for(tenant_id: str | None) -> str:
    """Microsoft's token endpoint: the bot's own tenant (single-tenant) or botframework.com."""
    return SINGLE_TENANT_TOKEN_URL.format(tenant=tenant_id) if tenant_id \
        else MULTI_TENANT_TOKEN_URL


@dataclass(frozen=True)
class ValidatedToken:
    claims: dict[str, Any]
    endorsements: tuple[str, ...] | None = field(default=None)


class _EndorsingJWKClient(jwt.PyJWKClient):
    """PyJWKClient that also remembers each key's Bot Framework `endorsements` (channel ids)."""

    def __init__(self, uri: str, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self.endorsements: dict[str, tuple[str, ...] | None] = {}

    def fetch_data(self) -> Any:
        data = super().fetch_data()
        keys = data.get("keys") if isinstance(data, dict) else None
        for key in keys if isinstance(keys, list) else []:
            if isinstance(key, dict) and key.get("kid"):
                endorsed = key.get("endorsements")
                self.endorsements[str(key["kid"])] = (
                    tuple(str(e) for e in endorsed) if isinstance(endorsed, list) else None)
        return data


class BotFrameworkJwtValidator:
    """Validates Bot Connector JWTs; thread-safe; blocking I/O (call it from a thread)."""

    def __init__(self, *, app_id: str, metadata_url: str = DEFAULT_OPENID_METADATA_URL,
                 issuers: tuple[str, ...] = (BOT_FRAMEWORK_ISSUER,),
                 clock_skew: float = CLOCK_SKEW_SECONDS, metadata_ttl: float = 24 * 3600,
                 key_set_ttl: float = 3600, timeout: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not app_id:
            raise ValueError("app_id is required")
        self.app_id = app_id
        self.metadata_url = metadata_url
        self.issuers = issuers
        self.clock_skew = clock_skew
        self.metadata_ttl = metadata_ttl
        self.key_set_ttl = key_set_ttl
        self.timeout = timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._clients: dict[str, _EndorsingJWKClient] = {}

    def validate_token(self, authorization: str | None) -> ValidatedToken:
        """Check the `Authorization` header's JWT; raise AuthError or KeySetUnavailable."""
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("token not signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token names no signing key")
        metadata = self._openid_metadata()
        supported = metadata.get("id_token_signing_alg_values_supported")
        if isinstance(supported, list) and header["alg"] not in supported:
            raise AuthError("token algorithm not allowed by the OpenID metadata")
        client = self._jwk_client(str(metadata["jwks_uri"]))
        try:
            key = client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise KeySetUnavailable("the Bot Framework key set could not be fetched") from None
        except jwt.PyJWKClientError:
            raise AuthError("token signed by an unknown key") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=self.app_id,
                issuer=list(self.issuers),
                leeway=self.clock_skew,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience is not this bot") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer is not the Bot Framework") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"invalid token ({type(error).__name__})") from None
        return ValidatedToken(claims=claims, endorsements=client.endorsements.get(kid))

    @staticmethod
    def check_activity(token: ValidatedToken, *, channel_id: str | None,
                       service_url: str | None) -> None:
        """The token must fit the activity it came with (endorsement and serviceurl rules)."""
        if token.endorsements is not None and channel_id and channel_id not in token.endorsements:
            raise AuthError("signing key does not endorse this channel")
        claimed = token.claims.get("serviceurl")
        if claimed is not None and (not service_url
                                    or _normal_url(str(claimed)) != _normal_url(service_url)):
            raise AuthError("serviceurl claim does not match the activity's serviceUrl")

    def _openid_metadata(self) -> dict[str, Any]:
        with self._lock:
            cached = self._metadata
            if cached and self._monotonic() - cached[0] < self.metadata_ttl:
                return cached[1]
            try:
                with urllib.request.urlopen(self.metadata_url, timeout=self.timeout) as response:
                    metadata = json.loads(response.read())
            except (urllib.error.URLError, TimeoutError, OSError, ValueError):
                if cached:  # keep using the last good metadata through an outage
                    return cached[1]
                raise KeySetUnavailable("the OpenID metadata could not be fetched") from None
            if not isinstance(metadata, dict) or not isinstance(metadata.get("jwks_uri"), str):
                raise KeySetUnavailable("the OpenID metadata has no jwks_uri")
            self._metadata = (self._monotonic(), metadata)
            return metadata

    def _jwk_client(self, jwks_uri: str) -> _EndorsingJWKClient:
        with self._lock:
            client = self._clients.get(jwks_uri)
            if client is None:
                client = _EndorsingJWKClient(jwks_uri, lifespan=self.key_set_ttl,
                                             timeout=self.timeout)
                self._clients[jwks_uri] = client
            return client


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing Authorization header")
    parts = authorization.strip().split()
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1]:
        raise AuthError("Authorization header is not a bearer token")
    return parts[1]


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


class ConnectorTokenProvider:
    """Client-credentials tokens for the Bot Connector, cached until shortly before expiry."""

    def __init__(self, *, app_id: str, password: str, token_url: str,
                 scope: str = CONNECTOR_SCOPE, timeout: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app_id = app_id
        self._password = password
        self.token_url = token_url
        self.scope = scope
        self.timeout = timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # token, monotonic expiry

    def __repr__(self) -> str:
        return f"ConnectorTokenProvider(app_id={self.app_id!r}, token_url={self.token_url!r})"

    def cached_token(self) -> str | None:
        with self._lock:
            if self._token and self._monotonic() < self._token[1]:
                return self._token[0]
            return None

    async def get_token(self) -> str:
        cached = self.cached_token()
        if cached:
            return cached
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self._password,
            "scope": self.scope,
        }
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) \
                    as session, session.post(self.token_url, data=form) as response:
                status = response.status
                payload = await response.json(content_type=None) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise TokenEndpointError("the token endpoint could not be reached",
                                     transient=True) from None
        if status != 200:
            raise TokenEndpointError(f"the token endpoint answered HTTP {status}", status=status,
                                     transient=status == 429 or status >= 500)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenEndpointError("the token endpoint returned no access_token")
        try:
            lifetime = float(payload.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(300.0, lifetime / 2)
        with self._lock:
            self._token = (token, self._monotonic() + lifetime - margin)
        return token

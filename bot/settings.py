"""Runtime settings: environment variables (and `.env`), validated once at start.

Built only by the CLI (`build_settings`), never at import time. A frozen dataclass checked by
our own parsers, without pydantic (importing pydantic and building a model of these fields was
~0.18 s of every `kpibot` command's start; session 11). Read as pydantic-settings read them
(kpibot used it until session 8): a field from its variable or its own name, either in any
case; the environment before `.env` in the working folder (python-dotenv's syntax, read only
when the file exists), `build_settings`' arguments before both; defaults checked too. A bad
value is one line naming the variable, what is wrong and what is expected; a secret's value
is never shown (`Secret`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_FILE = ".env"


class SettingsError(RuntimeError):
    """A missing or malformed setting; str(error) is one clear line."""


class Secret:
    """A secret setting's text: shown as `**********` by repr and str (logs, tracebacks,
    the settings' repr); `get_secret_value()` gives it. Falsy when empty."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- parsers: value (an argument, or text from the environment) -> the field's value --------
# Each raises ValueError with what is wrong and what is expected; the variable is named by
# Settings.__post_init__. Accepted as pydantic's lax mode accepted them (session 8's model).

_WHOLE = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")


def _shown(value: object) -> str:
    """A non-secret value as the error shows it: quoted, one line, at most ~40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _secret(value: object) -> Secret | None:
    """Text kept as a Secret; the error never shows the value."""
    if value is None or isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__} (value not shown: a "
                         "secret)")
    return Secret(value)


def _whole(low: int, high: int) -> Callable[[object], int]:
    """A whole number from `low` to `high`: an int, an integral float, or text such as
    ` 42 `, `+42`, `1_000`, `42.0`."""
    expected = f"a whole number from {low} to {high}"

    def parse(value: object) -> int:
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            number = int(value.strip().partition(".")[0])
        elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            number = int(value)
        else:
            raise ValueError(f"{_shown(value)} is not {expected}")
        if not low <= number <= high:
            raise ValueError(f"{_shown(value)} is not {expected}")
        return number
    return parse


def _number(low: float, high: float, *, above: bool = False) -> Callable[[object], float]:
    """A number from `low` (or above it) to `high`: an int, a float, or text such as ` 2.5 `,
    `1e1`, `.5`."""
    expected = (f"a number greater than {low:g} and at most {high:g}" if above
                else f"a number from {low:g} to {high:g}")

    def parse(value: object) -> float:
        try:
            if isinstance(value, str) and value.isascii():
                number = float(value.strip())
            elif isinstance(value, int | float):
                number = float(value)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"{_shown(value)} is not {expected}") from None
        if math.isnan(number) or number > high or number < low or (above and number == low):
            raise ValueError(f"{_shown(value)} is not {expected}")
        return number
    return parse


def _names(value: object) -> frozenset[str]:
    """User ids: `U1, U2,` (commas, blanks dropped) or a collection of texts."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, frozenset | set | list | tuple) \
            and all(isinstance(name, str) for name in value):
        return frozenset(value)
    raise ValueError("expected user ids separated by commas")


def _known_zone(value: object) -> str:
    value = _text(value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{_shown(value)} is not an IANA time zone such as Europe/Oslo") \
            from None
    return value


def _three_letters(value: object) -> str:
    # Three letters, as before: Babel's get_currency_name, asked here until session 8, never
    # refused a code (it names an unknown one by itself) and loaded the locale data of the
    # process's locale (en_US_POSIX) for it.
    code = _text(value).strip().upper()
    if len(code) != 3:
        raise ValueError(f"{_shown(value)} is not an ISO 4217 currency code")
    return code


def _known_database(value: object) -> str:
    value = _text(value)
    if not value.startswith(("sqlite://", "postgresql")):
        raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
    if value.startswith("postgresql") and not value.startswith("postgresql+psycopg://"):
        raise ValueError("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://")
    if value.startswith("sqlite"):
        path = value.removeprefix("sqlite://").removeprefix("/").partition("?")[0]
        if not path or path == ":memory:":
            raise ValueError(f"{value} names no database file; use sqlite:///kpibot.db "
                             "(in this folder) or sqlite:////absolute/path/kpibot.db")
    elif not re.fullmatch(r"postgresql\+psycopg://[^/\s]*/[^/\s?]+(\?\S*)?", value):
        raise ValueError("a PostgreSQL URL looks like postgresql+psycopg://user:password@"
                         "host:5432/database")
    return value


def _token_key(value: object) -> Secret | None:
    secret = _secret(value)
    if secret is None or not secret.get_secret_value().strip():
        return None  # unset: no API tokens (KPIBOT_TOKEN_KEY= in .env turns it off)
    if len(secret.get_secret_value().strip()) < 32:
        raise ValueError("must be at least 32 characters (e.g. openssl rand -base64 32)")
    return secret


def _token_pairs(value: object) -> Secret | None:
    secret = _secret(value)
    if secret is None or not secret.get_secret_value().strip():
        return None
    _pairs(secret.get_secret_value())  # the message names the pair, never a token
    return secret


def _setting(variable: str, default: object, parse: Callable[[object], object]):
    """A field read from `variable` (or the field's own name), checked by `parse`."""
    return field(default=default, metadata={"variable": variable, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Every setting, checked and converted when built (also by `dataclasses.replace`);
    the README's settings table lists each variable with its default
    (tests/bot/test_settings.py)."""

    database_url: str = _setting("DATABASE_URL", "sqlite:///kpibot.db", _known_database)
    slack_bot_token: Secret | None = _setting("SLACK_BOT_TOKEN", None, _secret)
    slack_signing_secret: Secret | None = _setting("SLACK_SIGNING_SECRET", None, _secret)
    slack_app_token: Secret | None = _setting("SLACK_APP_TOKEN", None, _secret)
    slack_api_url: str = _setting("SLACK_API_URL", "https://slack.com/api/", _text)
    timezone: str = _setting("KPIBOT_TIMEZONE", "UTC", _known_zone)
    currency: str = _setting("KPIBOT_CURRENCY", "USD", _three_letters)
    fiscal_year_start: int = _setting("KPIBOT_FISCAL_YEAR_START", 1, _whole(1, 12))
    admins: frozenset[str] = _setting("KPIBOT_ADMINS", frozenset(), _names)
    host: str = _setting("KPIBOT_HOST", "127.0.0.1", _text)
    port: int = _setting("KPIBOT_PORT", 3000, _whole(0, 65535))
    log_level: str = _setting("KPIBOT_LOG_LEVEL", "INFO", _text)
    cache_dir: str | None = _setting("KPIBOT_CACHE_DIR", None, _optional_text)
    digest_grace_hours: float = _setting("KPIBOT_DIGEST_GRACE_HOURS", 12.0, _number(0, 168))
    digest_max_attempts: int = _setting("KPIBOT_DIGEST_MAX_ATTEMPTS", 5, _whole(1, 20))
    # Seconds a chat command's database work may take before it is rolled back and the user is
    # told nothing was stored; Slack gives up on an answer after 3 s.
    command_deadline: float = _setting("KPIBOT_COMMAND_DEADLINE", 2.0,
                                       _number(0, 60, above=True))
    # How long a process holds a digest slot without renewing it before another process may
    # take it over (a crashed process's claim is recovered after this).
    digest_lease_seconds: float = _setting("KPIBOT_DIGEST_LEASE_SECONDS", 600.0,
                                           _number(0, 86400))
    # Seconds a stopping `kpibot serve` (SIGTERM, SIGINT) gives the digests it is sending to
    # finish; the rest are handed back to the next process (bot/cli/shutdown.py).
    shutdown_grace: float = _setting("KPIBOT_SHUTDOWN_GRACE_SECONDS", 20.0, _number(0, 3600))
    # Key of the HMAC that API tokens are stored as (storage/api_tokens.py); changing it
    # invalidates every token. At least 32 characters, e.g. `openssl rand -base64 32`.
    token_key: Secret | None = _setting("KPIBOT_TOKEN_KEY", None, _token_key)
    api_rate: float = _setting("KPIBOT_API_RATE", 5.0,
                               _number(0, 10_000, above=True))  # requests/s/token
    api_burst: int = _setting("KPIBOT_API_BURST", 20, _whole(1, 100_000))
    # HubSpot sync (bot/sync/): private app tokens per workspace, `WORKSPACE=TOKEN` pairs
    # separated by commas; the scheduler syncs each every KPIBOT_HUBSPOT_INTERVAL_MINUTES
    # (0: only `kpibot sync hubspot`). HUBSPOT_API_URL: the API's base URL (tests).
    hubspot_tokens: Secret | None = _setting("KPIBOT_HUBSPOT_TOKENS", None, _token_pairs)
    hubspot_interval_minutes: float = _setting("KPIBOT_HUBSPOT_INTERVAL_MINUTES", 15.0,
                                               _number(0, 1440))
    hubspot_api_url: str = _setting("HUBSPOT_API_URL", "https://api.hubapi.com", _text)
    teams_app_id: str | None = _setting("TEAMS_APP_ID", None, _optional_text)
    teams_app_password: Secret | None = _setting("TEAMS_APP_PASSWORD", None, _secret)
    teams_tenant_id: str | None = _setting("TEAMS_TENANT_ID", None, _optional_text)
    teams_openid_metadata_url: str = _setting(
        "TEAMS_OPENID_METADATA_URL",
        "https://login.botframework.com/v1/.well-known/openidconfiguration", _text)
    # Default: the tenant's token endpoint when TEAMS_TENANT_ID is set (single-tenant bot),
    # else https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token.
    teams_connector_token_url: str | None = _setting("TEAMS_CONNECTOR_TOKEN_URL", None,
                                                     _optional_text)

    def __post_init__(self) -> None:
        """Check and convert every field in order; the first bad one raises SettingsError."""
        for item in fields(self):
            value = getattr(self, item.name)
            try:
                parsed = item.metadata["parse"](value)
            except ValueError as problem:
                raise SettingsError(f"bad setting {item.metadata['variable']}: {problem}") \
                    from None
            if parsed is not value:
                object.__setattr__(self, item.name, parsed)

    def require_token_key(self) -> bytes:
        """The API token key; one clear line when it is not set."""
        if self.token_key is None or not self.token_key.get_secret_value().strip():
            raise SettingsError(
                "missing setting KPIBOT_TOKEN_KEY: API tokens are stored as an HMAC keyed with "
                "it; set it to a random secret of 32+ characters (openssl rand -base64 32) in "
                "the environment or .env, the same for every kpibot process")
        return self.token_key.get_secret_value().strip().encode()

    def hubspot_workspaces(self) -> list[str]:
        """The workspaces with a HubSpot token, in the order given."""
        return list(_pairs(self.hubspot_tokens.get_secret_value())) if self.hubspot_tokens \
            else []

    def hubspot_token(self, workspace_id: str) -> str:
        """The workspace's HubSpot private app token; one clear line when there is none."""
        tokens = _pairs(self.hubspot_tokens.get_secret_value()) if self.hubspot_tokens else {}
        if workspace_id not in tokens:
            raise SettingsError(
                f"no HubSpot token for {workspace_id}: set KPIBOT_HUBSPOT_TOKENS="
                f"{workspace_id}=pat-... (a private app's access token with the scopes "
                "crm.objects.deals.read and crm.objects.owners.read; pairs separated by commas)")
        return tokens[workspace_id]

    def require_slack_http(self) -> None:
        """Fail with one line unless the Slack HTTP-mode credentials are present."""
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise SettingsError(
                f"missing setting {' and '.join(missing)}: kpibot serve needs the Slack app's "
                "bot token and signing secret, in the environment or .env (README: \"Slack app "
                "setup\"; for Teams only, set TEAMS_APP_ID instead)")

    def require_socket_mode(self) -> None:
        """Fail with one line unless the Socket Mode credentials are present: the bot token and
        an app-level token (xapp-...). The signing secret is not needed: Slack sends nothing
        over HTTP in Socket Mode, the connection itself is opened with the app-level token."""
        missing = [name for name, value in (("SLACK_BOT_TOKEN", self.slack_bot_token),
                                            ("SLACK_APP_TOKEN", self.slack_app_token))
                   if value is None or not value.get_secret_value()]
        if missing:
            raise SettingsError(
                f"missing setting {' and '.join(missing)}: kpibot serve --socket-mode needs the "
                "Slack app's bot token (xoxb-...) and an app-level token (xapp-..., scope "
                "connections:write), in the environment or .env (README: \"Slack app setup\")")
        if not self.slack_app_token.get_secret_value().startswith("xapp-"):
            raise SettingsError("bad setting SLACK_APP_TOKEN: it must be an app-level token "
                                "starting with xapp- (Basic Information -> App-Level Tokens), "
                                "not the bot token")


def _pairs(text: str) -> dict[str, str]:
    """`slack:T1=pat-1,teams:x=pat-2` → {workspace: token}; ValueError names the bad pair by
    its place and workspace only."""
    pairs: dict[str, str] = {}
    for number, part in enumerate((p.strip() for p in text.split(",") if p.strip()), 1):
        workspace, sep, token = part.partition("=")
        if not sep or not workspace.strip() or not token.strip():
            raise ValueError(f"pair {number} must look like WORKSPACE=TOKEN (e.g. "
                             "slack:T0123=pat-na1-...)")
        if workspace.strip() in pairs:
            raise ValueError(f"{workspace.strip()} has two tokens")
        pairs[workspace.strip()] = token.strip()
    return pairs


def variables() -> dict[str, str]:
    """Each setting's environment variable → its field's name, in the fields' order."""
    return {item.metadata["variable"]: item.name for item in fields(Settings)}


def _sources(overrides: dict[str, object]) -> dict[str, object]:
    """Each field's value by its name: `overrides` (by variable or name), else the
    environment, else `.env`; a field found nowhere keeps its default. Variable names in any
    case; a field's variable before its name."""
    environment = {name.lower(): value for name, value in os.environ.items()}
    env_file = Path(ENV_FILE)
    dotenv = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        dotenv = {name.lower(): value
                  for name, value in dotenv_values(env_file, encoding="utf8").items()}
    values: dict[str, object] = {}
    for variable, name in variables().items():
        keys = (variable, name)
        given = [overrides[key] for key in keys if key in overrides]
        found = given or [source[key.lower()] for source in (environment, dotenv)
                          for key in keys if source.get(key.lower()) is not None]
        if found:
            values[name] = found[0]
    return values


def build_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with one line on bad input."""
    return Settings(**_sources(overrides))

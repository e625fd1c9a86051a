"""Runtime settings: environment variables (and `.env`), validated once at start.

Built only by the CLI (`build_settings`), never at import time. Read as pydantic-settings
read them (kpibot used it until session 8; importing it cost ~8% of `kpibot kpi NAME --json`):
a field from its variable (the alias) or its own name, either in any case; the environment
before `.env` in the working folder (python-dotenv's syntax, read only when the file exists),
`build_settings`' arguments before both; defaults validated too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_FILE = ".env"


class SettingsError(RuntimeError):
    """A missing or malformed setting; str(error) is one clear line."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True)

    database_url: str = Field("sqlite:///kpibot.db", alias="DATABASE_URL")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    timezone: str = Field("UTC", alias="KPIBOT_TIMEZONE")
    currency: str = Field("USD", alias="KPIBOT_CURRENCY")
    fiscal_year_start: int = Field(1, alias="KPIBOT_FISCAL_YEAR_START", ge=1, le=12)
    admins: frozenset[str] = Field(frozenset(), alias="KPIBOT_ADMINS")
    host: str = Field("127.0.0.1", alias="KPIBOT_HOST")
    port: int = Field(3000, alias="KPIBOT_PORT", ge=0, le=65535)
    log_level: str = Field("INFO", alias="KPIBOT_LOG_LEVEL")
    digest_grace_hours: float = Field(12.0, alias="KPIBOT_DIGEST_GRACE_HOURS", ge=0, le=168)
    digest_max_attempts: int = Field(5, alias="KPIBOT_DIGEST_MAX_ATTEMPTS", ge=1, le=20)
    # Seconds a chat command's database work may take before it is rolled back and the user is
    # told nothing was stored; Slack gives up on an answer after 3 s.
    command_deadline: float = Field(2.0, alias="KPIBOT_COMMAND_DEADLINE", gt=0, le=60)
    # How long a process holds a digest slot without renewing it before another process may
    # take it over (a crashed process's claim is recovered after this).
    digest_lease_seconds: float = Field(600.0, alias="KPIBOT_DIGEST_LEASE_SECONDS", ge=0,
                                        le=86400)
    # Seconds a stopping `kpibot serve` (SIGTERM, SIGINT) gives the digests it is sending to
    # finish; the rest are handed back to the next process (bot/cli/shutdown.py).
    shutdown_grace: float = Field(20.0, alias="KPIBOT_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    # Key of the HMAC that API tokens are stored as (storage/api_tokens.py); changing it
    # invalidates every token. At least 32 characters, e.g. `openssl rand -base64 32`.
    token_key: SecretStr | None = Field(None, alias="KPIBOT_TOKEN_KEY")
    api_rate: float = Field(5.0, alias="KPIBOT_API_RATE", gt=0, le=10_000)  # requests/s/token
    api_burst: int = Field(20, alias="KPIBOT_API_BURST", ge=1, le=100_000)
    # HubSpot sync (bot/sync/): private app tokens per workspace, `WORKSPACE=TOKEN` pairs
    # separated by commas; the scheduler syncs each every KPIBOT_HUBSPOT_INTERVAL_MINUTES
    # (0: only `kpibot sync hubspot`). HUBSPOT_API_URL: the API's base URL (tests).
    hubspot_tokens: SecretStr | None = Field(None, alias="KPIBOT_HUBSPOT_TOKENS")
    hubspot_interval_minutes: float = Field(15.0, alias="KPIBOT_HUBSPOT_INTERVAL_MINUTES",
                                            ge=0, le=1440)
    hubspot_api_url: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_URL")
    teams_app_id: str | None = Field(None, alias="TEAMS_APP_ID")
    teams_app_password: SecretStr | None = Field(None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, alias="TEAMS_TENANT_ID")
    teams_openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        alias="TEAMS_OPENID_METADATA_URL")
    # Default: the tenant's token endpoint when TEAMS_TENANT_ID is set (single-tenant bot),
    # else https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token.
    teams_connector_token_url: str | None = Field(None, alias="TEAMS_CONNECTOR_TOKEN_URL")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Oslo") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _three_letters(cls, value: str) -> str:
        # Three letters, as before: Babel's get_currency_name, asked here until session 8,
        # never refused a code (it names an unknown one by itself) and loaded the locale data
        # of the process's locale (en_US_POSIX) for it.
        code = value.strip().upper()
        if len(code) != 3:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @field_validator("token_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # unset: no API tokens (KPIBOT_TOKEN_KEY= in .env turns it off)
        if len(value.get_secret_value().strip()) < 32:
            raise ValueError("must be at least 32 characters (e.g. openssl rand -base64 32)")
        return value

    def require_token_key(self) -> bytes:
        """The API token key; one clear line when it is not set."""
        if self.token_key is None or not self.token_key.get_secret_value().strip():
            raise SettingsError(
                "missing setting KPIBOT_TOKEN_KEY: API tokens are stored as an HMAC keyed with "
                "it; set it to a random secret of 32+ characters (openssl rand -base64 32) in "
                "the environment or .env, the same for every kpibot process")
        return self.token_key.get_secret_value().strip().encode()

    @field_validator("hubspot_tokens")
    @classmethod
    def _token_pairs(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        _pairs(value.get_secret_value())  # the message names the pair, never a token
        return value

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

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
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


def _sources(overrides: dict[str, object]) -> dict[str, object]:
    """Each field's value by its alias: `overrides` (by alias or name), else the environment,
    else `.env`; a field found nowhere keeps its default. Variable names in any case; a
    field's alias before its name."""
    environment = {name.lower(): value for name, value in os.environ.items()}
    env_file = Path(ENV_FILE)
    dotenv = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        dotenv = {name.lower(): value
                  for name, value in dotenv_values(env_file, encoding="utf8").items()}
    values: dict[str, object] = {}
    for name, field in Settings.model_fields.items():
        keys = (field.alias, name)
        given = [overrides[key] for key in keys if key in overrides]
        found = given or [source[key.lower()] for source in (environment, dotenv)
                          for key in keys if source.get(key.lower()) is not None]
        if found:
            values[field.alias] = found[0]
    return values


def build_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with one line on bad input."""
    try:
        return Settings(**_sources(overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        name = first["loc"][0] if first["loc"] else "setting"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"bad setting {name}: {message}") from None

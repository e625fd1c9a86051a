"""Teams settings, checked once at start (one clear line when something is missing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.settings import Settings, SettingsError
from bot.teams.auth import DEFAULT_OPENID_METADATA_URL, token_url_for


@dataclass(frozen=True)
class TeamsConfig:
    app_id: str
    password: str = field(repr=False)
    tenant_id: str | None = None
    openid_metadata_url: str = DEFAULT_OPENID_METADATA_URL
    token_url: str = ""

    def __post_init__(self) -> None:
        if not self.token_url:
            object.__setattr__(self, "token_url", token_url_for(self.tenant_id))

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsConfig:
        app_id = (settings.teams_app_id or "").strip()
        if not app_id:
            raise SettingsError("missing setting TEAMS_APP_ID (needed for Microsoft Teams)")
        password = (settings.teams_app_password.get_secret_value()
                    if settings.teams_app_password else "")
        if not password:
            raise SettingsError("missing setting TEAMS_APP_PASSWORD (needed when TEAMS_APP_ID "
                                "is set)")
        metadata_url = settings.teams_openid_metadata_url
        token_url = settings.teams_connector_token_url or ""
        for name, url in (("TEAMS_OPENID_METADATA_URL", metadata_url),
                          ("TEAMS_CONNECTOR_TOKEN_URL", token_url)):
            if url and urlsplit(url).scheme not in ("https", "http"):
                raise SettingsError(f"bad setting {name}: must be an http(s) URL")
        return cls(app_id=app_id, password=password,
                   tenant_id=(settings.teams_tenant_id or "").strip() or None,
                   openid_metadata_url=metadata_url, token_url=token_url)

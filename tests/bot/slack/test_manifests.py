"""The Slack app manifests declare what the interactive listeners answer, and no more."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.slack.interactive import LOG_SHORTCUT, MESSAGE_SHORTCUT

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = {"http": ROOT / "deploy" / "slack" / "manifest.http.yml",
             "socket": ROOT / "deploy" / "slack" / "manifest.socket.yml"}
SCOPES = {"commands", "chat:write", "chat:write.public", "channels:history", "groups:history",
          "files:write", "im:write", "users:read", "users:read.email", "team:read"}


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_manifest_declares_shortcuts_home_and_interactivity(mode):
    manifest = yaml.safe_load(MANIFESTS[mode].read_text())
    features, settings = manifest["features"], manifest["settings"]
    assert {(s["type"], s["callback_id"]) for s in features["shortcuts"]} == {
        ("global", LOG_SHORTCUT), ("message", MESSAGE_SHORTCUT)}
    assert features["app_home"]["home_tab_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["interactivity"]["is_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    urls = {settings["interactivity"].get("request_url"),
            settings["interactivity"].get("message_menu_options_url"),
            settings["event_subscriptions"].get("request_url"),
            features["slash_commands"][0].get("url")}
    if mode == "http":
        assert urls == {"https://kpibot.example.com/slack/events"}
        assert settings["socket_mode_enabled"] is False
    else:
        assert urls == {None}  # Socket Mode: no public URL at all
        assert settings["socket_mode_enabled"] is True

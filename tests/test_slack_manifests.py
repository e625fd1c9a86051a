"""The two Slack app manifests: the Socket Mode one is the HTTP one without request URLs."""

from __future__ import annotations

import re
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "slack"


def _body(name: str) -> list[str]:
    """The manifest's lines without comments."""
    text = (MANIFESTS / name).read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_socket_mode_manifest_enables_socket_mode_and_has_no_request_url():
    socket = _body("manifest.socket.yml")
    assert "  socket_mode_enabled: true" in socket
    assert not [line for line in socket if re.search(r"url:", line)]
    assert "  socket_mode_enabled: false" in _body("manifest.http.yml")


def test_the_two_manifests_ask_for_the_same_features_and_scopes():
    """Everything but the URLs and the mode switch is the same: a command, shortcut, event or
    scope added to one is added to the other."""
    def without_mode(lines: list[str]) -> list[str]:
        return [line for line in lines if "socket_mode_enabled" not in line
                and not re.search(r"url:", line)]

    assert without_mode(_body("manifest.socket.yml")) == without_mode(_body("manifest.http.yml"))

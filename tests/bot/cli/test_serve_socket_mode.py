"""`kpibot serve --socket-mode` as a real process, with no signing secret set anywhere; and
the HTTP Slack endpoint, which is never served without one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.server import slack_over_http
from storage.engine import Database
from storage.models import Event
from tests.support.bot_server import free_port, wait_until_healthy
from tests.support.slack_signing import post_slash_command
from tests.support.socket_mode import slash_command, socket_mode_server

SETTINGS = ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
            "TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "KPIBOT_ADMINS")


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--migrate",
                             "--no-scheduler", *args], cwd=tmp_path, env={**clean, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    output = process.communicate(timeout=30)[0]
    assert "Traceback" not in output, output
    return output


def _events(url: str) -> list[Event]:
    database = Database.from_url(url)
    try:
        with database.read() as session:
            return session.scalars(select(Event).order_by(Event.id)).all()
    finally:
        database.dispose()


def test_serve_socket_mode_answers_without_a_signing_secret(tmp_path, slack_api, database_url):
    url = database_url
    port = free_port()
    with socket_mode_server(slack_api) as slack:
        process = _serve(tmp_path, "--socket-mode", "--port", str(port), DATABASE_URL=url,
                         SLACK_BOT_TOKEN="xoxb-socket-process", SLACK_APP_TOKEN=slack.app_token,
                         SLACK_API_URL=slack_api.base_url, KPIBOT_LOG_LEVEL="DEBUG")
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", process)
            ack = slack.deliver(slash_command("log demo-booked zanzibar", user_id="U1"))
            assert "Logged demo-booked" in ack.payload["text"]
            slack.disconnect("refresh_requested")
            slack.wait_connections(2)
            ack = slack.deliver(slash_command("log call 2", user_id="U1"))
            assert ack.connection == 2 and "Logged 2 × call" in ack.payload["text"]
            # no Slack endpoint over HTTP: nothing reaches the app unsigned or signed
            status, _, _ = post_slash_command(f"http://127.0.0.1:{port}", "log call",
                                              secret="")
            assert status == 404
        finally:
            output = _stop(process)
    assert [(e.kind, e.count) for e in _events(url)] == [("demo-booked", 1), ("call", 2)]
    assert "POST /slack/events is off (Socket Mode does not use it)" in output
    assert "connected to Slack over Socket Mode" in output
    assert "refresh_requested" in output
    assert "xoxb-socket-process" not in output and slack.app_token not in output
    # at DEBUG too, the Slack SDKs log no envelope and no reply (bot.logs.QuietChatSdks)
    assert any(" DEBUG " in line for line in output.splitlines())
    assert [line for line in output.splitlines() if "zanzibar" in line and " slack_" in line
            ] == []
    assert "ticket=" not in output or "ticket=[redacted]" in output


def test_without_a_signing_secret_the_http_slack_endpoint_is_off(tmp_path, slack_api):
    """A Teams deployment that also has a Slack bot token but no signing secret: Teams, the
    API and health run; POST /slack/events is not served (not even to an empty-key HMAC)."""
    url = f"sqlite:///{tmp_path / 'http.db'}"
    port = free_port()
    process = _serve(tmp_path, "--port", str(port), DATABASE_URL=url,
                     SLACK_BOT_TOKEN="xoxb-http-process", SLACK_API_URL=slack_api.base_url,
                     TEAMS_APP_ID="00000000-0000-0000-0000-000000000001",
                     TEAMS_APP_PASSWORD="teams-password")
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        status, _, _ = post_slash_command(f"http://127.0.0.1:{port}", "log call", secret="")
        assert status == 404
    finally:
        output = _stop(process)
    assert _events(url) == []
    assert "POST /slack/events is off: SLACK_SIGNING_SECRET is not set" in output


@pytest.mark.parametrize(("env", "expected"), [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "missing setting SLACK_APP_TOKEN: kpibot serve "
                                    "--socket-mode needs"),
    ({"SLACK_APP_TOKEN": "xapp-1"}, "missing setting SLACK_BOT_TOKEN:"),
    ({}, "missing setting SLACK_BOT_TOKEN and SLACK_APP_TOKEN:"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"},
     "SLACK_APP_TOKEN: it must be an app-level token starting with xapp-"),
])
def test_socket_mode_settings_are_one_line(tmp_path, env, expected):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--socket-mode"], cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if k not in SETTINGS}, **env},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("kpibot: ") and expected in line, line
    assert "SIGNING_SECRET" not in line
    for value in env.values():
        assert value not in line


def test_an_app_token_slack_refuses_is_one_line(tmp_path, slack_api):
    with socket_mode_server(slack_api) as slack:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve", "--socket-mode", "--migrate",
             "--no-scheduler", "--port", str(free_port())], cwd=tmp_path,
            env={**{k: v for k, v in os.environ.items() if k not in SETTINGS},
                 "DATABASE_URL": f"sqlite:///{tmp_path / 'refused.db'}",
                 "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1-revoked",
                 "SLACK_API_URL": slack_api.base_url},
            capture_output=True, text=True, timeout=120)
        assert slack.connections == []
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("kpibot: Slack refused SLACK_APP_TOKEN (invalid_auth)"), last
    assert "xapp-1-revoked" not in result.stderr


def test_the_slack_endpoint_is_served_only_with_a_signing_secret():
    app = object()
    assert slack_over_http(app, "secret", socket_mode=False) is app
    assert slack_over_http(app, None, socket_mode=False) is None
    assert slack_over_http(app, "", socket_mode=False) is None
    assert slack_over_http(app, "secret", socket_mode=True) is None
    assert slack_over_http(None, "secret", socket_mode=False) is None

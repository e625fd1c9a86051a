"""`kpibot serve` as a real process serves the events API: a token from `kpibot token create`
stores a batch, the OpenAPI document is there, and the process's output holds neither the token
nor the body."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.bot.api.conftest import TOKEN_KEY, post_events, request
from tests.support.bot_server import free_port, wait_until_healthy


def test_kpibot_serve_stores_a_batch_sent_with_a_cli_token(tmp_path: Path, slack_api):
    port = free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-process-test",
           "SLACK_SIGNING_SECRET": "process-secret", "SLACK_API_URL": slack_api.base_url,
           "KPIBOT_TOKEN_KEY": TOKEN_KEY, "KPIBOT_LOG_LEVEL": "DEBUG"}
    subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=60)
    created = subprocess.run([sys.executable, "-m", "bot.cli", "token", "create", "--workspace",
                              "slack:TPROC", "--name", "zapier"], env=env, check=True,
                             capture_output=True, text=True, timeout=60)
    token = created.stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-scheduler"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    marker = "process-note-91c2"
    try:
        wait_until_healthy(base, process)
        batch = {"events": [{"occurred_at": "2026-11-10", "event": "call", "user": "U1",
                             "note": marker}]}
        answer = post_events(base, token, batch)
        assert answer.status == 200 and answer.json()["stored"] == 1
        assert post_events(base, token, batch).json()["duplicates"] == 1
        assert post_events(base, token[:-2] + "zz", batch).status == 401
        document = request(base, "GET", "/api/v1/openapi.json")
        assert document.status == 200 and document.json()["openapi"] == "3.1.0"
        kpi = request(base, "GET", "/api/v1/kpis/win-rate?period=this-year",
                      headers={"Authorization": f"Bearer {token}"})
        assert kpi.status == 200 and kpi.json()["workspace"] == "slack:TPROC"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "events API: slack:TPROC (token zapier): 1 stored" in output
    assert token not in output and token[:20] not in output and marker not in output

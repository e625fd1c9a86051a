"""`kpibot serve` as a real process: health, a signed /kpi log, the event stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from storage.engine import Database
from storage.models import Event
from tests.support.bot_server import free_port, wait_until_healthy
from tests.support.slack_signing import post_slash_command


def test_kpibot_serve_answers_a_signed_log(tmp_path: Path, slack_api):
    port = free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-process-test",
           "SLACK_SIGNING_SECRET": "process-secret", "SLACK_API_URL": slack_api.base_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--migrate", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        status, body, _ = post_slash_command(base, "log demo-booked acme",
                                             secret="process-secret", user_id="U1")
        assert status == 200
        assert "Logged demo-booked" in body["text"]
        status, _, _ = post_slash_command(base, "log call", secret="wrong-secret")
        assert status == 401
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "xoxb-process-test" not in output and "process-secret" not in output
    database = Database.from_url(url)
    with database.read() as session:
        events = session.scalars(select(Event)).all()
    database.dispose()
    assert [(e.kind, e.deal_key) for e in events] == [("demo-booked", "acme")]

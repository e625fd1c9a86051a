"""`kpibot serve` as a real process runs the scheduled HubSpot sync: configured by settings only,
it creates the workspace and brings the portal's deals in; the token never reaches its output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from storage.engine import Database
from storage.models import CrmSync, Event
from tests.bot.sync.expected import expected_deals
from tests.support.bot_server import free_port, wait_until_healthy

WORKSPACE = "slack:T0SERVE"


def _sync_row(url: str) -> CrmSync | None:
    database = Database.from_url(url)
    try:
        with database.read() as session:
            return session.scalars(select(CrmSync)).first()
    finally:
        database.dispose()


def test_kpibot_serve_runs_the_scheduled_sync(tmp_path: Path, portal, slack_api):
    api = portal.api
    port = free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-process-test",
           "SLACK_SIGNING_SECRET": "process-secret", "SLACK_API_URL": slack_api.base_url,
           "HUBSPOT_API_URL": api.base_url, "KPIBOT_HUBSPOT_TOKENS": f"{WORKSPACE}={api.token}",
           "KPIBOT_HUBSPOT_INTERVAL_MINUTES": "60", "KPIBOT_LOG_LEVEL": "DEBUG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--migrate", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        give_up = time.monotonic() + 120  # a bound on waiting, not a measurement
        row = _sync_row(url)
        while (row is None or row.status in ("never", "running")) and time.monotonic() < give_up:
            time.sleep(0.2)
            row = _sync_row(url)
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert row is not None and row.status == "ok", output[-2000:]
    assert api.token not in output and "HubSpot sync of slack:T0SERVE" in output
    database = Database.from_url(url)
    with database.read() as session:
        events = session.scalars(select(Event).where(Event.workspace_id == WORKSPACE)).all()
    database.dispose()
    assert len(events) == sum(d.events for d in expected_deals(api).values())

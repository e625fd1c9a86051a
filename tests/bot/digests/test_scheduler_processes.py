"""Two `kpibot scheduler` processes on one PostgreSQL database post each slot exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from storage import digests as ledger
from storage.engine import Database
from tests.support.due_digests import seed_due_digests

WORKSPACE = "slack:T1"
CHANNELS = ("C_ONE", "C_TWO", "C_THREE")
pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_scheduler_processes_post_each_slot_once(database_url, slack_api):
    database = Database.from_url(database_url)
    slot = seed_due_digests(database, WORKSPACE, CHANNELS, events=300)
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-two-procs",
           "SLACK_API_URL": slack_api.base_url, "KPIBOT_LOG_LEVEL": "INFO"}
    processes = [subprocess.Popen([sys.executable, "-m", "bot.cli", "scheduler"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while True:
            with database.read() as session:
                rows = ledger.list_deliveries(session=session)
            if len(rows) == len(CHANNELS) and all(r.status == "sent" for r in rows):
                break
            for process in processes:
                assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, f"not delivered: {rows}"
            time.sleep(0.3)
        time.sleep(3)  # give a would-be duplicate time to arrive
    finally:
        outputs = []
        for process in processes:
            process.terminate()
            outputs.append(process.communicate(timeout=15)[0])
    posts = [c for c in slack_api.calls_to("chat.postMessage") if c.channel in CHANNELS]
    assert sorted(c.channel for c in posts) == sorted(CHANNELS)
    with database.read() as session:
        rows = ledger.list_deliveries(session=session)
    assert sorted((r.slot_at, r.status) for r in rows) == [(slot, "sent")] * len(CHANNELS)
    assert len({r.claimed_by for r in rows}) >= 1
    assert all("xoxb-two-procs" not in output for output in outputs)
    database.dispose()

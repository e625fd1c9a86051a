"""SIGKILL in the middle of digest delivery: every channel gets its digest exactly once.

Real `kpibot scheduler`, `kpibot serve` and `kpibot digest send` processes post to the Slack
stand-in. The stand-in stores a post and then holds its answer back (`SlackApiServer.hold`),
so the process is killed at a known point: Slack has the message, the ledger does not know.
The next process (any kind) recovers every interrupted slot by looking for its key in the
channel. The lease is 0 s (`KPIBOT_DIGEST_LEASE_SECONDS`): a dead process's claims can be
taken over at once, so nothing waits for a real lease. Exact counts per run: channels, kills,
digests in Slack, duplicates, lost, ledger rows found in the channel; none left claimed.

Default: 6 channels; `--long`: 32, on SQLite and PostgreSQL, scheduled and manual digests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.digests.delivery import FOUND_NOTE
from sampledata import seed_workspace
from storage import digests as ledger
from storage.engine import Database
from tests.support.bot_server import free_port
from tests.support.slack_api import SlackApiServer
from tests.support.slack_signing import post_slash_command

pytestmark = pytest.mark.reliability

TEAM = "TDIG"
WORKSPACE = f"slack:{TEAM}"
ADMIN = "U0BOSS"
SECRET = "digest-crash-secret"
TOKEN = "xoxb-digest-crash"
WAIT = 120.0  # seconds: an upper bound for a process to reach the next point, never a pause


@dataclass
class Run:
    """One scenario: the database, where each process writes its output, the stand-in."""

    database: Database
    url: str
    slack: SlackApiServer
    logs: Path
    channels: list[str]
    processes: int = 0
    kills: int = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.url, "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": self.slack.base_url,
                "KPIBOT_ADMINS": ADMIN, "KPIBOT_DIGEST_LEASE_SECONDS": "0",
                "KPIBOT_LOG_LEVEL": "INFO", **extra}

    def start(self, *args: str) -> subprocess.Popen:
        self.processes += 1
        out = (self.logs / f"process-{self.processes}.log").open("w")
        return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=self.env(),
                                stdout=out, stderr=subprocess.STDOUT)

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        self.kills += 1

    def output(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.logs.glob("process-*.log")))

    def rows(self, trigger: str | None = None) -> list:
        with self.database.read() as session:
            rows = ledger.list_deliveries(session=session, workspace_id=WORKSPACE, limit=10_000)
        return [r for r in rows if trigger is None or r.trigger == trigger]

    def digests_in(self, channel: str) -> list[dict]:
        return [m for m in self.slack.messages_in(channel)
                if (m.get("metadata") or {}).get("event_type") == "kpibot_digest"]

    def counts(self) -> dict[str, int]:
        per_channel = [len(self.digests_in(c)) for c in self.channels]
        return {"channels": len(self.channels), "kills": self.kills,
                "digests_in_slack": sum(per_channel),
                "duplicates": sum(max(0, n - 1) for n in per_channel),
                "lost": sum(1 for n in per_channel if n == 0)}


def wait_until(what: str, done: Callable[[], bool], process: subprocess.Popen | None,
               run: Run) -> None:
    """Poll a condition (the database, the stand-in) until it holds; fail with the output if
    the process died or the bound passed."""
    deadline = time.monotonic() + WAIT
    while not done():
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process exited ({process.returncode}):\n{run.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached within {WAIT:.0f} s:\n{run.output()[-6000:]}")
        time.sleep(0.05)


@pytest.fixture
def channel_count(sizes) -> int:
    return 32 if sizes.long else 6


@pytest.fixture
def run(database_url, slack_api, tmp_path, channel_count) -> Run:
    database = Database.from_url(database_url)
    now = datetime.now(UTC)
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=300,
                   end=now - timedelta(hours=3), platform="slack")
    channels = [f"C{index:04d}DIG" for index in range(channel_count)]
    yield Run(database=database, url=database_url, slack=slack_api, logs=tmp_path,
              channels=channels)
    database.dispose()


def save_schedules(run: Run, *, slot: datetime, configured: datetime) -> None:
    with run.database.write() as session:
        for channel in run.channels:
            ledger.save_schedule(
                session=session, workspace_id=WORKSPACE, platform="slack", channel_id=channel,
                owner_id=ADMIN, now=configured, channel_name=f"sales-{channel[1:5]}",
                fields=ledger.ScheduleFields(day=slot.weekday(), hour=slot.hour,
                                             minute=slot.minute, timezone="UTC"))


def assert_exactly_once(run: Run, rows: list, *, found: int) -> None:
    counts = run.counts()
    assert (counts["duplicates"], counts["lost"]) == (0, 0), counts
    assert counts["digests_in_slack"] == len(run.channels)
    assert sorted(r.status for r in rows) == ["sent"] * len(run.channels)
    assert not [r for r in run.rows() if r.status == "claimed"]
    by_schedule = {r.schedule_id: r for r in rows}
    with run.database.read() as session:
        schedules = {s.channel_id: s.id for s in ledger.list_schedules(session=session)}
    for channel in run.channels:  # each row names the very message Slack holds
        (message,) = run.digests_in(channel)
        assert by_schedule[schedules[channel]].message_id == message["ts"]
    assert sum(1 for r in rows if r.note == FOUND_NOTE) == found
    assert TOKEN not in run.output() and SECRET not in run.output()


def stored_but_not_recorded(run: Run, rows_trigger: str | None) -> int:
    """Digests Slack holds whose ledger row is not closed as sent (after a kill)."""
    sent = {r.message_id for r in run.rows(rows_trigger) if r.status == "sent"}
    return sum(1 for c in run.channels for m in run.digests_in(c) if m["ts"] not in sent)


def all_sent(run: Run) -> bool:
    return sum(r.status == "sent" for r in run.rows()) == len(run.channels)


# ------------------------------------------------------------------------------ scheduled
def test_scheduler_killed_after_slack_took_the_post_posts_each_channel_once(run, figures):
    """`kpibot scheduler` catching up a due Monday slot is killed each time the stand-in has
    stored one more post than it answered; restarts until every channel has its digest."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    slot = now - timedelta(minutes=3)  # came due while no process was running
    save_schedules(run, slot=slot, configured=now - timedelta(days=2))
    per_process = max(2, len(run.channels) // 6)  # answered posts before the held one
    found = 0
    while True:
        held = run.slack.hold("chat.postMessage", after=per_process)
        process = run.start("scheduler")
        wait_until("a held post or every channel sent",
                   lambda held=held: bool(held.held) or all_sent(run), process, run)
        if not held.held:
            process.terminate()
            process.wait(timeout=30)
            held.release()
            break
        run.kill(process)  # Slack stored the post; the answer never reached the process
        held.release()
        assert run.counts()["duplicates"] == 0, run.counts()
        found += stored_but_not_recorded(run, None)
        assert found == run.kills  # each kill left exactly one post the ledger did not know
    rows = run.rows()
    assert {r.slot_at for r in rows} == {slot}
    assert_exactly_once(run, rows, found=found)
    assert run.kills >= 2
    figures.add(**run.counts(), faults_injected=run.kills, processes=run.processes,
                found_in_channel=found,
                history_lookups=len(run.slack.calls_to("conversations.history")))


# ------------------------------------------------------------------------------ manual
def test_serve_killed_during_digest_now_to_every_channel_then_recovered_once(run, figures):
    """`/kpi digest now` in every channel of a running `kpibot serve`; the stand-in answers
    the first third of the posts and holds the rest; SIGKILL once half of the held ones
    reached Slack. A `kpibot scheduler` started afterwards is killed in turn while it looks
    for one of them in its channel; the next one finishes every manual slot."""
    now = datetime.now(UTC)
    not_due = now + timedelta(days=3)  # the schedules have no slot due: only manual sends
    save_schedules(run, slot=not_due, configured=now - timedelta(days=1))
    answered = len(run.channels) // 3
    held = run.slack.hold("chat.postMessage", after=answered)
    port = free_port()
    server = run.start("serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                return json.loads(response.read())["ok"] is True
        except OSError:
            return False

    wait_until("kpibot serve answering /healthz", healthy, server, run)
    for channel in run.channels:
        status, body, _ = post_slash_command(base, "digest now", secret=SECRET, team_id=TEAM,
                                             user_id=ADMIN, channel_id=channel)
        assert status == 200 and "Posting this channel's digest now" in body["text"], body
    # Each reply came after its manual slot was committed: all are in the ledger already.
    assert len(run.rows("manual")) == len(run.channels)
    half = max(1, (len(run.channels) - answered) // 2)
    run.slack.wait_held(held, half, timeout=WAIT)
    run.kill(server)
    held.release()
    unrecorded = stored_but_not_recorded(run, "manual")
    claimed = sum(r.status == "claimed" for r in run.rows("manual"))
    assert unrecorded >= half and claimed >= unrecorded  # the fault really happened

    # The first recovering process is killed too, while it looks in a channel.
    looking = run.slack.hold("conversations.history", after=unrecorded // 2)
    interrupted = run.start("scheduler")
    run.slack.wait_held(looking, 1, timeout=WAIT)
    run.kill(interrupted)
    looking.release()
    assert run.counts()["duplicates"] == 0
    assert stored_but_not_recorded(run, "manual") <= unrecorded

    recovery = run.start("scheduler")  # another kind of process recovers them
    wait_until("every manual slot sent",
               lambda: sum(r.status == "sent" for r in run.rows("manual")) == len(run.channels),
               recovery, run)
    recovery.terminate()
    recovery.wait(timeout=30)
    rows = run.rows("manual")
    assert_exactly_once(run, rows, found=unrecorded)
    assert all(r.trigger == "manual" for r in run.rows())  # no scheduled slot came due
    figures.add(**run.counts(), faults_injected=run.kills, processes=run.processes,
                found_in_channel=unrecorded,
                claimed_at_kill=claimed, reposted_after_restart=claimed - unrecorded)


def test_digest_send_killed_mid_post_is_recovered_by_the_scheduler_once(run, figures):
    """`kpibot digest send --channel C` killed after Slack stored its post: a scheduler finds
    it in the channel and does not post it again."""
    now = datetime.now(UTC)
    save_schedules(run, slot=now + timedelta(days=3), configured=now - timedelta(days=1))
    channel = run.channels[0]
    held = run.slack.hold("chat.postMessage", channel=channel)
    sender = run.start("digest", "send", "--channel", channel)
    run.slack.wait_held(held, 1, timeout=WAIT)
    run.kill(sender)
    held.release()
    (row,) = run.rows("manual")
    assert (row.status, row.attempts) == ("claimed", 1)
    assert len(run.digests_in(channel)) == 1

    recovery = run.start("scheduler")
    wait_until("the manual slot sent", lambda: run.rows("manual")[0].status == "sent",
               recovery, run)
    recovery.terminate()
    recovery.wait(timeout=30)
    run.channels = [channel]
    assert_exactly_once(run, run.rows("manual"), found=1)
    figures.add(**run.counts(), faults_injected=run.kills, processes=run.processes,
                found_in_channel=1)

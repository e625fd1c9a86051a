"""A real `kpibot serve` process for tests: its output collected line by line on a thread, so
that a test can wait for a log line (a state the process reached), and its workers' process
ids, so that nothing it forked outlives the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.server import BOT_TOKEN, SIGNING_SECRET
from tests.support.bot_server import free_port

WAIT = 120.0  # seconds: an upper bound for a process to reach a state, never a pause
ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


class ServeProcess:
    """`python -m bot.cli serve --port P ARGS` with the stand-in's URL and test tokens
    (`command="scheduler"`: `python -m bot.cli scheduler ARGS`)."""

    def __init__(self, database_url: str, slack_api_url: str, cwd: Path, *args: str,
                 command: str = "serve", **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("SLACK_", "TEAMS_"))}
        environment.update(DATABASE_URL=database_url, SLACK_BOT_TOKEN=BOT_TOKEN,
                           SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack_api_url,
                           KPIBOT_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
        environment.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", command,
             *(("--port", str(self.port)) if command == "serve" else ()), *args],
            env=environment, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.workers: set[int] = set()
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def count(self, text: str) -> int:
        with self._changed:
            return sum(text in line for line in self._lines)

    def wait_for_line(self, text: str, count: int = 1) -> None:
        """Until `count` output lines contain `text`; fails if the process exits first."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while sum(text in line for line in self._lines) < count:
                assert self.process.poll() is None or self._reader.is_alive(), (
                    f"exited ({self.process.returncode}) before {text!r}:\n{self.output()}")
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {text!r} within {WAIT:.0f} s:\n{self.output()}"
                self._changed.wait(min(remaining, 1.0))

    def note_workers(self) -> list[int]:
        workers = children_of(self.process.pid)
        self.workers.update(workers)
        return workers

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait_exit(self) -> int:
        """The exit code, once the process and its output are done (bounded by WAIT)."""
        code = self.process.wait(timeout=WAIT)
        self._reader.join(WAIT)
        return code

    def close(self) -> None:
        """Kill whatever is left (the process, its workers): a failed test leaks nothing."""
        for pid in self.workers:
            try:  # still this server's worker (a process id can be reused)
                ours = f"--port\0{self.port}\0" in Path(f"/proc/{pid}/cmdline").read_text()
                if ours:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)
        self._reader.join(WAIT)

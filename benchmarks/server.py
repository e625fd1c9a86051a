"""The real `kpibot serve` as a subprocess, and Slack-signed slash commands over loopback.

The server gets a signing secret and a bot token of its own and a Slack Web API URL on a
loopback port nothing listens on (port 9, discard), so nothing leaves the machine; the commands
the benchmark sends need no Web API call. It runs in a private working directory, so no `.env`
file of the repository changes its settings.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

SIGNING_SECRET = "benchmark-signing-secret"
BOT_TOKEN = "xoxb-benchmark"
UNROUTABLE_API = "http://127.0.0.1:9/api/"
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m bot.cli serve --port P` on `database_url`; `stop()` ends it."""

    def __init__(self, database_url: str, work_dir: Path, *, scheduler: bool = True,
                 settings: dict[str, str] | None = None, workers: int = 1,
                 serve_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.log_path = work_dir / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "TEAMS_", "KPIBOT_", "DATABASE_"))}
        env.update(DATABASE_URL=database_url, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                   SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=UNROUTABLE_API,
                   KPIBOT_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        env.update(settings or {})
        # The code of this checkout, also when the venv's editable install points elsewhere.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(SOURCE_ROOT),
                                                          env.get("PYTHONPATH"))))
        command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)]
        if not scheduler:
            command.append("--no-scheduler")
        if workers > 1:
            command += ["--workers", str(workers)]
        command += list(serve_args)
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, env=env, cwd=work_dir, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        self.workers = workers

    def wait_ready(self, timeout: float = 60.0, poll: float = 0.01) -> None:
        """Back when GET /healthz answers 200, asked every `poll` seconds (the start-up
        figure is read to that precision)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"kpibot serve exited ({self.process.returncode}): "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                ok = response.status == 200 and json.loads(response.read()).get("ok")
                connection.close()
                if ok:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kpibot serve did not come up: "
                                   f"{self.log_path.read_text()[-2000:]}")
            time.sleep(poll)

    def memory_kib(self) -> dict[str, int]:
        """The resident memory of the server's whole process tree, in KiB: the server, its
        worker processes (kpibot serve --workers) and their child processes (the digest chart
        process, bot/digests/chart_process.py). VmRSS: the sum of every process's VmRSS
        (shared pages counted in each); VmHWM: the largest process's peak; VmHWM_sum: the sum
        of every live process's peak (a bound on the tree's peak that no sampling can miss)."""
        figures = {"VmHWM": 0, "VmRSS": 0, "VmHWM_sum": 0}
        for status in self.statuses().values():
            figures["VmHWM"] = max(figures["VmHWM"], status.get("VmHWM", 0))
            figures["VmRSS"] += status.get("VmRSS", 0)
            figures["VmHWM_sum"] += status.get("VmHWM", 0)
        return figures

    def statuses(self) -> dict[int, dict[str, int]]:
        """VmRSS and VmHWM (KiB) of each process of the tree, by process id."""
        out = {}
        for pid in self.tree():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            out[pid] = {key: int(value.split()[0]) for key, _, value in
                        (line.partition(":") for line in lines) if key in ("VmRSS", "VmHWM")}
        return out

    def cpu_seconds(self, pids=None) -> float:
        """CPU time (user + system) the server's processes (`tree()`, or `pids`) have used."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.tree() if pids is None else pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return round(total / ticks, 2)

    def pids(self) -> list[int]:
        """The processes answering requests: the worker processes (kpibot serve --workers),
        else the server itself."""
        children = [pid for pid in _children(self.pid) if process_kind(pid) != "chart"]
        return children if self.workers > 1 and children else [self.pid]

    def tree(self) -> list[int]:
        """The server and every process under it (its threads' children included: the chart
        process is started from a thread), parents first."""
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop(0)
            out.append(pid)
            todo.extend(_children(pid))
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class SlackClient:
    """Sends signed `/kpi` slash commands over one keep-alive loopback connection."""

    def __init__(self, port: int, *, team_id: str, user_id: str, user_name: str,
                 channel_id: str = "CBENCH") -> None:
        self.port = port
        self.fields = {"team_id": team_id, "user_id": user_id, "user_name": user_name,
                       "channel_id": channel_id}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def _body(self, text: str) -> bytes:
        f = self.fields
        return urllib.parse.urlencode([
            ("token", "legacy-verification-token"), ("team_id", f["team_id"]),
            ("team_domain", "bench"), ("channel_id", f["channel_id"]),
            ("channel_name", "sales"), ("user_id", f["user_id"]),
            ("user_name", f["user_name"]), ("command", "/kpi"), ("text", text),
            ("api_app_id", "ABENCH"), ("is_enterprise_install", "false"),
            ("response_url", f"http://127.0.0.1:9/commands/{f['team_id']}/1/x"),
            ("trigger_id", f"{secrets.randbelow(9 * 10**10) + 10**10}.{secrets.token_hex(8)}"),
        ]).encode()

    def prepare(self, text: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one request, signed now (outside the timed part)."""
        body = self._body(text)
        timestamp = str(int(time.time()))
        digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body,
                          hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/x-www-form-urlencoded",
                      "X-Slack-Request-Timestamp": timestamp,
                      "X-Slack-Signature": f"v0={digest}",
                      "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}

    def send(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            self.connection.request("POST", "/slack/events", body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed the idle keep-alive connection: one new connection, once.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request("POST", "/slack/events", body=body, headers=headers)
            response = self.connection.getresponse()
        return response.status, response.read()

    def timed(self, text: str, check: Callable[[dict], bool]) -> float:
        """One request end to end (request written, response read), in milliseconds."""
        elapsed, ok, raw = self.attempt(text, check)
        if not ok:
            raise RuntimeError(f"/kpi {text}: {raw[:500]!r}")
        return elapsed

    def attempt(self, text: str, check: Callable[[dict], bool]) -> tuple[float, bool, bytes]:
        """(milliseconds, whether the reply passed `check`, the raw reply)."""
        body, headers = self.prepare(text)
        started = time.perf_counter()
        status, raw = self.send(body, headers)
        elapsed = (time.perf_counter() - started) * 1000
        payload = json.loads(raw) if raw else {}
        return elapsed, status == 200 and check(payload), raw

    def close(self) -> None:
        self.connection.close()


def _children(pid: int) -> list[int]:
    """The child processes of `pid`, whichever of its threads started them."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def process_kind(pid: int) -> str:
    """"chart" for a digest chart process (bot/digests/chart_worker.py), else "server"."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "server"
    return "chart" if b"chart_worker" in command else "server"

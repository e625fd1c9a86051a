"""Digest charts drawn in a child process (`kpibot serve --chart-process`), or in the server.

Two ways to draw a digest's chart, with one interface (`draw`, `start`, `close`,
`close_if_idle`) that `SharedDigests` (bot/digests/shared.py) calls on a thread:

- `InProcessCharts`, the default: `render_chart_png` in the server's own process;
- `ChartProcess`: a child process, the server's second core, and no matplotlib in the server.
  It halves the fan-out's time to the last chart but costs a second interpreter (~65 MiB
  resident, ~20 MiB more than matplotlib in the server: docs/performance.md, session 11), so
  it is chosen with `kpibot serve --chart-process`.

The server is one Python process: its event loop, composing and posting hold the interpreter
lock, and a chart drawn on a thread of it (~145 ms in the Monday fan-out) waited for that lock
and kept the other core idle. `ChartProcess` keeps one `python -m bot.digests.chart_worker`
(bot/digests/chart_worker.py) running, started with the first chart, and asks it for each PNG
over a pipe: the request is the chart's small `ChartData`, the answer its PNG bytes. The server
never imports matplotlib (~45 MiB and its first charts' ~16 MiB), the child does, once.

Robust:
- the child died (killed, crashed) or stopped answering for `timeout` seconds: it is reaped,
  a new one is started and the chart asked again, once; if that fails too, `draw` raises
  `ChartProcessError` (a RuntimeError: the delivery notes "chart not attached", as for any
  chart that could not be drawn, bot/digests/channels.py);
- a chart the child could not draw answers an error (raised as `ChartProcessError`); the child
  goes on;
- `close()` (the scheduler's stop, so also SIGTERM's graceful stop) closes the child's stdin,
  so it exits, and waits for it (killed after `CLOSE_WAIT` s); a child left idle for the `ttl`
  of `SharedDigests` is closed the same way (its memory back until the next fan-out); if the
  server dies, the child reads the end of its stdin and exits. A dead child is always reaped
  (`poll` when it is noticed, at the latest at the next minute tick: `close_if_idle`): no
  zombie.

Thread-safe: one request at a time (a lock); callers run `draw` on a thread
(`asyncio.to_thread`), so the event loop never blocks on the pipe.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.digests.chart_worker import ANSWER, ERROR, HEADER, NOTHING, PNG, chart_to_json
from reports.digest.model import ChartData

CHART_TIMEOUT = 60.0  # seconds a chart may take before the child is replaced
CLOSE_WAIT = 5.0  # seconds a closed child gets to exit before it is killed
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # where `bot` and `reports` are imported from


class InProcessCharts:
    """Charts drawn by the calling thread, in this process (`render_chart_png`)."""

    started = 0  # no process
    pid = None

    def __init__(self) -> None:
        self.drawn = 0

    def draw(self, chart: ChartData) -> bytes | None:
        from reports.digest.chart import render_chart_png

        png = render_chart_png(chart)
        self.drawn += png is not None
        return png

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Nothing to stop."""

    def close_if_idle(self, idle: float) -> bool:
        return False


class ChartProcessError(RuntimeError):
    """The chart could not be drawn by the chart process."""


class _Died(Exception):
    """The child ended, or did not answer in time."""


def worker_command() -> list[str]:
    """The child's command line: this interpreter running bot/digests/chart_worker.py."""
    return [sys.executable, "-m", "bot.digests.chart_worker"]


class ChartProcess:
    """One long-lived chart-drawing child (see the module docstring)."""

    def __init__(self, *, command: Sequence[str] | None = None, timeout: float = CHART_TIMEOUT,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.command = list(command or worker_command())
        self.timeout = timeout
        self.monotonic = monotonic
        self.started = 0  # children started (a replaced child counts again)
        self.drawn = 0  # charts answered with a PNG
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._used = monotonic()

    def __del__(self) -> None:
        """Forgotten without `close()` (a test's deliverer): the child reads the end of its
        stdin and exits; `subprocess` reaps it."""
        process = getattr(self, "_process", None)
        if process is not None and process.stdin is not None:
            process.stdin.close()

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def draw(self, chart: ChartData) -> bytes | None:
        """The chart's PNG (None for an empty chart), drawn by the child; blocks."""
        if chart.empty:
            return None
        body = chart_to_json(chart)
        with self._lock:
            self._used = self.monotonic()
            try:
                for attempt in (1, 2):
                    process = self._running()
                    try:
                        return self._ask(process, body)
                    except _Died as died:
                        self._end(process)
                        if attempt == 2:
                            raise ChartProcessError(f"the chart process {died}") from None
            finally:
                self._used = self.monotonic()
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Start the child now if none is running (it imports matplotlib meanwhile)."""
        with self._lock:
            self._running()

    def close(self) -> None:
        """Stop the child, if any, and reap it."""
        with self._lock:
            if self._process is not None:
                self._end(self._process)

    def close_if_idle(self, idle: float) -> bool:
        """Stop the child if no chart was asked for `idle` seconds (or it died); whether
        one was stopped or reaped. Never waits for a chart being drawn."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            process = self._process
            if process is None:
                return False
            if process.poll() is not None or self.monotonic() - self._used >= idle:
                self._end(process)
                return True
            return False
        finally:
            self._lock.release()

    def _running(self) -> subprocess.Popen:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        if process is not None:
            self._end(process)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(SOURCE_ROOT),
                                                          env.get("PYTHONPATH"))))
        self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env, cwd=SOURCE_ROOT)
        self.started += 1
        return self._process

    def _ask(self, process: subprocess.Popen, body: bytes) -> bytes | None:
        try:
            _write_all(process.stdin.fileno(), HEADER.pack(len(body)) + body)
        except (BrokenPipeError, OSError) as error:
            raise _Died(f"ended ({type(error).__name__})") from None
        deadline = self.monotonic() + self.timeout
        out = process.stdout.fileno()
        status, size = ANSWER.unpack(self._read(out, ANSWER.size, deadline))
        payload = self._read(out, size, deadline) if size else b""
        if status == PNG:
            self.drawn += 1
            return payload
        if status == NOTHING:
            return None
        if status == ERROR:
            raise ChartProcessError(f"chart not drawn: {payload.decode(errors='replace')}")
        raise _Died(f"answered {status!r}")

    def _read(self, fd: int, size: int, deadline: float) -> bytes:
        chunks, left = [], size
        while left:
            wait = deadline - self.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise _Died(f"did not answer within {self.timeout:.0f} s")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise _Died("ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _end(self, process: subprocess.Popen) -> None:
        """Close the child's stdin (it exits), wait, kill it if it does not; reap it."""
        if self._process is process:
            self._process = None
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()  # unbuffered use (os.write): nothing pending to flush
        try:
            process.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

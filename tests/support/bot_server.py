"""Run the real kpibot web app (aiohttp + Bolt) on a loopback port in a background thread."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from bot.server import build_web_app, run_web_app
from bot.wiring import Bot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(bot: Bot, *, scheduler: bool = False) -> Iterator[str]:
    """Serve `bot` on 127.0.0.1:<free port>; yields the base URL; stops on exit.

    `scheduler=True` also runs the digest scheduler in the server's loop (as `kpibot serve`)."""
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    async def main(started: asyncio.Event) -> None:
        if scheduler:
            await bot.build_digest_scheduler().start()
        app = build_web_app(database=bot.database, slack_app=bot.slack_app,
                            slack_signing_secret=bot.slack_signing_secret, teams=bot.teams,
                            api=bot.api)
        await run_web_app(app, host="127.0.0.1", port=port, ready=started)

    def run() -> None:
        asyncio.set_event_loop(loop)
        started = asyncio.Event()
        task = loop.create_task(main(started))

        async def signal_ready() -> None:
            await started.wait()
            ready.set()

        loop.create_task(signal_ready())
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # noqa: BLE001  (re-raised in the test thread below)
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="kpibot-test-server", daemon=True)
    thread.start()
    if not ready.wait(10) or failure:
        raise RuntimeError(f"test server did not start: {failure}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()


def wait_until_healthy(base_url: str, process: subprocess.Popen, *, within: float = 60) -> None:
    """Wait until a `kpibot serve` subprocess answers GET /healthz with ok; fail with its
    output if it exits first. `within` bounds a hang, not how fast a start must be."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                assert json.loads(response.read())["ok"] is True
                return
        except OSError:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "kpibot serve did not come up"
            time.sleep(0.2)

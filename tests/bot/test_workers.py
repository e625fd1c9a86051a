"""`kpibot serve --workers 2`: two processes answer on one port; the digest jobs run in one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from benchmarks.server import SlackClient
from storage import digests as ledger
from storage.engine import Database
from tests.support.due_digests import seed_due_digests
from tests.support.serve_process import WAIT, ServeProcess

WORKSPACE = "slack:TWORK"
CHANNELS = ("C_W1", "C_W2")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_workers_share_the_port_and_run_the_digest_jobs_once(database_url, slack_api,
                                                                tmp_path):
    database = Database.from_url(database_url)
    slot = seed_due_digests(database, WORKSPACE, CHANNELS, events=200)
    serve = ServeProcess(database_url, slack_api.base_url, tmp_path, "--workers", "2")
    server, port = serve.process, serve.port
    try:
        deadline = time.monotonic() + WAIT
        while len(_children(server.pid)) < 2 or not _answers(port):
            assert server.poll() is None, serve.output()
            assert time.monotonic() < deadline, "kpibot serve --workers 2 did not come up"
            time.sleep(0.2)
        workers = serve.note_workers()
        replies = []
        for _ in range(12):  # a new connection each time: either worker may take it
            client = SlackClient(port, team_id="TWORK", user_id="U_ANA", user_name="ana")
            replies.append(client.timed("ping", lambda body: body["text"].startswith("pong")))
            client.close()
        assert len(replies) == 12
        while len(slack_api.calls_to("chat.postMessage")) < len(CHANNELS):
            assert time.monotonic() < deadline, "the due digests were not posted"
            time.sleep(0.2)
        while not _all_sent(database, len(CHANNELS)):  # a post is recorded just after it
            assert time.monotonic() < deadline, "the posted digests were not recorded as sent"
            time.sleep(0.2)
        assert _children(server.pid) == workers  # both still serving
        serve.signal(signal.SIGTERM)
        serve.wait_exit()
    finally:
        serve.close()
    output = serve.output()
    assert server.returncode == 0, output
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert output.count("digest scheduler started") == 1, output  # the jobs run in one place
    assert output.count("digest delivery ready") == 1, output
    posts = sorted(c.channel for c in slack_api.calls_to("chat.postMessage"))
    assert posts == sorted(CHANNELS)  # each once
    with database.read() as session:
        rows = ledger.list_deliveries(session=session)
    assert sorted((r.slot_at, r.status) for r in rows) == [(slot, "sent")] * len(CHANNELS)
    database.dispose()


def _all_sent(database: Database, deliveries: int) -> bool:
    with database.read() as session:
        rows = ledger.list_deliveries(session=session)
    return len(rows) == deliveries and all(r.status == "sent" for r in rows)


def _answers(port: int) -> bool:
    import http.client

    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        ok = json.loads(connection.getresponse().read()).get("ok")
        connection.close()
        return bool(ok)
    except OSError:
        return False


def test_serve_caps_malloc_arenas_unless_the_operator_chose():
    """glibc's per-thread arenas kept the fan-out's freed memory (bot/cli/serve.py)."""
    import os

    from bot.cli.serve import cap_malloc_arenas

    if "MALLOC_ARENA_MAX" in os.environ:
        assert cap_malloc_arenas() is False  # the operator's choice wins
    else:
        assert cap_malloc_arenas() is True  # glibc on Linux (the CI and deploy platform)


def test_serve_fixes_the_malloc_thresholds_unless_the_operator_chose():
    """glibc's sliding mmap threshold put chart buffers on the heap (bot/digests/malloc.py)."""
    import os

    from bot.digests.malloc import fix_malloc_thresholds, trim_malloc

    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        assert fix_malloc_thresholds() is False
    else:
        assert fix_malloc_thresholds() is True  # glibc on Linux (the CI and deploy platform)
    assert trim_malloc() in (True, False)


def _sockets(pid: int) -> set[int]:
    """The inodes of the process's sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp(port: int, state: str) -> set[int]:
    """Inodes of the loopback TCP sockets on local `port` in `state` (0A listen, 01 open)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_worker_listens_itself_and_gets_its_share_of_connections(database_url, tmp_path):
    """On one shared socket the worker that won the accept race took every waiting
    connection (32 keep-alive clients: 32/0, 30/2, 24/8), so one core idled. Each worker has
    a listening socket of its own on the port (SO_REUSEPORT) and the kernel spreads them."""
    import asyncio

    serve = ServeProcess(database_url, "http://127.0.0.1:9/api/", tmp_path, "--workers", "2",
                         "--no-scheduler")
    server, port = serve.process, serve.port
    try:
        deadline = time.monotonic() + WAIT
        while len(_children(server.pid)) < 2 or not all(
                _sockets(pid) & _tcp(port, "0A") for pid in _children(server.pid)) \
                or not _answers(port):  # both workers up and listening
            assert server.poll() is None, serve.output()
            assert time.monotonic() < deadline, "kpibot serve --workers 2 did not come up"
            time.sleep(0.2)
        workers = serve.note_workers()
        listening = _tcp(port, "0A")
        assert len(listening) == 2  # one each, none in the master
        assert [len(_sockets(pid) & listening) for pid in workers] == [1, 1]
        assert not _sockets(server.pid) & listening

        async def hold_connections() -> list[int]:
            request = (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").encode()
            connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                                 for _ in range(32)))
            for _reader, writer in connections:
                writer.write(request)
            for reader, _writer in connections:
                assert (await reader.readline()).startswith(b"HTTP/1.1 ")  # answered
            held = [len(_sockets(pid) & _tcp(port, "01")) for pid in workers]
            for _reader, writer in connections:
                writer.close()
            return held

        held = asyncio.run(hold_connections())
        assert sum(held) == 32 and min(held) >= 4, held  # (a hash: 16 ± 3 as a rule)
        # The stop waits for states, not a time: SIGTERM is handled from the first fork on
        # (bot/cli/workers.py), each worker ends once its connections are closed, and the
        # master once both have; WAIT only bounds a hang.
        serve.signal(signal.SIGTERM)
        assert serve.wait_exit() == 0, serve.output()
    finally:
        serve.close()  # a failed test leaves no worker behind (nor its output pipe open)

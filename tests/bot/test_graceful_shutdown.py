"""`kpibot serve` stops gracefully on SIGTERM (bot/cli/shutdown.py): real processes, real HTTP,
the Slack Web API stand-in holding a post until the test releases it. Nothing waits for time:
each step waits for a state (a log line, a held call, a ledger row, a closed port)."""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.server import SIGNING_SECRET
from bot.digests.delivery import FOUND_NOTE
from storage import digests as ledger
from storage.engine import Database
from tests.support.due_digests import seed_due_digests
from tests.support.serve_process import WAIT, ServeProcess
from tests.support.slack_signing import sign, slash_command_body

WORKSPACE = "slack:TGRACE"
CHANNEL = "C_GRACE"
STOPPING = "SIGTERM received: stopping"
LONG_GRACE = "600"  # a grace time no test reaches: the process ends when its work does


def _rows(database: Database) -> list:
    with database.read() as session:
        return ledger.list_deliveries(session=session, workspace_id=WORKSPACE)


def _listening(port: int) -> bool:
    """Whether a socket listens on local TCP `port` (/proc/net/tcp, state 0A)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(name).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                return True
    return False


def _read_until(connection: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    connection.settimeout(WAIT)  # a bound on a hang, not a pause
    while marker not in data:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {data!r}"
        data += chunk
    return data


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigterm_answers_the_request_in_flight_then_exits_0(database_url, slack_api, tmp_path):
    """The request was received (aiohttp said `100 Continue`: it is in the handler) but its
    body is still on its way when SIGTERM arrives: the server stops listening, still reads
    the body, answers the command, and exits 0."""
    server = ServeProcess(database_url, slack_api.base_url, tmp_path, "--no-scheduler",
                          KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
    try:
        server.wait_for_line("listening on")
        body = slash_command_body("ping", team_id="TGRACE", user_id="U_ANA").encode()
        headers = sign(body, secret=SIGNING_SECRET)
        head = (f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                + "\r\n").encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as connection:
            connection.sendall(head + body[:10])
            data = _read_until(connection, b"100 Continue")  # the handler reads the body
            server.signal(signal.SIGTERM)
            server.wait_for_line(STOPPING)
            deadline = time.monotonic() + WAIT
            while _listening(server.port):  # new connections are refused from now on
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.05)
            assert server.process.poll() is None  # still answering the request in flight
            connection.sendall(body[10:])
            data = _read_until(connection, b"pong", data)
        assert b"HTTP/1.1 200 OK" in data, data
        assert server.wait_exit() == 0, server.output()
        assert server.count("kpibot stopped (SIGTERM)") == 1, server.output()
    finally:
        server.close()


def _start_with_a_digest_due(database_url: str, slack_api, tmp_path: Path, *args: str,
                             command: str = "serve", **env: str
                             ) -> tuple[Database, ServeProcess]:
    database = Database.from_url(database_url)
    seed_due_digests(database, WORKSPACE, [CHANNEL], events=200)
    return database, ServeProcess(database_url, slack_api.base_url, tmp_path, *args,
                                  command=command, **env)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigterm_lets_the_digest_being_posted_finish_once(database_url, slack_api, tmp_path):
    """SIGTERM while Slack holds the answer to a digest's chat.postMessage: the server
    stops listening but waits for the post (within the grace time), records it as sent,
    and exits 0; the digest is posted once."""
    held = slack_api.hold("chat.postMessage", channel=CHANNEL)
    database, server = _start_with_a_digest_due(database_url, slack_api, tmp_path,
                                                KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
    try:
        slack_api.wait_held(held, timeout=WAIT)  # Slack has the post; the server waits
        server.signal(signal.SIGTERM)
        server.wait_for_line(STOPPING)
        assert [row.status for row in _rows(database)] == ["claimed"]
        held.release()
        assert server.wait_exit() == 0, server.output()
    finally:
        held.release()
        server.close()
    (row,) = _rows(database)
    assert (row.status, row.attempts) == ("sent", 1), row
    assert [c.channel for c in slack_api.calls_to("chat.postMessage")] == [CHANNEL]
    assert row.message_id == slack_api.messages_in(CHANNEL)[0]["ts"]
    assert server.count("kpibot stopped (SIGTERM)") == 1, server.output()
    assert "handed back" not in server.output()
    database.dispose()


def test_past_the_grace_time_the_claim_is_handed_back_and_posted_once_by_the_next_run(
        database_url, slack_api, tmp_path):
    """Grace time 0: SIGTERM while Slack holds the post (stored, unanswered) cuts the
    delivery short; its claim is handed back at once (not left for the 10-minute lease).
    The next server takes it over on start, finds the post in the channel by its slot key,
    and records it as sent: one message in Slack, not two."""
    held = slack_api.hold("chat.postMessage", channel=CHANNEL)
    database, first = _start_with_a_digest_due(database_url, slack_api, tmp_path,
                                               KPIBOT_SHUTDOWN_GRACE_SECONDS="0")
    try:
        slack_api.wait_held(held, timeout=WAIT)
        first.signal(signal.SIGTERM)
        assert first.wait_exit() == 0, first.output()
    finally:
        first.close()
    (row,) = _rows(database)
    assert (row.status, row.attempts) == ("claimed", 1), row
    assert row.claimed_by.endswith(ledger.RELEASED)
    assert row.lease_expires_at <= datetime.now(UTC).replace(tzinfo=row.lease_expires_at.tzinfo)
    assert "1 digest claim(s) handed back" in first.output(), first.output()
    held.release()  # Slack stored the message; the first server never heard back

    second = ServeProcess(database_url, slack_api.base_url, tmp_path)
    try:
        deadline = time.monotonic() + WAIT
        while _rows(database)[0].status != "sent":
            assert second.process.poll() is None, second.output()
            assert time.monotonic() < deadline, second.output()
            time.sleep(0.05)
        second.signal(signal.SIGTERM)
        assert second.wait_exit() == 0, second.output()
    finally:
        second.close()
    (row,) = _rows(database)
    assert (row.status, row.note) == ("sent", FOUND_NOTE)
    assert [c.channel for c in slack_api.calls_to("chat.postMessage")] == [CHANNEL]
    assert len(slack_api.messages_in(CHANNEL)) == 1
    assert row.message_id == slack_api.messages_in(CHANNEL)[0]["ts"]
    database.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_kpibot_scheduler_also_finishes_the_digest_being_posted(database_url, slack_api,
                                                                tmp_path):
    """`kpibot scheduler` (no HTTP server) stops the same way: SIGTERM while the post is
    held, the post finishes once, exit 0."""
    held = slack_api.hold("chat.postMessage", channel=CHANNEL)
    database, scheduler = _start_with_a_digest_due(database_url, slack_api, tmp_path,
                                                   command="scheduler",
                                                   KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
    try:
        slack_api.wait_held(held, timeout=WAIT)
        scheduler.signal(signal.SIGTERM)
        scheduler.wait_for_line(STOPPING)
        held.release()
        assert scheduler.wait_exit() == 0, scheduler.output()
    finally:
        held.release()
        scheduler.close()
    (row,) = _rows(database)
    assert row.status == "sent"
    assert [c.channel for c in slack_api.calls_to("chat.postMessage")] == [CHANNEL]
    assert scheduler.count("kpibot stopped (SIGTERM)") == 1, scheduler.output()
    database.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_drain_then_the_master_exits_0(database_url, slack_api, tmp_path):
    """`--workers 2`: SIGTERM to the master reaches both workers; worker 0 finishes the
    digest it is posting, both stop, and the master exits 0 with one line."""
    held = slack_api.hold("chat.postMessage", channel=CHANNEL)
    database, server = _start_with_a_digest_due(database_url, slack_api, tmp_path,
                                                "--workers", "2",
                                                KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
    try:
        slack_api.wait_held(held, timeout=WAIT)
        server.wait_for_line("serving")
        server.wait_for_line("serving", count=2)
        assert len(server.note_workers()) == 2
        server.signal(signal.SIGTERM)
        server.wait_for_line(STOPPING, count=2)  # each worker heard it
        server.wait_for_line("worker 1 stopped (SIGTERM)")  # nothing in flight there
        assert [row.status for row in _rows(database)] == ["claimed"]
        held.release()
        assert server.wait_exit() == 0, server.output()
    finally:
        held.release()
        server.close()
    assert server.count("worker 0 stopped (SIGTERM)") == 1, server.output()
    assert server.count("kpibot stopped (SIGTERM): every worker") == 1, server.output()
    assert not any(Path(f"/proc/{pid}").exists() for pid in server.workers)
    (row,) = _rows(database)
    assert row.status == "sent"
    assert [c.channel for c in slack_api.calls_to("chat.postMessage")] == [CHANNEL]
    database.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_socket_mode_acks_the_envelope_in_flight_then_exits_0(database_url, slack_api,
                                                             tmp_path):
    """`serve --socket-mode`: SIGTERM while an envelope is being handled (the logging form's
    views.open held by the stand-in): the server stops reading the socket, sends that
    envelope's ack once the form is open, closes the connection and exits 0."""
    from bot.slack.interactive import LOG_SHORTCUT
    from tests.support.socket_mode import global_shortcut, socket_mode_server

    with socket_mode_server(slack_api) as slack:
        held = slack_api.hold("views.open")
        server = ServeProcess(database_url, slack_api.base_url, tmp_path, "--socket-mode",
                              "--no-scheduler", SLACK_APP_TOKEN=slack.app_token,
                              KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
        try:
            server.wait_for_line("connected to Slack over Socket Mode")
            envelope = slack.send(global_shortcut(LOG_SHORTCUT, user_id="U_ANA"))
            slack_api.wait_held(held, timeout=WAIT)  # the envelope is being handled
            server.signal(signal.SIGTERM)
            server.wait_for_line(STOPPING)
            held.release()
            slack.wait_ack(envelope)
            assert server.wait_exit() == 0, server.output()
        finally:
            held.release()
            server.close()
        slack.wait_closed(1)
    assert server.count("kpibot stopped (SIGTERM)") == 1, server.output()
    assert slack.app_token not in server.output()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_confirmation_a_request_started_is_finished_before_the_exit(database_url,
                                                                       slack_api, tmp_path):
    """A logging form submitted just before SIGTERM: the ack went out, its confirmation (a
    follow-up after the ack) is still talking to Slack. The server waits for it: the
    stand-in refuses chat.postEphemeral after holding it, and the confirmation still goes
    on to the direct message (chat.postMessage) before the process exits 0."""
    from tests.support.slack_interactive import post_payload, view_submission
    from tests.support.slack_signing import post_slash_command
    from tests.support.slack_views import SlackViews

    views = SlackViews.install(slack_api)
    server = ServeProcess(database_url, slack_api.base_url, tmp_path, "--no-scheduler",
                          KPIBOT_SHUTDOWN_GRACE_SECONDS=LONG_GRACE)
    slack_api.fail_next("chat.postEphemeral", error="channel_not_found")
    held = slack_api.hold("chat.postEphemeral")
    try:
        server.wait_for_line("listening on")
        who = {"team_id": "TGRACE", "user_id": "U_ANA"}
        status, _body, _ = post_slash_command(server.base_url, "log", secret=SIGNING_SECRET,
                                              **who)
        assert status == 200
        slack_api.wait_for("views.open", timeout=WAIT)
        form = view_submission(views.opened[-1], {"kind": "call", "count": "3"},
                               user="U_ANA", team="TGRACE")
        status, _answer, _ = post_payload(server.base_url, form, secret=SIGNING_SECRET)
        assert status == 200  # acknowledged: the modal closes
        slack_api.wait_held(held, timeout=WAIT)  # the confirmation is on its way
        server.signal(signal.SIGTERM)
        server.wait_for_line(STOPPING)
        assert slack_api.calls_to("chat.postMessage") == []
        held.release()
        (fallback,) = slack_api.wait_for("chat.postMessage", timeout=WAIT)
        assert fallback.channel == "U_ANA" and "Logged call" in fallback.body["text"]
        assert server.wait_exit() == 0, server.output()
    finally:
        held.release()
        server.close()
    assert server.count("kpibot stopped (SIGTERM)") == 1, server.output()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_still_stops_the_others_and_the_master_exits_1(database_url,
                                                                        slack_api, tmp_path):
    """As before the graceful stop: a worker that dies on its own (SIGKILL here) makes the
    master stop the other one (now gracefully) and exit 1, so a supervisor restarts it all."""
    server = ServeProcess(database_url, slack_api.base_url, tmp_path, "--workers", "2",
                          "--no-scheduler")
    try:
        server.wait_for_line("serving", count=2)
        killed, survivor = server.note_workers()
        os.kill(killed, signal.SIGKILL)
        assert server.wait_exit() == 1, server.output()
    finally:
        server.close()
    output = server.output()
    assert server.count("exited (status -9): stopping the others") == 1, output
    assert server.count(STOPPING) == 1 and server.count("stopped (SIGTERM)") == 1, output
    assert not Path(f"/proc/{survivor}").exists()

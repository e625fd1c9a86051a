"""What an unsigned or misbehaving sender can do to the running server: nothing.

- A small unsigned body that is deep JSON (`[[[[...]]]]`, as a JSON body or as `payload=` in a
  form) is never parsed: 401, not a RecursionError turned into a 500.
- A refused request is logged as one bounded line (method, path, size, reason): no body bytes,
  so 1 MB bodies cannot flood the log and a newline in a body cannot forge a log line.
- A client that disconnects in the middle of its body is no ERROR and no traceback.
The log is read as `kpibot serve` writes it: the root handler with bot.logs' filter.
"""

from __future__ import annotations

import io
import logging
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from bot.logs import RedactSecrets
from tests.reliability.test_http_fuzz import raw_post, signed_headers

pytestmark = pytest.mark.reliability

DEEP = b"[" * 1000 + b"]" * 1000
FORGED = "2026-12-05 09:00:00,000 ERROR bot.core: FORGED-LINE"


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, formatted and filtered as `kpibot serve` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.mark.parametrize("content_type, body", [
    ("application/json", DEEP),
    ("application/x-www-form-urlencoded", b"payload=" + urllib.parse.quote(DEEP).encode()),
])
def test_unsigned_deep_body_gets_401_not_500(slack_server, content_type, body, figures):
    answers = [raw_post(slack_server, body, (("Content-Type", content_type),))[0],
               raw_post(slack_server, body, (("Content-Type", content_type),
                                             ("X-Slack-Request-Timestamp", str(int(time.time()))),
                                             ("X-Slack-Signature", "v0=" + "0" * 64)))[0]]
    figures.add(requests_sent=2, http_500=answers.count(500))
    assert answers == [401, 401]


def test_signed_deep_body_gets_400_not_500(slack_server):
    headers = tuple(signed_headers(DEEP, "application/json"))
    status, _ = raw_post(slack_server, DEEP, headers)
    assert status in (400, 404)  # never parsed into a 500


def test_refused_requests_are_logged_as_one_bounded_line(slack_server, server_log, figures):
    body = (("x" * 100_000) + "\n" + FORGED + "\n" + ("y" * 100_000)).encode()
    for _ in range(10):
        status, _ = raw_post(slack_server, body, (("Content-Type", "application/json"),))
        assert status == 401
    status, _ = raw_post(slack_server, body, (("Content-Type", "application/json"),
                                              ("X-Slack-Request-Timestamp", "1"),
                                              ("X-Slack-Signature", "v0=" + "1" * 64)))
    assert status == 401
    text = server_log.getvalue()
    figures.add(requests_sent=11, log_bytes=len(text))
    assert "FORGED-LINE" not in text and "xxxxxxxxxx" not in text
    assert not any(line.startswith("2026-12-05 09:00:00") for line in text.splitlines())
    assert len(text) < 11 * 300, text[:2000]
    assert "refused POST /slack/events" in text


def test_a_path_with_a_newline_cannot_forge_a_log_line(slack_server, server_log):
    host, port = urllib.parse.urlsplit(slack_server).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /slack/events%0a" + FORGED.replace(" ", "%20").encode()
                     + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        sock.recv(1000)
    assert not any("FORGED-LINE" in line and line.startswith("2026-12-05 09:00:00")
                   for line in server_log.getvalue().splitlines())


def test_a_client_that_disconnects_mid_body_is_no_error(slack_server, server_log):
    host, port = urllib.parse.urlsplit(slack_server).netloc.split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            body = b"command=%2Fkpi&text=log"
            ts = str(int(time.time()))
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"X-Slack-Request-Timestamp: " + ts.encode() + b"\r\n"
                         b"X-Slack-Signature: v0=" + b"2" * 64 + b"\r\n\r\n" + body)
            time.sleep(0.2)
    time.sleep(0.5)
    text = server_log.getvalue()
    assert "ERROR" not in text and "Traceback" not in text, text[-3000:]

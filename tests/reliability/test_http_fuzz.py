"""Fuzz POST /slack/events with random and malformed requests: bad or junk signatures and
timestamps, validly signed garbage, truncated and huge bodies, wrong content types, random
unicode commands, missing and odd fields.

Invariants, checked after every request, on SQLite and PostgreSQL:
- never a 5xx: 401 for a request that fails verification, 400 for a body that cannot be read,
  413 for one over the size limit, 404 for a signed request that is no slash command (Bolt's
  "unhandled request"), 200 with a reply otherwise (and an empty 200 for Slack's SSL check);
- an event is stored only when the reply confirms it ("Logged ... (#ID)"), and only for a
  validly signed, well-formed slash command whose text is a valid `log`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.grammar import LogCommand, UsageError, parse_command
from tests.reliability.harness import CONFIRMED, REFUSED, SECRET, classify, event_total
from tests.support.slack_signing import compute_signature

pytestmark = pytest.mark.reliability

FORM = "application/x-www-form-urlencoded"
ALLOWED = {200, 400, 401, 404, 413}
MAX_BODY = 1024 * 1024  # bot.server's client_max_size

# --------------------------------------------------------------------------- sending raw bytes


@dataclass(frozen=True)
class Case:
    """One request: raw body and headers, and whether its signature headers are valid."""

    label: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    signed: bool  # signature and timestamp valid for this body


def raw_post(base_url: str, body: bytes, headers: tuple[tuple[str, str], ...]
             ) -> tuple[int, bytes]:
    """POST exactly these bytes and headers (no Content-Type unless given)."""
    host, port = urllib.parse.urlsplit(base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        connection.putrequest("POST", "/slack/events", skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value.encode("latin-1"))
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        # the server may answer 413 and close before reading a huge body
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def signed_headers(body: bytes, content_type: str | None, *, timestamp: int | None = None,
                   secret: str = SECRET) -> list[tuple[str, str]]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = [("X-Slack-Request-Timestamp", str(ts)),
               ("X-Slack-Signature", compute_signature(body, secret=secret, timestamp=ts))]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return headers


# --------------------------------------------------------------------------- what may be stored


def is_valid_log(body: bytes) -> bool:
    """Whether `body` is a slash command form whose text is a valid `/kpi log`."""
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                       strict_parsing=False)
    except UnicodeDecodeError:
        return False
    if not fields.get("team_id") or not fields.get("user_id") or not fields.get("command"):
        return False
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    for text in fields.get("text", []):
        try:
            if isinstance(parse_command(text, today=today, currency="USD"), LogCommand):
                return True
        except UsageError:
            continue
    return False


def check(base_url: str, database, case: Case) -> int:
    """Send `case`; check the invariants; return the status."""
    before = event_total(database)
    status, data = raw_post(base_url, case.body, case.headers)
    added = event_total(database) - before
    assert status < 500, (case.label, status, data[:300])
    assert status in ALLOWED, (case.label, status, data[:300])
    if not case.signed:  # refused; Bolt answers Slack's unsigned SSL check with an empty 200
        ssl_check = status == 200 and data == b"" and b"ssl_check=1" in case.body
        assert status in (400, 401, 413) or ssl_check, (case.label, status, data[:300])
    payload: object = data.decode("utf-8", "replace")
    if status == 200 and data.startswith(b"{"):
        payload = json.loads(data)
    outcome, _event_id, _text = classify(status, payload)
    assert outcome != REFUSED, (case.label, "the database is up", data[:300])
    assert added == (1 if outcome == CONFIRMED else 0), (case.label, status, data[:300])
    if added:
        assert case.signed and is_valid_log(case.body), case.label
    return status


# --------------------------------------------------------------------------- strategies

FIELDS = ("token", "team_id", "team_domain", "enterprise_id", "channel_id", "channel_name",
          "user_id", "user_name", "command", "text", "api_app_id", "is_enterprise_install",
          "response_url", "trigger_id")
WORDS = ("log", "call", "calls", "demo", "demo-booked", "won", "deal-won", "lost", "opp",
         "acme", '"Acme Corp"', "12", "12k", "$1.5m", "12000", "EUR", "USD", "x", "3x", "on",
         "yesterday", "2026-10-05", "mon", "public", "!", "<@U0FUZZ|bob>", "<!channel>",
         "source=paid-search", "reason=price", "mrr=1k", "payload", "undo", "help", "list",
         "funnel", "quota", "digest", "me", "revenue", "\x00", "é", "漢字", "🙂", "%", "&",
         "=", "+", "\u202e", "\ufeff", "\n")
ID_VALUES = st.one_of(
    st.sampled_from(["", "U0FUZZ", "T0FUZZ", "C0FUZZ", "E0FUZZ", "U" * 81, "T" * 300,
                     "U0\x00ZZ", "ü", "<@U1>", " "]),
    st.text(max_size=100),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=300),
)
LOGS = ("log call", "log demo-booked acme", "log won acme 12k", "log lost acme reason=price",
        "log meeting-booked", "log email-sent 40x", 'log opp "Acme Corp"', "log call 3 on mon")
COMMAND_TEXT = st.one_of(
    st.sampled_from(LOGS),
    st.builds(lambda log, words: " ".join([log, *words]), st.sampled_from(LOGS),
              st.lists(st.sampled_from(WORDS), max_size=4)),
    st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
    st.text(max_size=150),
    st.builds(lambda tail: "log " + tail, st.text(max_size=80)),
)
FORM_TYPES = (FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1", f"{FORM}; charset=foo",
              "application/json", "text/plain", "multipart/form-data; boundary=xyz", "",
              "application/octet-stream", None)


@st.composite
def slash_fields(draw, text=COMMAND_TEXT) -> list[tuple[str, str]]:
    """A slash command's form fields, realistic or mutated: dropped, replaced, extra."""
    n = draw(st.integers(0, 10**9))
    fields = {
        "token": "legacy", "team_id": "T0FUZZ", "team_domain": "fuzz", "channel_id": "C0FUZZ",
        "channel_name": "sales", "user_id": f"U0FUZZ{n % 7}", "user_name": "fuzzer",
        "command": draw(st.sampled_from(["/kpi"] * 6 + ["/other", "kpi", ""])),
        "text": draw(text), "api_app_id": "A0001", "is_enterprise_install": "false",
        "response_url": "http://127.0.0.1:9/commands/x",
        "trigger_id": f"{n}.{draw(st.integers(0, 10**6))}.fuzz",
    }
    if draw(st.booleans()):  # half of them mutated
        for name in draw(st.sets(st.sampled_from(FIELDS), max_size=3)):
            fields.pop(name, None)
        fields.update(draw(st.dictionaries(st.sampled_from(FIELDS), ID_VALUES, max_size=3)))
    pairs = list(fields.items())
    pairs += draw(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=30)), max_size=2))
    return pairs


def _signature(body: bytes, timestamp: bytes) -> str:
    """Slack's signature over a timestamp that need not be ASCII digits."""
    base = b"v0:" + timestamp + b":" + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                             blacklist_characters="\x7f"), max_size=60)


@st.composite
def signed_commands(draw) -> Case:
    """Validly signed slash command forms (mutated fields, any command text, odd headers)."""
    body = urllib.parse.urlencode(draw(slash_fields())).encode()
    content_type = draw(st.sampled_from(FORM_TYPES))
    headers = signed_headers(body, content_type)
    if draw(st.booleans()):
        headers.append(("X-Slack-Retry-Num", draw(st.sampled_from(["1", "2", "-1", ""])
                                                   | HEADER_TEXT)))
        headers.append(("X-Slack-Retry-Reason", draw(HEADER_TEXT)))
    return Case("signed command", body, tuple(headers), signed=True)


@st.composite
def bad_auth(draw) -> Case:
    """A valid `log` body whose signature or timestamp is wrong, missing or junk."""
    body = urllib.parse.urlencode(
        [("team_id", "T0FUZZ"), ("user_id", "U0AUTH"), ("command", "/kpi"),
         ("text", draw(st.sampled_from(["log call", "log demo-booked acme", "log won x 5k"]))),
         ("trigger_id", f"{draw(st.integers(0, 10**9))}.auth")]).encode()
    now = int(time.time())
    fault = draw(st.sampled_from(["flipped", "junk signature", "no signature", "no timestamp",
                                  "stale", "future", "junk timestamp", "other secret",
                                  "other body", "empty headers"]))
    headers = dict(signed_headers(body, FORM))
    if fault == "flipped":
        sig = headers["X-Slack-Signature"]
        headers["X-Slack-Signature"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    elif fault == "junk signature":
        headers["X-Slack-Signature"] = draw((st.sampled_from(["", "v0=", "v0=é", "v1=abc"])
                                             | HEADER_TEXT).map(_latin1))
    elif fault == "no signature":
        del headers["X-Slack-Signature"]
    elif fault == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif fault in ("stale", "future"):
        skew = draw(st.integers(301, 10**6)) * (-1 if fault == "stale" else 1)
        headers = dict(signed_headers(body, FORM, timestamp=now + skew))
    elif fault == "junk timestamp":
        junk = draw((st.sampled_from(["", "abc", "1e9", "١٢٣", "-0", " 1", "9" * 40])
                     | HEADER_TEXT).map(_latin1))
        headers["X-Slack-Request-Timestamp"] = junk
        headers["X-Slack-Signature"] = _signature(body, junk.encode("latin-1"))
    elif fault == "other secret":
        headers = dict(signed_headers(body, FORM, secret="not-the-secret"))
    elif fault == "other body":
        headers = dict(signed_headers(body + b"&x=1", FORM))
    else:
        headers = {"Content-Type": FORM}
    return Case(f"bad auth: {fault}", body, tuple(headers.items()), signed=False)


@st.composite
def garbage(draw) -> Case:
    """Bodies that are no well-formed slash command, signed or not."""
    kind = draw(st.sampled_from(["bytes", "text", "truncated", "json", "payload", "form junk"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=400))
    elif kind == "text":
        body = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    elif kind == "truncated":
        whole = urllib.parse.urlencode(draw(slash_fields())).encode()
        body = whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    elif kind == "json":
        body = draw(st.sampled_from([b"{", b"[1, 2]", b"null", b'{"type": "x"}', b"{}",
                                     b'{"type": "url_verification"}', b'"text"', b"{'a': 1}",
                                     b'{"command": "/kpi", "text": "log call"}']))
    elif kind == "payload":
        body = b"payload=" + urllib.parse.quote(draw(st.text(max_size=80))).encode()
    else:
        body = draw(st.sampled_from([b"=", b"&&&", b"%", b"%zz", b"a=%ff%fe", b"text=log+call",
                                     b"command=%2Fkpi", b"command=%2Fkpi&text=log+call",
                                     b"\xff\xfe\x00", b"ssl_check=1"]))
    signed = draw(st.booleans())
    content_type = draw(st.sampled_from(FORM_TYPES))
    if signed:
        headers = signed_headers(body, content_type)
    else:
        headers = signed_headers(body + b"!", content_type)
    return Case(f"garbage: {kind}", body, tuple(headers), signed=signed)


REQUESTS = st.one_of(signed_commands(), bad_auth(), garbage())


# --------------------------------------------------------------------------- the tests


def test_random_requests_never_500_and_store_only_valid_logs(slack_server, database, sizes,
                                                              figures):
    statuses: dict[int, int] = {}
    malformed = 0  # requests that were no validly signed, well-formed `log`
    before = event_total(database)

    # The short run (CI) always tries the same examples; the long run new ones each time.
    @settings(max_examples=sizes.fuzz_examples, deadline=None, database=None,
              derandomize=not sizes.long,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=REQUESTS)
    def run(case: Case) -> None:
        nonlocal malformed
        status = check(slack_server, database, case)
        statuses[status] = statuses.get(status, 0) + 1
        malformed += not (case.signed and is_valid_log(case.body))

    run()
    figures.add(backend=database.dialect, requests_sent=sum(statuses.values()),
                faults_injected=malformed, events_stored=event_total(database) - before,
                statuses=",".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
                http_500=statuses.get(500, 0))


# Requests that once got a 500 (or were dropped), kept as named regressions.
def _form(**fields: str) -> bytes:
    base = {"team_id": "T0FUZZ", "user_id": "U0FUZZ", "command": "/kpi", "text": "log call",
            "trigger_id": f"{time.time_ns()}.regression"}
    base.update(fields)
    return urllib.parse.urlencode({k: v for k, v in base.items() if v is not None}).encode()


REGRESSIONS = {  # name: (body, Content-Type, status, start of the reply)
    "no team_id": (lambda: _form(team_id=None), FORM, 200, "This request has no valid team_id"),
    "no user_id": (lambda: _form(user_id=None), FORM, 200, "This request has no valid user_id"),
    "only a command": (lambda: b"command=%2Fkpi", FORM, 200, "This request has no valid team_id"),
    "user id over 80 characters": (lambda: _form(user_id="U" * 200), FORM, 200,
                                   "This request has no valid user_id"),
    "team id over 80 characters": (lambda: _form(team_id="T" * 200), FORM, 200,
                                   "This request has no valid team_id"),
    "channel id over 80 characters": (lambda: _form(channel_id="C" * 200), FORM, 200,
                                      "This request has no valid channel_id"),
    "NUL in the channel id": (lambda: _form(channel_id="C\x00"), FORM, 200,
                              "This request has no valid channel_id"),
    "trigger id over 200 characters": (lambda: _form(trigger_id="9" * 300), FORM, 200,
                                       "This request has a malformed trigger_id"),
    "user name over 200 characters": (lambda: _form(user_name="n" * 300), FORM, 200,
                                      "Logged call"),
    "team domain over 200 characters": (lambda: _form(team_domain="d" * 300, team_id="T0DOM"),
                                        FORM, 200, "Logged call"),
    "NUL in the user name": (lambda: _form(user_name="a\x00b"), FORM, 200, "Logged call"),
    "'payload' in the command text": (lambda: _form(text="log call payload"), FORM, 200,
                                      "Logged call"),
    "unknown charset": (lambda: _form(), f"{FORM}; charset=foo", 200, "Logged call"),
    "not UTF-8": (lambda: _form() + b"&note=\xff\xfe", FORM, 400, "malformed request body"),
    "form body sent as JSON": (lambda: _form(), "application/json", 400,
                               "malformed request body"),
    "broken JSON": (lambda: b'{"type":', "application/json", 400, "malformed request body"),
    "a JSON list": (lambda: b"[1, 2]", "application/json", 400, "malformed request body"),
    "broken payload": (lambda: b"payload=%7Bxx", FORM, 400, "malformed request body"),
}


def test_malformed_signed_requests_are_answered(slack_server, database):
    """Each of these once got a 500, was dropped (404), or on PostgreSQL failed in the database
    and was answered "the database is not reachable". One server for all: a list of misses."""
    misses = {}
    for name, (make_body, content_type, expected, reply) in sorted(REGRESSIONS.items()):
        before = event_total(database)
        body = make_body()
        status, data = raw_post(slack_server, body, tuple(signed_headers(body, content_type)))
        answer = json.loads(data) if data.startswith(b"{") else {}
        text = answer.get("text") or answer.get("error") or data.decode("utf-8", "replace")
        added = event_total(database) - before
        if (status, text.startswith(reply), added) != (expected, True,
                                                       int(reply.startswith("Logged"))):
            misses[name] = (status, text[:120], added)
    assert misses == {}


JUNK_AUTH = [("abc", None), ("", None), ("١٢٣", None), ("1e9", None), (" 1", None), ("-5", None),
             (None, "v0=é"), (None, "junk"), (None, "")]


def test_junk_timestamps_and_signatures_get_401(slack_server, database):
    statuses = []
    for timestamp, signature in JUNK_AUTH:
        body = _form()
        headers = dict(signed_headers(body, FORM))
        if timestamp is not None:
            headers["X-Slack-Request-Timestamp"] = _latin1(timestamp)
        if signature is not None:
            headers["X-Slack-Signature"] = _latin1(signature)
        case = Case("junk auth", body, tuple(headers.items()), signed=False)
        statuses.append(check(slack_server, database, case))
    assert statuses == [401] * len(JUNK_AUTH)


def test_huge_bodies(slack_server, database):
    """Just under the 1 MiB limit: read and answered; over it: 413 before anything runs."""
    statuses = []
    for size in (MAX_BODY - 4096, MAX_BODY + 1, 4 * MAX_BODY):
        body = _form(text="log call " + "x" * size)[:size] if size < MAX_BODY else b"a" * size
        case = Case(f"{size} bytes", body, tuple(signed_headers(body, FORM)), signed=True)
        statuses.append(check(slack_server, database, case))
    assert statuses == [200, 413, 413]

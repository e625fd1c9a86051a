"""Tests of the test helpers for Slack request signing and signed posts into a Bolt app."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web import WebClient

from tests.support import slack_api as slack_api_support
from tests.support.slack_signing import (
    compute_signature,
    post_signed,
    post_slash_command,
    sign,
    slash_command_body,
)

# Fixtures used here (the project conftest may import them too: the PostgreSQL
# cluster is shared per process either way).
slack_api = slack_api_support.slack_api

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class TestSigning:
    def test_matches_slack_sdk_signature_verifier(self):
        body = slash_command_body("log 3 calls")
        headers = sign(body, secret=SECRET)
        assert SignatureVerifier(SECRET).is_valid_request(body, headers)
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert headers["X-Slack-Signature"].startswith("v0=")
        assert int(headers["X-Slack-Request-Timestamp"]) == pytest.approx(time.time(), abs=5)

    def test_known_vector_from_slack_docs(self):
        # The worked example in Slack's "Verifying requests from Slack" guide.
        body = (
            "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        )
        assert compute_signature(body, secret=SECRET, timestamp=1531420618) == (
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        )

    @settings(max_examples=50, deadline=None)
    @given(body=st.text(), secret=st.text(min_size=1).filter(str.strip))
    def test_any_body_and_secret_verify(self, body, secret):
        headers = sign(body, secret=secret)
        verifier = SignatureVerifier(secret)
        assert verifier.is_valid_request(body, headers)
        assert verifier.is_valid_request(body.encode(), headers)
        assert not verifier.is_valid_request(body + "x", headers)

    def test_tampered_body_fails(self):
        body = slash_command_body("log 3 calls")
        headers = sign(body, secret=SECRET)
        tampered = body.replace("log+3+calls", "log+300+calls")
        assert tampered != body
        assert not SignatureVerifier(SECRET).is_valid_request(tampered, headers)
        assert not SignatureVerifier("another-secret").is_valid_request(body, headers)

    def test_old_timestamp_fails(self):
        body = slash_command_body("kpi")
        headers = sign(body, secret=SECRET, timestamp=int(time.time()) - 6 * 60)
        assert not SignatureVerifier(SECRET).is_valid_request(body, headers)
        recent = sign(body, secret=SECRET, timestamp=int(time.time()) - 4 * 60)
        assert SignatureVerifier(SECRET).is_valid_request(body, recent)

    def test_json_bodies_get_json_content_type(self):
        assert sign('{"type": "event_callback"}', secret=SECRET)["Content-Type"] == (
            "application/json"
        )

    def test_slash_command_body_fields(self):
        body = slash_command_body("top 5 deals", user_id="U42", response_url="http://x/r")
        pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
        assert [k for k, _ in pairs] == [
            "token",
            "team_id",
            "team_domain",
            "channel_id",
            "channel_name",
            "user_id",
            "user_name",
            "command",
            "text",
            "api_app_id",
            "is_enterprise_install",
            "response_url",
            "trigger_id",
        ]
        fields = dict(pairs)
        assert fields["text"] == "top 5 deals"
        assert fields["command"] == "/kpi"
        assert fields["user_id"] == "U42"
        assert fields["is_enterprise_install"] == "false"
        assert fields["response_url"] == "http://x/r"
        assert re.fullmatch(r"\d{11}\.\d{9}\.[0-9a-f]{21}", fields["trigger_id"])
        assert "command=%2Fkpi" in body and "text=top+5+deals" in body

    def test_slash_command_body_enterprise(self):
        fields = dict(urllib.parse.parse_qsl(slash_command_body("x", enterprise_id="E1")))
        assert fields["enterprise_id"] == "E1"
        assert "enterprise_id" not in dict(urllib.parse.parse_qsl(slash_command_body("x")))

    def test_trigger_ids_are_random(self):
        ids = {
            dict(urllib.parse.parse_qsl(slash_command_body("x")))["trigger_id"] for _ in range(5)
        }
        assert len(ids) == 5


# ---------------------------------------------------------------------------- a real Bolt app
@pytest.fixture
def bolt_app_url(slack_api):
    """A slack_bolt App answering /kpi, served on 127.0.0.1; its Web API is the stand-in."""
    from slack_bolt import App
    from slack_bolt.request import BoltRequest

    app = App(
        token="xoxb-test",
        signing_secret=SECRET,
        client=WebClient(token="xoxb-test", base_url=slack_api.base_url),
    )
    seen: list[dict] = []

    @app.command("/kpi")
    def kpi(ack, command, respond):
        seen.append(command)
        ack(f"got: {command['text']}")
        respond("done")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            headers = {k.lower(): [v] for k, v in self.headers.items()}
            resp = app.dispatch(BoltRequest(body=body, headers=headers))
            payload = (resp.body or "").encode()
            self.send_response(resp.status)
            for key, values in resp.headers.items():
                if key.lower() != "content-length":
                    for value in values:
                        self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class TestPostToBolt:
    def test_valid_slash_command_is_accepted(self, bolt_app_url, slack_api):
        base, seen = bolt_app_url
        status, payload, _ = post_slash_command(
            base,
            "sales this week",
            secret=SECRET,
            response_url=slack_api.response_url("abc"),
            user_id="U7",
        )
        assert status == 200
        assert payload == "got: sales this week"  # Bolt answers a text-only ack as text/plain
        assert seen[0]["user_id"] == "U7"
        (response,) = slack_api.wait_for("response_url")
        assert response.body["text"] == "done"
        assert response.path == "/response/abc"
        assert slack_api.calls_to("auth.test")  # Bolt checked the token at start-up

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"bad_signature": True},
            {"omit_signature": True},
            {"omit_timestamp": True},
            {"timestamp": int(time.time()) - 10 * 60},
        ],
        ids=["bad-signature", "no-signature", "no-timestamp", "old-timestamp"],
    )
    def test_bad_requests_are_rejected(self, bolt_app_url, kwargs):
        base, seen = bolt_app_url
        status, _, _ = post_slash_command(base, "kpi", secret=SECRET, **kwargs)
        assert status == 401
        assert seen == []

    def test_wrong_secret_is_rejected(self, bolt_app_url):
        base, seen = bolt_app_url
        status, _, _ = post_slash_command(base, "kpi", secret="not-the-secret")
        assert status == 401
        assert seen == []

    def test_post_signed_returns_http_errors(self, slack_api):
        status, payload, _ = post_signed(f"{slack_api.base}/nowhere", "a=b", secret=SECRET)
        assert status == 404
        assert payload == "not found"

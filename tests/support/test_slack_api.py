"""Tests of the Slack Web API stand-in (tests/support/slack_api.py): calls, files and faults."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.error
import urllib.parse

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.support import slack_api as slack_api_support
from tests.support.slack_api import SlackApiServer, slack_api_server

# Fixtures used here (the project conftest may import them too: the PostgreSQL
# cluster is shared per process either way).
slack_api = slack_api_support.slack_api

FAST = FixedValueRetryIntervalCalculator(fixed_internal=0.01)
# 1x1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def client(server: SlackApiServer, **kwargs) -> WebClient:
    kwargs.setdefault("retry_handlers", [])
    return WebClient(token="xoxb-test", base_url=server.base_url, **kwargs)


class TestSlackApiBasics:
    def test_post_message_is_recorded(self, slack_api):
        resp = client(slack_api).chat_postMessage(channel="C1", text="hi")
        assert resp["ok"] and resp["channel"] == "C1"
        assert resp["message"]["text"] == "hi"
        (call,) = slack_api.calls_to("chat.postMessage")
        assert call.method == "chat.postMessage"
        assert call.body == {"channel": "C1", "text": "hi"}
        assert call.headers["Authorization"] == "Bearer xoxb-test"
        assert call.token == "xoxb-test"
        assert call.status == 200
        assert call.at <= time.monotonic()
        assert slack_api.methods() == ["chat.postMessage"]

    def test_ts_unique_and_increasing(self, slack_api):
        slack_api.clock = lambda: 1_700_000_000.0001  # a frozen clock: still unique
        web = client(slack_api)
        stamps = [web.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(3)]
        assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
        assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 3
        assert stamps == ["1700000000.000100", "1700000000.000101", "1700000000.000102"]

    def test_history_pages_newest_first_with_metadata_on_request(self, slack_api):
        now = [1_764_900_000.0]
        slack_api.clock = lambda: now[0]
        web = client(slack_api)
        posted = []
        for i in range(7):
            now[0] += 10
            posted.append(web.chat_postMessage(
                channel="C1", text=f"m{i}",
                metadata={"event_type": "kpibot_digest", "event_payload": {"slot": f"s{i}"}},
            )["ts"])
        web.chat_postMessage(channel="C2", text="elsewhere")
        oldest = posted[1]  # exclusive: m2..m6 remain
        pages, cursor = [], None
        while True:
            page = web.conversations_history(channel="C1", oldest=oldest, limit=2,
                                             include_all_metadata=True, cursor=cursor)
            pages.append(page)
            cursor = page["response_metadata"]["next_cursor"]
            if not page["has_more"]:
                assert cursor == ""
                break
        texts = [m["text"] for p in pages for m in p["messages"]]
        assert texts == ["m6", "m5", "m4", "m3", "m2"]
        assert [len(p["messages"]) for p in pages] == [2, 2, 1]
        assert pages[0]["messages"][0]["metadata"] == {
            "event_type": "kpibot_digest", "event_payload": {"slot": "s6"}}
        assert {"ts", "text", "type", "bot_id"} <= set(pages[0]["messages"][0])
        bare = web.conversations_history(channel="C1", limit=100)
        assert len(bare["messages"]) == 7 and not bare["has_more"]
        assert all("metadata" not in m for m in bare["messages"])
        inclusive = web.conversations_history(channel="C1", oldest=oldest, inclusive=True)
        assert len(inclusive["messages"]) == 6
        with pytest.raises(SlackApiError) as err:
            web.conversations_history(channel="C1", cursor="not a cursor!")
        assert err.value.response["error"] == "invalid_cursor"
        slack_api.set_channel_error("C1", "not_in_channel")
        with pytest.raises(SlackApiError) as err:
            web.conversations_history(channel="C1")
        assert err.value.response["error"] == "not_in_channel"

    def test_a_held_answer_is_stored_but_not_answered_until_released(self, slack_api):
        held = slack_api.hold("chat.postMessage", after=1, channel="C1")
        web = client(slack_api, timeout=30)
        web.chat_postMessage(channel="C1", text="answered")
        answers = []
        poster = threading.Thread(target=lambda: answers.append(
            web.chat_postMessage(channel="C1", text="held")))
        poster.start()
        (call,) = slack_api.wait_held(held, 1)
        assert call.body["text"] == "held" and call.status == 0 and answers == []
        assert [m["text"] for m in slack_api.messages_in("C1")] == ["answered", "held"]
        held.release()
        poster.join(10)
        assert answers and answers[0]["ok"]

    def test_blocks_and_validation(self, slack_api):
        web = client(slack_api)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*KPI*"}}]
        resp = web.chat_postMessage(channel="C1", blocks=blocks, text="KPI")
        assert resp["message"]["blocks"] == blocks
        assert slack_api.calls_to("chat.postMessage")[0].json_field("blocks") == blocks
        with pytest.raises(SlackApiError) as err:
            web.api_call("chat.postMessage", json={"channel": "C1"})
        assert err.value.response["error"] == "no_text"
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C1", text="x" * 40_001)
        assert err.value.response["error"] == "msg_too_long"

    def test_form_encoded_calls(self, slack_api):
        web = client(slack_api)
        dm = web.conversations_open(users="U1")["channel"]["id"]
        assert dm.startswith("D")
        assert web.conversations_open(users=["U1"])["channel"]["id"] == dm
        assert web.conversations_open(users="U2")["channel"]["id"] != dm
        assert slack_api.calls_to("conversations.open")[0].body == {"users": "U1"}
        assert (
            slack_api.calls_to("conversations.open")[0]
            .headers["content-type"]
            .startswith("application/x-www-form-urlencoded")
        )
        # posting to a user id lands in that user's DM
        assert web.chat_postMessage(channel="U1", text="psst")["channel"] == dm

    def test_other_default_methods(self, slack_api):
        web = client(slack_api)
        auth = web.auth_test()
        assert (auth["user_id"], auth["team_id"], auth["bot_id"]) == ("U0BOT", "T0001", "B0BOT")
        assert web.team_info()["team"]["id"] == "T0001"
        eph = web.chat_postEphemeral(channel="C1", user="U1", text="only you")
        assert eph["message_ts"]
        ts = web.chat_postMessage(channel="C1", text="v1")["ts"]
        upd = web.chat_update(channel="C1", ts=ts, text="v2")
        assert (upd["ts"], upd["text"]) == (ts, "v2")
        assert web.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]["id"]

    def test_users_info(self, slack_api):
        web = client(slack_api)
        slack_api.set_user(
            "U1",
            is_admin=True,
            tz="America/New_York",
            real_name="Ann Admin",
            email="ann@acme.example",
        )
        user = web.users_info(user="U1")["user"]
        assert user["is_admin"] is True and user["is_owner"] is False
        assert user["tz"] == "America/New_York"
        assert user["tz_offset"] in (-5 * 3600, -4 * 3600)
        assert user["real_name"] == "Ann Admin"
        assert user["profile"]["email"] == "ann@acme.example"
        assert "locale" not in user
        assert web.users_info(user="U1", include_locale=True)["user"]["locale"] == "en-US"
        default = web.users_info(user="U9")["user"]
        assert (default["id"], default["is_admin"], default["tz"]) == ("U9", False, "Europe/Oslo")
        slack_api.strict_users = True
        with pytest.raises(SlackApiError) as err:
            web.users_info(user="U9")
        assert err.value.response["error"] == "user_not_found"

    def test_unknown_method(self, slack_api):
        with pytest.raises(SlackApiError) as err:
            client(slack_api).api_call("nope.nothing")
        assert err.value.response["error"] == "unknown_method"
        assert slack_api.calls_to("nope.nothing")

    def test_missing_token(self, slack_api):
        web = WebClient(base_url=slack_api.base_url, retry_handlers=[])
        with pytest.raises(SlackApiError) as err:
            web.auth_test()
        assert err.value.response["error"] == "not_authed"
        slack_api.valid_tokens = {"xoxb-good"}
        with pytest.raises(SlackApiError) as err:
            client(slack_api).auth_test()
        assert err.value.response["error"] == "invalid_auth"
        assert WebClient(token="xoxb-good", base_url=slack_api.base_url).auth_test()["ok"]

    def test_set_response(self, slack_api):
        slack_api.set_response("bookmarks.list", {"ok": True, "bookmarks": []})
        slack_api.set_response("emoji.list", lambda call: (200, {"ok": True, "n": call.token}))
        web = client(slack_api)
        assert web.api_call("bookmarks.list")["bookmarks"] == []
        assert web.api_call("emoji.list")["n"] == "xoxb-test"

    def test_reset(self, slack_api):
        web = client(slack_api)
        web.chat_postMessage(channel="C1", text="a")
        slack_api.fail_next("chat.postMessage", error="is_archived")
        slack_api.set_channel_error("C2")
        slack_api.reset()
        assert slack_api.calls == [] and slack_api.pending_faults() == []
        web.chat_postMessage(channel="C2", text="b")
        assert len(slack_api.calls) == 1

    def test_response_url(self, slack_api):
        url = slack_api.response_url("abc")
        assert url == f"{slack_api.base}/response/abc"
        WebhookClient(url).send(text="ok!", response_type="ephemeral")
        (call,) = slack_api.calls_to("response_url")
        assert call.body == {"text": "ok!", "response_type": "ephemeral"}

    def test_wait_for(self, slack_api):
        web = client(slack_api)
        timer = threading.Timer(0.2, lambda: web.chat_postMessage(channel="C1", text="later"))
        timer.start()
        (call,) = slack_api.wait_for("chat.postMessage", timeout=5)
        assert call.body["text"] == "later"
        with pytest.raises(AssertionError, match="expected 2 call"):
            slack_api.wait_for("chat.postMessage", count=2, timeout=0.2)
        timer.join()

    def test_async_client(self, slack_api):
        slack_api.set_user("U1", is_owner=True)

        async def go():
            web = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
            posted = await web.chat_postMessage(channel="C1", text="from aiohttp")
            user = await web.users_info(user="U1")
            upload = await web.files_upload_v2(channel="C1", filename="c.png", content=PNG)
            return posted, user, upload

        posted, user, upload = asyncio.run(go())
        assert posted["ok"] and user["user"]["is_owner"] is True
        assert upload["file"]["size"] == len(PNG)
        assert slack_api.calls_to("chat.postMessage")[0].body["text"] == "from aiohttp"
        assert slack_api.calls_to("users.info")[0].body["user"] == "U1"
        assert slack_api.calls_to("upload")[0].files["file"].data == PNG

    def test_starts_and_stops(self):
        with slack_api_server() as server:
            port = server.port
            client(server).auth_test()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/auth.test", timeout=1)


class TestSlackApiFiles:
    def test_files_upload_v2_end_to_end(self, slack_api):
        resp = client(slack_api).files_upload_v2(
            channel="C1",
            filename="chart.png",
            content=PNG,
            title="Weekly chart",
            initial_comment="Monday digest",
        )
        assert resp["ok"]
        assert resp["file"]["size"] == len(PNG)
        assert resp["file"]["mimetype"] == "image/png"
        assert resp["file"]["title"] == "Weekly chart"
        assert slack_api.methods() == [
            "files.getUploadURLExternal",
            "upload",
            "files.completeUploadExternal",
        ]
        get_url, upload, complete = slack_api.calls
        assert get_url.body["filename"] == "chart.png"
        assert int(get_url.body["length"]) == len(PNG)
        file_id = get_url.response["file_id"]
        assert get_url.response["upload_url"] == f"{slack_api.base}/upload/{file_id}"
        assert upload.body == {"file_id": file_id, "size": len(PNG)}
        assert upload.files["file"].data == PNG
        assert slack_api.uploads[file_id] == PNG
        assert complete.body["channel_id"] == "C1"
        assert complete.body["initial_comment"] == "Monday digest"
        assert complete.json_field("files") == [{"id": file_id, "title": "Weekly chart"}]

    def test_complete_without_upload_fails(self, slack_api):
        with pytest.raises(SlackApiError) as err:
            client(slack_api).files_completeUploadExternal(files=[{"id": "F404", "title": "x"}])
        assert err.value.response["error"] == "file_not_found"

    def test_multipart_upload_is_recorded(self, slack_api):
        slack_api.set_response("files.upload", {"ok": True})
        client(slack_api).api_call(
            "files.upload", files={"file": PNG}, data={"channels": "C1", "filename": "a.png"}
        )
        (call,) = slack_api.calls_to("files.upload")
        assert call.body["channels"] == "C1"
        assert call.body["file"]["size"] == len(PNG)
        assert call.files["file"].data == PNG

    def test_upload_failure_surfaces(self, slack_api):
        slack_api.fail_next("upload", status=500)
        # slack_sdk does not wrap errors of the upload step itself
        with pytest.raises(urllib.error.HTTPError, match="500"):
            client(slack_api).files_upload_v2(channel="C1", filename="a.png", content=PNG)
        assert "files.completeUploadExternal" not in slack_api.methods()


class TestSlackApiFaults:
    def test_rate_limited_raises(self, slack_api):
        slack_api.fail_next("chat.postMessage", status=429, retry_after=7)
        with pytest.raises(SlackApiError) as err:
            client(slack_api).chat_postMessage(channel="C1", text="hi")
        assert err.value.response.status_code == 429
        assert err.value.response["error"] == "ratelimited"
        assert err.value.response.headers["Retry-After"] == "7"
        assert client(slack_api).chat_postMessage(channel="C1", text="hi")["ok"]
        assert [c.status for c in slack_api.calls] == [429, 200]

    def test_rate_limited_retry_handler_succeeds(self, slack_api):
        slack_api.fail_next("chat.postMessage", status=429, retry_after=0, times=1)
        web = client(slack_api, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]
        first, second = slack_api.calls_to("chat.postMessage")
        assert (first.status, second.status) == (429, 200)
        assert first.fault is not None and second.fault is None

    def test_server_errors(self, slack_api):
        slack_api.fail_next("chat.postMessage", status=500, times=2)
        web = client(slack_api)
        for _ in range(2):
            with pytest.raises(SlackApiError) as err:
                web.chat_postMessage(channel="C1", text="hi")
            assert err.value.response.status_code == 500
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]

    def test_server_error_retry_handler_succeeds(self, slack_api):
        slack_api.fail_next("chat.postMessage", status=503, times=2)
        web = client(
            slack_api,
            retry_handlers=[ServerErrorRetryHandler(max_retry_count=2, interval_calculator=FAST)],
        )
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]
        assert [c.status for c in slack_api.calls] == [503, 503, 200]

    @pytest.mark.parametrize(
        "error",
        ["channel_not_found", "invalid_auth", "not_in_channel", "is_archived", "token_revoked"],
    )
    def test_error_codes(self, slack_api, error):
        slack_api.fail_next("chat.postMessage", error=error)
        web = client(slack_api)
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C1", text="hi")
        assert err.value.response.status_code == 200
        assert err.value.response["error"] == error
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]

    def test_faults_are_per_method_and_fifo(self, slack_api):
        slack_api.fail_next("chat.postMessage", error="not_in_channel")
        slack_api.fail_next("chat.postMessage", error="is_archived")
        web = client(slack_api)
        assert web.auth_test()["ok"]  # other methods unaffected
        errors = []
        for _ in range(3):
            try:
                web.chat_postMessage(channel="C1", text="hi")
                errors.append("ok")
            except SlackApiError as exc:
                errors.append(exc.response["error"])
        assert errors == ["not_in_channel", "is_archived", "ok"]

    def test_fault_for_one_channel(self, slack_api):
        slack_api.fail_next("chat.postMessage", error="not_in_channel", channel="C2")
        web = client(slack_api)
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="C2", text="hi")
        assert web.chat_postMessage(channel="C2", text="hi")["ok"]

    def test_persistent_channel_error(self, slack_api):
        slack_api.set_channel_error("C9", "channel_not_found")
        web = client(slack_api)
        for _ in range(3):
            with pytest.raises(SlackApiError) as err:
                web.chat_postMessage(channel="C9", text="hi")
            assert err.value.response["error"] == "channel_not_found"
        assert web.chat_postMessage(channel="C1", text="hi")["ok"]
        slack_api.clear_channel_error("C9")
        assert web.chat_postMessage(channel="C9", text="hi")["ok"]

    def test_delay_then_success(self, slack_api):
        slack_api.fail_next("auth.test", delay=0.3)
        started = time.monotonic()
        assert client(slack_api).auth_test()["ok"]
        assert time.monotonic() - started >= 0.3

    def test_delay_causes_client_timeout(self, slack_api):
        slack_api.fail_next("chat.postMessage", delay=60.0)
        web = client(slack_api, timeout=0.3)
        started = time.monotonic()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            web.chat_postMessage(channel="C1", text="hi")
        assert time.monotonic() - started < 30  # gave up long before the answer (60 s)

    def test_stop_is_fast_during_delay(self):
        outcome: list[object] = []

        def call(server: SlackApiServer) -> None:
            try:
                outcome.append(client(server, timeout=5).auth_test())
            except Exception as exc:  # noqa: BLE001 - the call is expected to fail
                outcome.append(exc)

        with slack_api_server() as server:
            server.fail_next("auth.test", delay=120)
            worker = threading.Thread(target=call, args=(server,))
            worker.start()
            deadline = time.monotonic() + 2
            while not server.calls and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.calls
            started = time.monotonic()
        assert time.monotonic() - started < 60  # did not wait out the 120 s delay
        worker.join(5)
        assert not worker.is_alive() and outcome

    def test_disconnect_and_connection_retry(self, slack_api):
        slack_api.fail_next("auth.test", disconnect=True)
        web = client(
            slack_api,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=FAST)
            ],
        )
        assert web.auth_test()["ok"]
        assert [c.status for c in slack_api.calls] == [0, 200]

    def test_429_on_response_url(self, slack_api):
        slack_api.fail_next("response_url", status=404, body="expired_url")
        resp = WebhookClient(slack_api.response_url()).send(text="late")
        assert (resp.status_code, resp.body) == (404, "expired_url")

    def test_rejects_bad_times(self, slack_api):
        with pytest.raises(ValueError):
            slack_api.fail_next("chat.postMessage", error="x", times=0)

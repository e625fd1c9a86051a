"""Channels by the names people use: `/kpi digest here` keeps the channel's name, `digest
list|status` show `#sales`, and `kpibot digest send --channel sales` finds it (issue 16)."""

from __future__ import annotations

import io

from bot.cli import digest as digest_cli
from bot.cli import main as cli
from bot.settings import build_settings
from bot.wiring import build_bot
from storage import digests as ledger
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "test-signing-secret"


def _post(base_url, text, channel_id, channel_name):
    status, body, _ = post_slash_command(base_url, text, secret=SECRET, user_id="U_BOSS",
                                         team_id="T0001", channel_id=channel_id,
                                         channel_name=channel_name)
    assert status == 200
    return body


def test_a_channel_is_shown_and_found_by_its_name(database, database_url, slack_api, clock,
                                                   monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_api.base_url)
    settings = build_settings(SLACK_SIGNING_SECRET=SECRET, KPIBOT_ADMINS="U_BOSS")
    with running_server(build_bot(settings, database=database, clock=clock)) as base_url:
        assert "Digest set" in _post(base_url, "digest here", "C_SALES", "sales")["text"]
        assert "Digest set" in _post(base_url, "digest here", "D_BOSS", "directmessage")["text"]
        listing = str(_post(base_url, "digest list", "C_SALES", "sales"))
    assert "#sales" in listing and "C_SALES" not in listing
    assert "D_BOSS" in listing and "#directmessage" not in listing  # a DM has no name

    for written in ("#Sales", "C_SALES", "SALES"):
        out = io.StringIO()
        args = cli._parser().parse_args(["digest", "preview", "--channel", written])
        assert digest_cli.run(args, build_settings(), out=out) == 0, out.getvalue()
    out = io.StringIO()
    args = cli._parser().parse_args(["digest", "send", "--channel", "sales"])
    assert digest_cli.run(args, build_settings(), out=out) == 0, out.getvalue()
    assert out.getvalue().startswith("digest for #sales: sent")
    assert len([c for c in slack_api.calls_to("chat.postMessage") if c.channel == "C_SALES"]) == 1
    out = io.StringIO()
    digest_cli.run(cli._parser().parse_args(["digest", "status"]), build_settings(), out=out)
    assert "slack #sales: weekly" in out.getvalue()
    with database.read() as session:
        names = {s.channel_id: s.channel_name for s in ledger.list_schedules(session=session)}
    assert names == {"C_SALES": "sales", "D_BOSS": None}

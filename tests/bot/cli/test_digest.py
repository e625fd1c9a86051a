"""`kpibot digest preview|send|status` against a real database and the Slack stand-in."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import digest as digest_cli
from bot.cli import main as cli
from bot.settings import SettingsError, build_settings
from sampledata import seed_workspace
from storage import digests as ledger

WORKSPACE = "slack:TCLI"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def configured_label(language: str) -> str:
    from reports.i18n import translator

    return translator(language).gettext("Weekly digest")


@pytest.fixture
def configured(database_url, database, slack_api, monkeypatch, capsys):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=500, end=NOW,
                   timezone="Europe/Oslo", platform="slack")
    with database.write() as session:
        ledger.save_schedule(session=session, workspace_id=WORKSPACE, platform="slack",
                             channel_id="C_SALES", owner_id="U_BOSS", now=NOW,
                             fields=ledger.ScheduleFields(timezone="Europe/Oslo",
                                                          language="sv"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli-test")
    return database


def _run(_capsys, *argv) -> tuple[int, str]:
    """The parsed command run as `kpibot` runs it (without re-configuring logging)."""
    out = io.StringIO()
    args = cli._parser().parse_args(list(argv))
    try:
        code = digest_cli.run(args, build_settings(), out=out)
    except SettingsError as error:  # what cli.main prints as one line, exit 2
        return 2, f"kpibot: {error}"
    return code, out.getvalue()


def test_preview_renders_a_channels_digest_in_each_format(configured, capsys):
    code, text = _run(capsys, "digest", "preview", "--channel", "C_SALES",
                      "--at", NOW.isoformat())
    assert code == 0 and text.startswith(configured_label("sv")), text[:300]
    code, out = _run(capsys, "digest", "preview", "--channel", "C_SALES", "--format", "slack",
                     "--lang", "en", "--cadence", "monthly", "--at", NOW.isoformat())
    message = json.loads(out)
    assert code == 0 and message["text"].startswith("Monthly digest")
    assert 0 < len(message["blocks"]) <= 50
    code, out = _run(capsys, "digest", "preview", "--format", "teams",
                     "--workspace", WORKSPACE, "--at", NOW.isoformat())
    assert code == 0 and json.loads(out)["type"] == "AdaptiveCard"


def test_preview_of_an_unknown_channel_is_one_clear_line(configured, capsys):
    code, out = _run(capsys, "digest", "preview", "--channel", "C_NOPE")
    assert code == 2 and "no digest schedule for channel 'C_NOPE'" in out
    assert "Traceback" not in out


def test_send_posts_now_and_status_shows_it(configured, slack_api, capsys):
    code, out = _run(capsys, "digest", "send", "--channel", "C_SALES")
    assert code == 0 and "sent after 1 attempt" in out
    assert len([c for c in slack_api.calls_to("chat.postMessage")
                if c.channel == "C_SALES"]) == 1
    code, out = _run(capsys, "digest", "status", "--workspace", WORKSPACE)
    assert code == 0 and "weekly on Monday at 09:00 Europe/Oslo, sv" in out
    assert "sent (manual) attempts=1" in out
    assert "xoxb-cli-test" not in out


def test_send_to_a_missing_channel_fails_and_is_recorded(configured, slack_api, capsys):
    slack_api.set_channel_error("C_SALES", "not_in_channel")
    code, out = _run(capsys, "digest", "send", "--channel", "C_SALES")
    assert code == 1 and "failed" in out and "not_in_channel" in out
    with configured.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert row.status == "failed" and row.finished_at > NOW - timedelta(days=1)


def test_status_shows_what_recovery_found_and_the_rule_per_platform(configured, capsys):
    from bot.digests.delivery import FOUND_NOTE

    with configured.write() as session:
        (schedule,) = ledger.list_schedules(session=session)
        claim = ledger.claim_slot(session=session, schedule=schedule, slot_at=NOW,
                                  worker="w:1", now=NOW, lease=timedelta(minutes=10),
                                  trigger="manual")
        ledger.finish_delivery(session=session, delivery_id=claim.id, worker="w:1",
                               status=ledger.SENT, now=NOW, attempts=1,
                               message_id="1795010000.000100", note=FOUND_NOTE)
    code, out = _run(capsys, "digest", "status", "--workspace", WORKSPACE)
    assert code == 0
    assert ("sent (manual) attempts=1 found in channel after an interrupted attempt; "
            "message 1795010000.000100") in out
    assert "Slack digest is looked up in its channel" in out and "at least once" in out

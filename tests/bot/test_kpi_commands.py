"""Every catalog KPI answers in Slack (signed requests into the running app) and on the CLI."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest

from bot.cli import kpi as kpi_cli
from bot.settings import build_settings
from bot.wiring import build_bot
from reports.kpis.catalog import CATALOG
from sampledata import seed_workspace
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "test-signing-secret"
NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
TEAM = "TKPI"


@pytest.fixture
def seeded(database, slack_api, clock):
    seed_workspace(database=database, workspace_id=f"slack:{TEAM}", target_events=3_000,
                   end=NOW, seed=11, timezone="Europe/Oslo")
    url = database.engine.url.render_as_string(hide_password=False)
    settings = build_settings(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-test",
                              SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url,
                              KPIBOT_ADMINS="U_BOSS")
    bot = build_bot(settings, database=database, clock=clock)
    with running_server(bot) as base_url:
        yield settings, base_url


def _ask(base_url, text, user="U_MANAGER"):
    status, body, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                         user_id=user)
    assert status == 200
    return body


def test_every_catalog_kpi_answers_in_slack(seeded):
    _settings, base_url = seeded
    for name in CATALOG:
        body = _ask(base_url, f"{name} this-quarter")
        assert not body["blocks"][0]["text"]["text"].startswith(":warning:"), (name, body)
        assert CATALOG[name].title in body["text"], name
    body = _ask(base_url, "show win-rate last-month public")
    assert body["response_type"] == "in_channel" and "Win rate" in body["text"]


def test_rates_show_counts_and_bad_periods_are_refused(seeded):
    _settings, base_url = seeded
    body = _ask(base_url, "open-rate this-year")
    assert "% (" in body["text"] and "/" in body["text"]
    body = _ask(base_url, "win-rate 2026-Q5")
    assert "not a quarter" in body["text"] and "Example: /kpi" in body["text"]


def test_funnel_quota_churn_leaderboard_me(seeded):
    _settings, base_url = seeded
    funnel = _ask(base_url, "funnel this-quarter")
    assert "Funnel" in funnel["text"] and "opportunity" in funnel["text"]
    assert "Stalled deals" in funnel["text"]
    assert "cohort view" in _ask(base_url, "funnel this-quarter cohort")["text"]
    quota = _ask(base_url, "quota this-month")
    assert "Quota attainment" in quota["text"] and "Reps at quota" in quota["text"]
    assert "Customer churn" in _ask(base_url, "churn last-month")["text"]
    assert "Leaderboard" in _ask(base_url, "leaderboard revenue this-year")["text"]
    assert "You ·" in _ask(base_url, "me this-month", user="UGEN001")["text"]


def test_quota_set_needs_an_admin_and_then_counts(seeded):
    _settings, base_url = seeded
    refused = _ask(base_url, "quota set <@U_NEW|new> 50k monthly")
    assert "Only admins" in refused["text"]
    done = _ask(base_url, "quota set <@U_NEW|new> 50k monthly", user="U_BOSS")
    assert "Quota set" in done["text"] and "$50,000.00" in done["text"]
    _ask(base_url, "log deal-won newco 20k", user="U_NEW")
    quota = _ask(base_url, "quota this-month <@U_NEW|new>")
    assert "40%" in quota["text"]  # 20k of 50k


def _cli(settings, *argv, now=NOW):
    parser = argparse.ArgumentParser()
    kpi_cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert kpi_cli.run(parser.parse_args(["kpi", *argv]), settings, out=out, now=now) == 0
    return out.getvalue()


def test_every_catalog_kpi_as_cli_json(seeded):
    settings, _base_url = seeded
    for name in CATALOG:
        payload = json.loads(_cli(settings, name, "--period", "this-quarter", "--json"))
        assert set(payload) == {"kpi", "workspace", "period", "value", "unit", "numerator",
                                "denominator", "rows", "details", "comparison"}
        # this-quarter runs on Nov 18: its elapsed days against the same days before
        spans = payload["comparison"]
        assert spans["partial"] is True and spans["current"]["label"] == "2026-10-01..2026-11-18"
        assert spans["previous"]["label"] == "2026-07-01..2026-08-18"
        assert payload["kpi"] == name and payload["workspace"] == f"slack:{TEAM}"
        # monthly-progress is month-to-date by definition, whatever the period asked for
        expected = "mtd" if name == "monthly-progress" else "this-quarter"
        assert payload["period"]["label"] == expected
        for row in payload["rows"]:
            assert {"key", "value", "numerator", "denominator"} <= set(row)
    text = _cli(settings, "win-rate", "--period", "last-month")
    assert text.startswith("Win rate")

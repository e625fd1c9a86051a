"""Every catalog KPI answers on the CLI (in chat: tests/bot/handlers/test_report_commands.py)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest

from bot.cli import kpi as kpi_cli
from bot.settings import SettingsError, build_settings
from bot.wiring import build_bot
from reports.kpis.catalog import CATALOG
from sampledata import seed_workspace
from storage import digests as ledger
from tests.support.bot_server import running_server

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


def test_cli_text_in_the_language_asked_else_the_digests_language(seeded, database):
    settings, _base_url = seeded
    assert _cli(settings, "win-rate", "--period", "last-month", "--lang", "nb").startswith(
        "Vinnrate · oktober 2026")
    assert _cli(settings, "win-rate", "--period", "last-month").startswith("Win rate · ")
    with database.write() as session:  # the team reads its digests in Swedish
        ledger.save_schedule(
            session=session, workspace_id=f"slack:{TEAM}", platform="slack", channel_id="C1",
            owner_id="U_BOSS", now=NOW, fields=ledger.ScheduleFields(
                cadence="weekly", day=0, hour=9, minute=0, timezone="Europe/Oslo",
                language="sv"))
    assert _cli(settings, "win-rate", "--period", "last-month").startswith("Vinstandel · ")
    assert _cli(settings, "win-rate", "--period", "last-month", "--lang", "en").startswith(
        "Win rate · ")
    json_sv = json.loads(_cli(settings, "win-rate", "--period", "last-month", "--json"))
    assert json_sv["kpi"] == "win-rate"  # JSON keeps its keys in every language
    with pytest.raises(SettingsError, match="--lang 'xx'"):
        _cli(settings, "win-rate", "--lang", "xx")

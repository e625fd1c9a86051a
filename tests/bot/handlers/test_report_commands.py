"""Every catalog KPI and every report command answers in chat, on a generated workspace: the
command handler with its real grammar and storage (tests/support/dialog.py). The signed-HTTP
suites (tests/bot/test_slack_http.py) test the transport."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.kpis.catalog import CATALOG
from sampledata import seed_workspace
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
TEAM = "TKPI"


@pytest.fixture
def chat(database):
    seed_workspace(database=database, workspace_id=f"slack:{TEAM}", target_events=3_000,
                   end=NOW, seed=11, timezone="Europe/Oslo")
    return Chat(database, workspace=f"slack:{TEAM}", now=NOW, admins={"U_BOSS"},
                default_user="U_MANAGER")


def _ask(chat, text, user=None) -> str:
    return chat.ask(text, user=user).plain_text()


def test_every_catalog_kpi_answers(chat):
    for name in CATALOG:
        reply = chat.ask(f"{name} this-quarter")
        assert reply.ok, (name, reply.plain_text())
        assert CATALOG[name].title in reply.plain_text(), name
    reply = chat.ask("show win-rate last-month public")
    assert reply.public and "Win rate" in reply.plain_text()


def test_rates_show_counts_and_bad_periods_are_refused(chat):
    text = _ask(chat, "open-rate this-year")
    assert "% (" in text and "/" in text
    text = _ask(chat, "win-rate 2026-Q5")
    assert "not a quarter" in text and "Example: /kpi" in text


def test_funnel_quota_churn_leaderboard_me(chat):
    funnel = _ask(chat, "funnel this-quarter")
    assert "Funnel" in funnel and "opportunity" in funnel
    assert "Stalled deals" in funnel
    assert "cohort view" in _ask(chat, "funnel this-quarter cohort")
    quota = _ask(chat, "quota this-month")
    assert "Quota attainment" in quota and "Reps at quota" in quota
    assert "Customer churn" in _ask(chat, "churn last-month")
    assert "Leaderboard" in _ask(chat, "leaderboard revenue this-year")
    assert "You ·" in _ask(chat, "me this-month", user="UGEN001")


def test_quota_set_needs_an_admin_and_then_counts(chat):
    refused = _ask(chat, "quota set <@U_NEW|new> 50k monthly")
    assert "Only admins" in refused
    done = _ask(chat, "quota set <@U_NEW|new> 50k monthly", user="U_BOSS")
    assert "Quota set" in done and "$50,000.00" in done
    _ask(chat, "log deal-won newco 20k", user="U_NEW")
    quota = _ask(chat, "quota this-month <@U_NEW|new>")
    assert "40%" in quota  # 20k of 50k

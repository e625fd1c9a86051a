"""Effective-dated quotas through the command handler (tests/support/dialog.py), on both
databases: edits today leave past periods alone, a mid-quarter change counts pro rata, `from
DATE`, `/kpi quota history`, bad input stores nothing; `/kpi me`, monthly-progress,
reps-at-quota and the digest use the same targets.

Story (Europe/Oslo; hand-computed): on 20 Oct the manager sets ana 31,000 monthly, dan 10,000
monthly and bo 20 demo-booked monthly (all from 1 Oct). On 16 Nov ana gets 36,000 "from
2026-11-16". ana wins 16,750 on 10 Nov. On Sat 5 Dec: ana 40,000 monthly, dan 90,000 quarterly,
cy 60,000 quarterly (cy had none).
November: ana 31,000 x 15/30 + 36,000 x 15/30 = 33,500 (16,750 = 50%); dan 10,000; no cy.
December: ana 40,000; dan 90,000 / 3 = 30,000; cy 20,000 → team 90,000.
Q4: ana 31,000 + 33,500 + 40,000 = 104,500; dan 10,000 + 10,000 + 30,000 = 50,000.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.digests.compose import compose_digest
from storage.quotas import list_quotas
from storage.workspaces import ensure_user, ensure_workspace
from tests.support.dialog import Chat

TEAM = "TQEFF"
WS = f"slack:{TEAM}"
PEOPLE = {"UANA": "Ana Berg", "UDAN": "Dan Olsen", "UCY": "Cy Chen", "UBO": "Bo Lind",
          "U_BOSS": "Sales Boss"}
OCT20 = datetime(2026, 10, 20, 9, tzinfo=UTC)
NOV16 = datetime(2026, 11, 16, 9, tzinfo=UTC)
DEC5 = datetime(2026, 12, 5, 10, tzinfo=UTC)


@pytest.fixture
def team(database):
    with database.write() as s:
        ensure_workspace(session=s, workspace_id=WS, platform="slack", timezone="Europe/Oslo",
                         now=OCT20)
        for user_id, name in PEOPLE.items():
            ensure_user(session=s, workspace_id=WS, user_id=user_id, display_name=name,
                        now=OCT20)
    chat = Chat(database, workspace=WS, now=OCT20, admins={"U_BOSS"})

    def ask(text: str, user: str = "U_BOSS") -> str:
        return chat.ask(text, user=user, name=PEOPLE[user]).plain_text()

    for text in ("quota set <@UANA|ana> 31k monthly", "quota set <@UDAN|dan> 10k monthly",
                 "quota set <@UBO|bo> 20 monthly demo-booked"):
        assert "Quota set" in ask(text)
    chat.now = NOV16
    reply = ask("quota set <@UANA|ana> 36,000 from 2026-11-16")
    assert "Ana Berg" in reply and "from 16 Nov 2026" in reply and "UANA" not in reply
    ask("log deal-won acme 16,750 <@UANA|ana> on 2026-11-10")
    chat.now = DEC5
    for text in ("quota set <@UANA|ana> 40k monthly", "quota set <@UDAN|dan> 90k quarterly",
                 "quota set <@UCY|cy> 60k quarterly"):
        assert "from 1 Dec 2026" in ask(text)
    return ask


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if name in line)


def test_last_month_keeps_its_targets_after_edits_today(team):
    november = team("quota last-month")
    assert "$33,500.00" in _row(november, "Ana Berg") and "50%" in _row(november, "Ana Berg")
    assert "$10,000.00" in _row(november, "Dan Olsen")  # not 90,000 / 3
    assert "Cy Chen" not in november  # the quarterly quota set today starts in December
    assert "$40,000.00" not in november and "$16,666.67" not in november
    assert "Target changed during the period" in november and "16 Nov 2026" in november
    assert "$31,000.00" in _row(team("quota 2026-10"), "Ana Berg")
    assert "No quota was in force in September 2026" in team("quota 2026-09")


def test_this_month_and_the_quarter_count_each_part(team):
    december = team("quota this-month")
    assert "$40,000.00" in _row(december, "Ana Berg")
    assert "$30,000.00" in _row(december, "Dan Olsen")
    assert "$20,000.00" in _row(december, "Cy Chen")
    quarter = team("quota this-quarter")
    assert "$104,500.00" in _row(quarter, "Ana Berg")
    assert "$50,000.00" in _row(quarter, "Dan Olsen")
    assert "$20,000.00" in _row(quarter, "Cy Chen")


def test_me_progress_reps_at_quota_and_digest_use_the_target_in_force(team, database):
    digest = compose_digest(database=database, workspace_id=WS, cadence="monthly",
                            timezone="Europe/Oslo", language="en", now=DEC5)
    last_month = {line.rep: line.target for line in digest.quotas[0].rows}
    assert last_month == {"Ana Berg": "$33.5K", "Dan Olsen": "$10K", "Bo Lind": "20"}
    assert "Cy Chen" not in last_month
    assert digest.quotas[0].team == "39% ($16.8K of $43.5K)"
    assert "/$90K)" in team("monthly-progress")  # 40,000 + 30,000 + 20,000
    assert "(0/3)" in team("reps-at-quota last-month")  # ana, dan, bo
    assert "50% ($16.8K/$33.5K)" in team("me last-month", user="UANA")


def test_history_lists_the_changes_with_their_days_and_names(team):
    ana = team("quota history <@UANA|ana>")
    lines = [line for line in ana.splitlines() if "Ana Berg" in line and "$" in line]
    assert len(lines) == 3
    assert "$31,000.00 monthly" in lines[0] and "1 Oct 2026" in lines[0]
    assert "$36,000.00 monthly" in lines[1] and "16 Nov 2026" in lines[1]
    assert "$40,000.00 monthly" in lines[2] and "1 Dec 2026" in lines[2]
    assert all("Sales Boss" in line for line in lines)
    everyone = team("quota history")
    assert "Cy Chen" in everyone and "$60,000.00 quarterly" in everyone
    assert "20 demo-booked monthly" in everyone
    for raw in ("UANA", "UCY", "U_BOSS", "None", "3350000", "True"):
        assert raw not in everyone and raw not in ana
    help_text = team("help quota")
    assert "from DATE" in help_text and "/kpi quota history" in help_text
    assert "[from DATE]" in team("help quota set")


@pytest.mark.parametrize("text, problem", [
    ("quota set <@UANA|ana> 50k from 2026-12-20", "in the future"),
    ("quota set <@UANA|ana> 50k from 2026-02-30", "2026-02-30"),
    ("quota set <@UANA|ana> 50k from someday", "someday"),
    ("quota set <@UANA|ana> 50k from", '"from" needs a day'),
])
def test_bad_start_days_are_refused_and_nothing_is_stored(team, database, text, problem):
    with database.read() as s:
        before = len(list_quotas(session=s, workspace_id=WS))
    reply = team(text)
    assert problem in reply and "Quota set" not in reply
    assert "/kpi quota set @user AMOUNT" in reply
    with database.read() as s:
        assert len(list_quotas(session=s, workspace_id=WS)) == before == 7

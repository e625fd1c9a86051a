"""The leaderboard lists every rep: the ones with zero this period too (issue 16, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.kpis.catalog import leaderboard
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _rows(reply) -> list[tuple[str, str]]:
    (table,) = [section.table for section in reply.sections if section.table]
    return [(row[1], row[2]) for row in table[1:]]


def test_reps_with_zero_are_listed_after_the_others(database):
    chat = Chat(database, workspace="slack:T1", now=NOW)
    chat.ask("log deal-won fjord 5k", user="U_ANA", name="Ana")
    chat.ask("log call 2", user="U_BO", name="Bo")  # a rep, no revenue this month
    chat.ask("quota set <@U_CY> 10k monthly", user="U_BOSS")  # a quota, nothing logged
    chat.ask("funnel", user="U_ED", name="Ed")  # only asks: not a rep
    reply = chat.ask("leaderboard revenue this-month")
    rows = _rows(reply)
    assert rows[0] == ("Ana", "$5K")
    assert sorted(rows[1:]) == [("Bo", "$0.00"), ("U_CY", "$0.00")]
    assert "Ed" not in {name for name, _ in rows}
    calls = _rows(chat.ask("leaderboard activities this-month"))
    assert calls[0][0] == "Bo" and {name for name, _ in calls} == {"Ana", "Bo", "U_CY"}


def test_ratio_boards_list_only_reps_with_a_figure():
    facts = FakeFacts([Ev("deal-won", NOW, "U_ANA", deal="a", amount=100)])
    period = parse_period("this-month", now=NOW, tz="UTC")
    board = leaderboard("win-rate", facts=facts, period=period, now=NOW, team=["U_ANA", "U_BO"])
    assert [row.key for row in board.rows] == ["U_ANA"]
    board = leaderboard("revenue", facts=facts, period=period, now=NOW, team=["U_BO", "U_ANA"])
    assert [(row.key, row.value) for row in board.rows] == [("U_ANA", 100.0), ("U_BO", 0.0)]


def test_a_kpi_breakdown_cut_for_chat_says_how_many_rows_it_left_out(database):
    chat = Chat(database, workspace="slack:T1", now=NOW)
    for i in range(45):
        chat.ask(f"log call {i + 1}", user=f"U_{i:02d}", name=f"Rep {i:02d}")
    reply = chat.ask("activities this-month")
    (table,) = [section.table for section in reply.sections if section.table]
    assert len(table) == 1 + 40 and table[1][0] == "Rep 44"
    assert "5 more rows not shown: `kpibot kpi activities --period this-month --json` " \
           "lists them all" in reply.sections[-1].context
    short = chat.ask("activities this-month", user="U_00")
    assert "not shown" not in str(chat.ask("revenue this-month")) and short.ok

"""A quota's change in a running period compares what was attained in the same days before,
so that it agrees with the attainment shown (against the whole month's target)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.dialog import Chat, verify_dialog

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)  # Dec 1-5 against Nov 1-5


def test_a_running_months_quota_change_is_in_what_was_attained(database):
    chat = Chat(database, workspace="slack:TQC", now=NOW)
    verify_dialog(chat, [
        ("quota set <@U_REP> 8 monthly demo-booked from 2026-11-01", "Quota set"),
        ("log demo-booked alpha <@U_REP> on 2026-11-03", "Logged"),
        ("log demo-booked beta <@U_REP> on 2026-12-02", "Logged"),
        ("log demo-booked gamma <@U_REP> on 2026-12-03", "Logged"),
        ("log demo-booked delta <@U_REP> on 2026-12-04", "Logged"),
    ])
    me = chat.ask("me", user="U_REP").plain_text()
    # 3 of 8 this month; 3 demos in Dec 1-5 against 1 in Nov 1-5: up 200%, not in points of
    # targets cut to five days (232% against 75%: "▲ 157.5 pts", which 38% cannot explain).
    assert "38% (3/8 demo-booked) ▲ 200%" in me, me
    assert "pts" not in me.split("Quota attainment", 1)[1].split("\n", 1)[0]
    assert "Dec 1 – Dec 5, 2026 vs Nov 1 – Nov 5, 2026" in me

    board = chat.ask("leaderboard quota-attainment").plain_text()
    assert "▲ 200%" in board, board

    last = chat.ask("me last-month", user="U_REP").plain_text()  # whole months: points
    assert "12% (1/8 demo-booked)" in last or "13% (1/8 demo-booked)" in last, last

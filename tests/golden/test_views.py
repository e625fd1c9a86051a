"""Comparisons, activity quotas and a second win on the golden scenario, through the running
bot (signed Slack requests) and the digest.
"""

from __future__ import annotations

import argparse
import io
import json
import re

import pytest

from reports.periods import parse_period
from storage.facts import SqlFacts
from storage.models import Workspace
from tests.golden.cases import NOV, OCT
from tests.golden.scenario import (
    FISCAL_YEAR_START,
    NOW,
    SIV,
    TZ,
    USERS,
    WORKSPACE,
    Golden,
    local,
    usd,
)


def _compared(golden: Golden, name: str, period: str, *, user: str | None = None):
    from reports.kpis.catalog import compute_compared

    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        resolved = parse_period(period, now=NOW, tz=TZ, fiscal_year_start=FISCAL_YEAR_START)
        return compute_compared(name, facts=facts, period=resolved, now=NOW, user=user)


def test_a_running_period_is_compared_with_the_same_days_before(golden):
    """SPEC 6: on Sat Nov 21 this-month runs: Nov 1-21 against Oct 1-21 (not all October)."""
    revenue = _compared(golden, "revenue", "this-month")
    spans = revenue.spans
    assert spans.partial
    assert (spans.current.start, spans.current.end) == (local("2026-11-01 00:00"),
                                                        local("2026-11-22 00:00"))
    assert (spans.previous.start, spans.previous.end) == (local("2026-10-01 00:00"),
                                                          local("2026-10-22 00:00"))
    assert spans.describe() == "Nov 1 – Nov 21, 2026 vs Oct 1 – Oct 21, 2026"
    # Nov 1-21: Oscorp 8,000. Oct 1-21: Hooli 18,000 (Oct 4) + Acme 24,000 (Oct 20) = 42,000;
    # not Globex (Oct 23). The whole of October (54,000) would have said -85%, not -81%.
    assert revenue.result.value == usd(8_000) and revenue.previous.value == usd(42_000)
    assert revenue.change.relative == pytest.approx((8_000 - 42_000) / 42_000)
    # leads Nov 1-21: Oscorp, Duff = 2; Oct 1-21: Globex, Vandelay, Soylent, Tyrell, Wayne,
    # Wonka (Oct 19 00:30) = 6, not Stark (Oct 26)
    leads = _compared(golden, "leads", "this-month")
    assert (leads.current.value, leads.previous.value) == (2, 6)
    # the fiscal quarter (2027-Q3 = Oct 1 .. Dec 31) on Nov 21: Oct 1 – Nov 21 (54,000 +
    # 8,000) against Jul 1 – Aug 21 of 2027-Q2 (Umbrella 6,000 on Jul 20)
    quarter = _compared(golden, "revenue", "this-quarter")
    assert quarter.spans.describe() == "Oct 1 – Nov 21, 2026 vs Jul 1 – Aug 21, 2026"
    assert (quarter.current.value, quarter.previous.value) == (usd(62_000), usd(6_000))
    # a whole period against the whole one before: October (54,000) vs September (30,000)
    whole = _compared(golden, "revenue", "last-month")
    assert not whole.spans.partial and whole.result is whole.current
    assert whole.spans.describe() == "October 2026 vs September 2026"
    assert (whole.current.value, whole.previous.value) == (usd(54_000), usd(30_000))


def test_every_view_names_both_spans_of_a_change(bot):
    ask, settings = bot
    both = "Nov 1 – Nov 21, 2026 vs Oct 1 – Oct 21, 2026"
    # 8,000 against 42,000: down 80.95% -> 81%
    reply = ask("revenue this-month")
    assert "▼ 81%" in reply and both in reply
    # ana's /kpi me: deals won 1 (Oscorp) against 2 (Hooli, Acme): -50%. Her quota: shown is
    # November against its whole target, 8,000 / 30,000 = 27%, pace 27% / (20.5 / 30) = 39%.
    # Its change is what she attained in the compared days, 8,000 against 42,000: -81%. (In
    # points of targets cut to those days, 38.1% against 206.7%, it read "▼ 168.6 pts" next to
    # a 27% that cannot explain it.)
    me = ask("me this-month")
    assert f"changes: {both}" in me
    assert "Deals won: 1 ▼ 50%" in me
    assert "27% ($8K/$30K) ▼ 81%" in me and "39%" in me
    board = ask("leaderboard revenue this-month")
    assert f"change: {both}" in board and "▼ 81%" in board  # ana: 8,000 vs 42,000
    churn = ask("churn this-month")
    assert both in churn
    from bot.cli import kpi as kpi_cli

    args = argparse.Namespace(name="revenue", period="this-month", workspace=WORKSPACE,
                              user=None, json=True)
    out = io.StringIO()
    assert kpi_cli.run(args, settings, out=out, now=NOW) == 0
    comparison = json.loads(out.getvalue())["comparison"]
    assert comparison["current"]["label"] == "2026-11-01..2026-11-21"
    assert comparison["previous"]["label"] == "2026-10-01..2026-10-21"
    assert comparison["describe"] == both and comparison["partial"] is True
    assert (comparison["current_value"], comparison["previous_value"]) == (usd(8_000),
                                                                         usd(42_000))
    out = io.StringIO()
    assert kpi_cli.run(argparse.Namespace(**{**vars(args), "json": False}), settings,
                       out=out, now=NOW) == 0
    assert f"▼ 81% ({both})" in out.getvalue()


def test_an_activity_quota_counts_in_me(bot):
    """siv's quota is 3 demo-booked a month: October #42, #52, #75 = 3 of 3; September #15 =
    1 of 3; so 100% (3/3 demo-booked), up 66.7 points, never `n/a ($0.00/$0.00)`."""
    ask, _settings = bot
    me = ask("me last-month", user=SIV)
    assert "Quota attainment (demo-booked)" in me
    assert "100% (3/3 demo-booked) ▲ 66.7 pts" in me
    assert "changes: October 2026 vs September 2026" in me
    assert "Quota attainment: n/a" not in me and "$0.00/$0.00" not in me
    # the leaderboard: one line per quota, each in its metric; ana 42,000 of 30,000 (Sep:
    # Initech 30,000 of 30,000), siv 3 of 3 demos (Sep: 1 of 3), bo 12,000 of 15,000 (Sep: 0)
    board = ask("leaderboard quota-attainment last-month")
    assert "(demo-booked)  100% (3/3 demo-booked)  ▲ 66.7 pts" in board
    assert "140% ($42K/$30K)        ▲ 40 pts" in board and "80% ($12K/$15K)" in board


def test_a_second_win_says_what_changed_and_undo_restores_the_first(bot, golden):
    ask, _settings = bot
    # Acme was won on Oct 20 for 24,000. A second win (logged Nov 21) restates the amount:
    # the win stays in October (its revenue 54,000 - 24,000 + 30,000 = 60,000), counted once
    # (3 deals won), and November keeps 8,000.
    reply = ask("log won acme 30k")
    assert ("acme was already won for $24,000.00 on Oct 20, 2026; now $30,000.00. "
            "/kpi undo") in reply and "restores $24,000.00" in reply
    assert golden.result("revenue", OCT).value == usd(60_000)
    assert golden.result("deals-won", OCT).value == 3
    assert golden.result("revenue", NOV).value == usd(8_000)
    undone = ask("undo")
    assert "Acme is won for $24,000.00 (on Oct 20, 2026)" in undone
    assert golden.result("revenue", OCT).value == usd(54_000)
    # A new deal won twice today: 12,000 then 15,000 -> one win of 15,000; undo -> 12,000
    first = ask("log won initrode 12k")
    assert "already won" not in first
    second = ask("log won initrode 15k")
    assert "initrode was already won for $12,000.00 on Nov 21, 2026; now $15,000.00." in second
    assert golden.result("revenue", NOV).value == usd(8_000 + 15_000)
    assert golden.result("deals-won", NOV).value == 2
    assert "initrode is won for $12,000.00" in ask("undo")
    assert golden.result("revenue", NOV).value == usd(8_000 + 12_000)
    assert golden.result("deals-won", NOV).value == 2


def test_the_funnel_reads_the_same_in_every_view(bot, golden):
    """October's conversions (FUNNEL above: 5/7, 4/6, 3/4, 3/4, 2/3) in the Slack reply, the
    CLI text and JSON, and the monthly digest; none above 100%."""
    from bot.cli import kpi as kpi_cli
    from reports.digest.build import build_digest
    from reports.digest.render import render_text

    ask, settings = bot
    expected = ["71% (5/7)", "67% (4/6)", "75% (3/4)", "75% (3/4)", "67% (2/3)"]
    reply = ask("funnel 2026-10")
    for stage, deals, conversion in zip(("mql", "sql", "opportunity", "demo", "won"),
                                        (6, 4, 4, 3, 3), expected, strict=True):
        assert re.search(rf"{stage} +{deals} +{re.escape(conversion)}", reply), stage
    args = argparse.Namespace(name="funnel", period="2026-10", workspace=WORKSPACE, user=None,
                              json=False)
    out = io.StringIO()
    assert kpi_cli.run(args, settings, out=out, now=NOW) == 0
    text = out.getvalue()
    assert all(conversion in text for conversion in expected)
    assert "revenue: $54K" in text and "True" not in text and "False" not in text
    out = io.StringIO()
    assert kpi_cli.run(argparse.Namespace(**{**vars(args), "json": True}), settings, out=out,
                       now=NOW) == 0
    rows = json.loads(out.getvalue())["rows"]
    assert [(r["numerator"], r["denominator"]) for r in rows[1:]] == [
        (5, 7), (4, 6), (3, 4), (3, 4), (2, 3)]
    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        digest = build_digest(facts=facts, cadence="monthly", now=NOW, tz=TZ,
                              fiscal_year_start=FISCAL_YEAR_START)
    assert [stage.conversion for stage in digest.funnel[1:]] == expected
    assert all(conversion in render_text(digest) for conversion in expected)


def test_an_activity_quota_counts_in_the_digest(golden):
    """The monthly digest due on Nov 21 (October): siv's 3 of 3 demo-booked is a quota line in
    counts, at quota, and one of the 2 reps of 3 at quota (ana 140%, bo 80%)."""
    from reports.digest.build import build_digest
    from reports.digest.render import render_text

    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        digest = build_digest(facts=facts, cadence="monthly", now=NOW, tz=TZ,
                              fiscal_year_start=FISCAL_YEAR_START,
                              names={user_id: name for user_id, name in USERS.values()})
    october = digest.quotas[0]
    lines = {(line.rep, line.metric): line for line in october.rows}
    siv = lines[("Siv (SDR)", "demo-booked")]
    assert (siv.attained, siv.target, siv.attainment, siv.at_quota) == ("3", "3", "100%", True)
    assert lines[("Ana (AE)", "revenue")].attained == "$42K"
    assert october.reps_at_quota.startswith("2")
    assert "Siv (SDR) (demo-booked)" in render_text(digest)

"""`/kpi funnel`, `/kpi quota` (set, history), `/kpi churn`, `/kpi me`, `/kpi KPI`: every form,
and the error for each mistake."""

from __future__ import annotations

from datetime import date

import pytest

from bot.grammar import (
    COMMAND_USAGE,
    ChurnCommand,
    FunnelCommand,
    KpiCommand,
    LeaderboardCommand,
    MeCommand,
    QuotaCommand,
    QuotaHistoryCommand,
    QuotaSetCommand,
)
from tests.bot.grammar.common import TODAY, U1, fails, parse

# ----------------------------------------------------------------------------- funnel


@pytest.mark.parametrize("text, command", [
    ("funnel", FunnelCommand()),
    ("funnel this-month", FunnelCommand("this-month")),
    (f"funnel {U1} cohort last-quarter", FunnelCommand("last-quarter", "U0123ABC", True)),
    ("funnel COHORT public", FunnelCommand(cohort=True, public=True)),
    ("funnel 2026-Q3 <@U1|al>!", FunnelCommand("2026-Q3", "U1", public=True)),
])
def test_funnel(text, command):
    assert parse(text) == command


def test_funnel_errors():
    fails("funnel cohrt", "cohrt", 'did you mean "cohort"')
    fails("funnel cohort cohort", "cohort", "twice")
    fails(f"funnel {U1} <@U2>", "<@U2>", "second person")
    fails("funnel @bob", "@bob", "autocomplete")


# ----------------------------------------------------------------------------- quota


def test_quota():
    assert parse("quota") == QuotaCommand()
    assert parse(f"quota this-quarter {U1}") == QuotaCommand("this-quarter", "U0123ABC")
    assert parse("quota!") == QuotaCommand(public=True)


@pytest.mark.parametrize("text, command", [
    (f"quota set {U1} 50k", QuotaSetCommand("U0123ABC", 5_000_000)),
    (f"quota set {U1} $50,000 quarterly",
     QuotaSetCommand("U0123ABC", 5_000_000, "quarterly")),
    (f"quota set {U1} 50000 USD monthly revenue",
     QuotaSetCommand("U0123ABC", 5_000_000, "monthly", "revenue")),
    (f"quota set {U1} 20 monthly demo-booked",
     QuotaSetCommand("U0123ABC", 20, "monthly", "demo-booked")),
    (f"quota set {U1} 20 demo", QuotaSetCommand("U0123ABC", 20, "monthly", "demo-booked")),
    (f"QUOTA SET quarterly calls 1,500 {U1}!",
     QuotaSetCommand("U0123ABC", 1500, "quarterly", "call", public=True)),
])
def test_quota_set(text, command):
    assert parse(text) == command


@pytest.mark.parametrize("text, fragments", [
    ("quota set 50k", ["whose quota"]),
    ("quota set @alice 50k", ['"@alice"', "autocomplete"]),
    (f"quota set {U1}", ["needs the target"]),
    (f"quota set {U1} monthly", ["needs the target"]),
    (f"quota set {U1} 50k EUR", ['"EUR"', "must be in USD"]),
    (f"quota set {U1} 0", ['"0"', "above zero"]),
    (f"quota set {U1} -5k", ['"-5k"', "negative"]),
    (f"quota set {U1} 20k demo-booked", ['"20k"', "count"]),
    (f"quota set {U1} 0 demo-booked", ['"0"', "count"]),
    (f"quota set {U1} 20 weekly", ['"weekly"', "monthly or quarterly"]),
    (f"quota set {U1} 20 demo-boked", ['"demo-boked"', 'did you mean "demo-booked"']),
    (f"quota set {U1} 5k 6k", ['"6k"', "second amount"]),
    (f"quota set {U1} 5k monthly quarterly", ['"quarterly"', "second cadence"]),
    (f"quota set {U1} <@U2> 5k", ["<@U2>", "second person"]),
    (f"quota set {U1} 5 demo call", ['"call"', "second metric"]),
])
def test_quota_set_errors(text, fragments):
    error = fails(text, *fragments)
    assert error.usage == COMMAND_USAGE["quota set"][0]


@pytest.mark.parametrize("text, start", [
    (f"quota set {U1} 40k from 2026-09-16", date(2026, 9, 16)),
    (f"quota set from 2026-10-01 {U1} 40k quarterly", date(2026, 10, 1)),
    (f"quota set {U1} 40k from today", TODAY),
    (f"quota set {U1} 40k from yesterday", date(2026, 10, 13)),
])
def test_quota_set_from_a_day(text, start):
    assert parse(text).effective_from == start


@pytest.mark.parametrize("text, fragments", [
    (f"quota set {U1} 40k from 2026-10-15", ["2026-10-15 is in the future", "start of the month"]),
    (f"quota set {U1} 40k from 2026-13-01", ['"2026-13-01"']),
    (f"quota set {U1} 40k from 1st-octobre", ['"1st-octobre"']),
    (f"quota set {U1} 40k from", ['"from" needs a day']),
    (f"quota set {U1} 40k from today from yesterday", ['"from" is a second start day']),
])
def test_quota_set_from_errors(text, fragments):
    error = fails(text, *fragments)
    assert error.usage == COMMAND_USAGE["quota set"][0]


def test_quota_history():
    assert parse("quota history") == QuotaHistoryCommand()
    assert parse(f"quota history {U1} public") == QuotaHistoryCommand("U0123ABC", public=True)
    error = fails("quota history last-month", '"last-month" is not a person')
    assert error.usage == COMMAND_USAGE["quota history"][0]
    fails(f"quota history {U1} <@U2>", "<@U2>", "second person")


# ----------------------------------------------------------------------------- churn, me, kpi


def test_churn():
    assert parse("churn") == ChurnCommand()
    assert parse("churn last-quarter!") == ChurnCommand("last-quarter", public=True)
    fails(f"churn {U1}", U1, "doesn't take a person")


def test_me():
    assert parse("me") == MeCommand()
    assert parse("me this-week public") == MeCommand("this-week", public=True)
    fails(f"me {U1}", U1, "doesn't take a person")


@pytest.mark.parametrize("text, command", [
    ("win-rate", KpiCommand("win-rate")),
    (f"Win-Rate this-month {U1}", KpiCommand("win-rate", "this-month", "U0123ABC")),
    ("show win-rate", KpiCommand("win-rate")),
    ("show pipeline last-quarter!", KpiCommand("pipeline", "last-quarter", public=True)),
    ("demo-rate", KpiCommand("Demo-Rate")),
    ("churn-rate 2026", KpiCommand("churn-rate", "2026")),
])
def test_kpi(text, command):
    assert parse(text) == command


def test_show_unknown_kpi():
    error = fails("show wins", '"wins" is not a KPI', 'did you mean "win-rate"', "/kpi list")
    assert error.usage == COMMAND_USAGE["show"][0]


def test_show_without_name():
    fails("show", "which kpi")


def test_kpi_bad_period():
    fails("win-rate someday", "someday")


def test_leaderboard():
    assert parse("leaderboard") == LeaderboardCommand()
    assert parse("leaderboard revenue this-month") == LeaderboardCommand("revenue", "this-month")
    assert parse("leaderboard this-month REVENUE") == LeaderboardCommand("revenue", "this-month")
    assert parse("leaderboard ytd!") == LeaderboardCommand(None, "ytd", public=True)


def test_leaderboard_errors():
    fails("leaderboard revenu", "revenu", 'did you mean "revenue"')
    fails("leaderboard revenue pipeline", '"pipeline"', "second KPI")
    fails(f"leaderboard {U1}", U1, "doesn't take a person")

"""The /kpi grammar's shared rules (SPEC section 4): tokens, quotes, `public`, people, periods,
help and list, unknown words, and the module's shape."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from bot import grammar
from bot.grammar import (
    COMMAND_USAGE,
    ChurnCommand,
    DigestCommand,
    DigestHereCommand,
    FunnelCommand,
    HelpCommand,
    KpiCommand,
    LeaderboardCommand,
    ListCommand,
    LogCommand,
    MeCommand,
    QuotaCommand,
    QuotaSetCommand,
    UndoCommand,
)
from reports.events import KINDS
from tests.bot.grammar.common import U1, fails, log, parse

# ----------------------------------------------------------------------------- shared rules


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_help(text):
    assert parse(text) == HelpCommand(None)


@pytest.mark.parametrize("text", ["public", "!", " PUBLIC ", "public!"])
def test_only_public_is_public_help(text):
    assert parse(text) == HelpCommand(None, public=True)


@pytest.mark.parametrize("text", [
    "log call 3 public", "log call 3!", "log call 3 !", "log call 3 PUBLIC", "log call 3 public!",
    "  log call 3!!  ", "LOG CALL 3 Public",
])
def test_trailing_public_or_bang(text):
    assert parse(text) == log("call", count=3, public=True)


def test_public_only_counts_at_the_end():
    assert parse("log demo acme public talk") == log(
        "demo-booked", deal="acme", deal_key="acme", note="public talk")


def test_quoted_public_is_a_word():
    assert parse('log demo acme "public"') == log(
        "demo-booked", deal="acme", deal_key="acme", note="public")


def test_bang_after_a_quoted_name():
    assert parse('log demo "Acme Corp"!') == log(
        "demo-booked", deal="Acme Corp", deal_key="acme corp", public=True)


def test_keywords_are_case_insensitive():
    assert parse("LOG Deal-Won ACME 12K MRR=1k") == log(
        "deal-won", deal="ACME", deal_key="acme", amount_minor=1_200_000, currency="USD",
        mrr_minor=100_000)


def test_smart_quotes_are_quotes():
    assert parse("log demo “Acme Corp” ‘went well’") == log(
        "demo-booked", deal="Acme Corp", deal_key="acme corp", note="went well")


def test_single_quotes():
    assert parse("log demo 'Acme Corp'") == log(
        "demo-booked", deal="Acme Corp", deal_key="acme corp")
    assert parse("log demo 'Acme's shop' ok") == log(
        "demo-booked", deal="Acme's shop", deal_key="acme's shop", note="ok")


def test_apostrophes_inside_words_are_letters():
    assert parse("log call O'Brien didn’t pick up") == log(
        "call", deal="O'Brien", deal_key="o'brien", note="didn't pick up")


def test_quote_inside_a_word_is_a_letter():
    assert parse('log demo ab"c') == log("demo-booked", deal='ab"c', deal_key='ab"c')


@pytest.mark.parametrize("text, token", [
    ('log demo "Acme Corp', "Acme Corp"),
    ("log demo 'Acme Corp", "Acme Corp"),
    ('log demo acme note="went well', "went well"),
    ("log demo “Acme", "Acme"),
    ('log demo "', '"'),
])
def test_unbalanced_quote(text, token):
    fails(text, token, "never closed")


def test_empty_quotes_are_an_empty_deal():
    fails('log demo ""', "deal name is empty")


def test_control_characters_are_spaces():
    assert parse("log\tcall\x003\r\n") == log("call", count=3)


def test_zero_width_marks_are_ignored():
    assert parse("log call\u200b 3\ufeff") == log("call", count=3)


def test_non_breaking_space_separates():
    assert parse("log\u00a0call\u00a03") == log("call", count=3)


def test_slack_link_is_its_label():
    assert parse("log demo <http://acme.com|acme.com>") == log(
        "demo-booked", deal="acme.com", deal_key="acme.com")
    assert parse("log demo <https://acme.com>") == log(
        "demo-booked", deal="https://acme.com", deal_key="https://acme.com")


def test_slack_entities_are_decoded():
    assert parse("log demo a&amp;b note=&lt;3") == log(
        "demo-booked", deal="a&b", deal_key="a&b", note="<3")


def test_too_long_text():
    fails("log call " + "x" * 4000, "characters long")


def test_usage_error_attributes():
    error = fails("log wonn")
    assert error.problem == '"wonn" is not an event. Did you mean "won"?'
    assert error.usage == COMMAND_USAGE["log"][0]
    assert error.example == "/kpi log demo-booked acme"
    assert isinstance(error, Exception)


# ----------------------------------------------------------------------------- help, list


@pytest.mark.parametrize("text, topic", [
    ("help", None), ("help log", "log"), ("HELP Win-Rate", "Win-Rate"),
    ("help quota set", "quota set"), ("help   events ", "events"),
])
def test_help(text, topic):
    assert parse(text) == HelpCommand(topic)


def test_help_public():
    assert parse("help log!") == HelpCommand("log", public=True)


def test_list():
    assert parse("list") == ListCommand()
    assert parse("LIST public") == ListCommand(public=True)


def test_list_takes_nothing():
    fails("list kpis", '"kpis"')


# ----------------------------------------------------------------------------- periods


PERIODS = ["today", "yesterday", "this-week", "last-week", "this-month", "last-month",
           "this-quarter", "last-quarter", "this-year", "last-year", "mtd", "qtd", "ytd", "7d",
           "30d", "90d", "2026-10", "2026-Q3", "2026-W42", "2026", "2026-10-01..2026-10-31"]


@pytest.mark.parametrize("period", PERIODS)
def test_every_period_form(period):
    assert parse(f"me {period}") == MeCommand(period)


def test_period_words_may_be_spaced():
    assert parse("me last week") == MeCommand("last-week")
    assert parse("funnel this quarter") == FunnelCommand("this-quarter")


@pytest.mark.parametrize("token", ["lastweek", "2026-13", "someday", "2026-Q5"])
def test_bad_period(token):
    fails(f"me {token}", token)


def test_bad_period_with_suggestion():
    fails("me last-wek", "last-wek", 'did you mean "last-week"')


def test_period_error_keeps_the_periods_message():
    fails("me 2026-W54", '"2026-W54" is not a week')


def test_leaderboard_suggests_a_kpi():
    error = fails("leaderboard wins")
    assert error.problem == '"wins" is not a KPI or period. Did you mean "win-rate"?'


def test_two_periods():
    fails("me this-week last-week", '"last-week"', "second period")


# ----------------------------------------------------------------------------- anything else


def test_unknown_command():
    error = fails("foo", kpi_names=())
    assert error.problem == '"foo" is not a command. Try /kpi help.'
    assert error.usage == COMMAND_USAGE["help"][0]


def test_unknown_command_with_suggestion():
    fails("fnnel", '"fnnel" is not a command', 'did you mean "funnel"')
    fails("wins", '"wins" is not a command or KPI', 'did you mean "win-rate"', "/kpi list")


def test_kpi_names_are_needed_for_kpis():
    fails("win-rate", '"win-rate" is not a command', kpi_names=())


def test_event_without_log():
    error = fails("demo acme", '"demo" is not a command', "/kpi log demo-booked")
    assert error.example == f"/kpi log {KINDS['demo-booked'].example}"


def test_command_words_win_over_kpi_names():
    assert parse("churn", kpi_names=("churn",)) == ChurnCommand()


def test_first_word_mention():
    fails(U1, U1, "not a command")


# ----------------------------------------------------------------------------- the module


def test_command_usage_examples_parse():
    for word, (usage, example) in COMMAND_USAGE.items():
        assert usage.startswith(f"/kpi {word.split()[0]}") or word == "show", usage
        assert example.startswith("/kpi ")
        command = parse(example.removeprefix("/kpi ").replace("@alice", "<@U0ALICE|alice>"))
        assert command is not None


def test_dataclasses_are_frozen():
    for cls in typing.get_args(grammar.Command):
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, cls
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse("log call 3").count = 4  # type: ignore[misc]


def test_command_union_covers_every_result():
    kinds = set(typing.get_args(grammar.Command))
    assert {HelpCommand, ListCommand, LogCommand, UndoCommand, FunnelCommand, QuotaCommand,
            QuotaSetCommand, ChurnCommand, KpiCommand, LeaderboardCommand, MeCommand,
            DigestHereCommand, DigestCommand, grammar.PingCommand, grammar.RepListCommand,
            grammar.RepLinkCommand, grammar.QuotaHistoryCommand} == kinds


def test_parse_is_pure():
    text = 'log won "Acme" 12k <@U1> on yesterday note!'
    assert parse(text) == parse(text)

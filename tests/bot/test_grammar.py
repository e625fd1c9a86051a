"""The /kpi command grammar: every form of SPEC section 4, and the error for each mistake."""

from __future__ import annotations

import dataclasses
import typing
from datetime import date, time

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
    QuotaHistoryCommand,
    QuotaSetCommand,
    UndoCommand,
    UsageError,
    parse_command,
)
from reports.events import ALIASES, KINDS, resolve_kind

TODAY = date(2026, 10, 14)  # a Wednesday
KPIS = ("win-rate", "revenue", "pipeline", "churn-rate", "Demo-Rate")
U1 = "<@U0123ABC>"


def parse(text: str, **kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("currency", "USD")
    kw.setdefault("kpi_names", KPIS)
    return parse_command(text, **kw)


def fails(text: str, *fragments: str, **kw) -> UsageError:
    """The UsageError for `text`; its problem contains every fragment, case-insensitively."""
    with pytest.raises(UsageError) as caught:
        parse(text, **kw)
    error = caught.value
    for fragment in fragments:
        assert fragment.lower() in error.problem.lower(), (fragment, error.problem)
    assert str(error) == error.problem
    assert error.usage.startswith("/kpi"), error.usage
    assert error.example.startswith("/kpi"), error.example
    return error


def log(kind: str, **fields) -> LogCommand:
    return LogCommand(kind=kind, **fields)


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


# ----------------------------------------------------------------------------- log: events


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_example_parses(name):
    kind = KINDS[name]
    command = parse(f"log {kind.example}")
    assert isinstance(command, LogCommand)
    assert command.kind == name


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias(alias):
    kind = KINDS[ALIASES[alias]]
    extra = " 5k" if kind.amount != "none" else " 4m" if kind.duration else ""
    command = parse(f"log {alias} acme{extra}")
    assert command.kind == ALIASES[alias]


def test_underscore_spelling_of_a_kind():
    assert parse("log demo_booked acme").kind == "demo-booked"


def test_missing_event():
    fails("log", "which event")
    fails("log!", "which event")


def test_unknown_event_with_suggestion():
    fails("log wonn", '"wonn" is not an event', 'Did you mean "won"?')
    fails("log demo-boked acme", '"demo-boked"', 'did you mean "demo-booked"')


def test_unknown_event_without_suggestion():
    fails("log xyzzy acme", '"xyzzy" is not an event', "/kpi help events")


def test_mention_is_not_an_event():
    fails(f"log {U1} call", "is not an event")


# ----------------------------------------------------------------------------- log: counts


@pytest.mark.parametrize("text, count", [
    ("log call", 1), ("log call 12", 12), ("log call 3x", 3), ("log call 3X", 3),
    ("log call 3 x", 3), ("log call 3×", 3), ("log call 1,200", 1200),
    ("log website-visit 1200", 1200), ("log email-sent 100000", 100_000),
])
def test_counts(text, count):
    assert parse(text) == log(resolve_kind(text.split()[1]).name, count=count)


def test_count_and_amount_together():
    assert parse("log proposal acme 2x 20k") == log(
        "proposal", deal="acme", deal_key="acme", count=2, amount_minor=2_000_000,
        currency="USD")
    assert parse("log proposal acme 20k 2 x") == log(
        "proposal", deal="acme", deal_key="acme", count=2, amount_minor=2_000_000,
        currency="USD")


@pytest.mark.parametrize("text, token", [
    ("log call 0 x", "0 x"), ("log call 0x", "0x"), ("log call -3", "-3"), ("log call 0", "0"),
    ("log call 100001", "100001"), ("log call -3x", "-3x"), ("log demo acme 0x", "0x"),
    ("log call 99999999999999999999", "99999999999999999999"),
])
def test_count_out_of_range(text, token):
    fails(text, f'"{token}"', "1 to 100,000")


def test_two_counts():
    fails("log call 3x 4", '"4"', "second count")
    fails("log call 3 4x", '"4x"', "second count")


# ----------------------------------------------------------------------------- log: amounts


@pytest.mark.parametrize("amount, minor", [
    ("12000", 1_200_000), ("12,000", 1_200_000), ("12k", 1_200_000), ("12K", 1_200_000),
    ("$12k", 1_200_000), ("$1.5m", 150_000_000), ("1.5m", 150_000_000),
    ("12000 USD", 1_200_000), ("12000 usd", 1_200_000), ("12000USD", 1_200_000),
    ("12.50", 1250),
])
def test_amounts(amount, minor):
    assert parse(f"log deal-won acme {amount}") == log(
        "deal-won", deal="acme", deal_key="acme", amount_minor=minor, currency="USD")


def test_amount_in_another_workspace_currency():
    assert parse("log deal-won acme €5k", currency="EUR") == log(
        "deal-won", deal="acme", deal_key="acme", amount_minor=500_000, currency="EUR")


@pytest.mark.parametrize("text, code", [
    ("log deal-won acme 12000 EUR", "EUR"), ("log deal-won acme €5k", "EUR"),
    ("log deal-won acme 12000EUR", "EUR"), ("log spend 5k GBP", "GBP"),
    ("log opportunity acme 20k eur", "EUR"),
])
def test_foreign_currency(text, code):
    error = fails(text)
    assert error.problem == (f'Amounts must be in USD, this workspace\'s currency; "{code}" '
                             "was given.")


def test_optional_amount():
    assert parse("log opportunity acme") == log("opportunity", deal="acme", deal_key="acme")
    assert parse("log opportunity acme 20k") == log(
        "opportunity", deal="acme", deal_key="acme", amount_minor=2_000_000, currency="USD")


def test_required_amount_missing():
    error = fails("log deal-won acme", "deal-won needs an amount")
    assert error.example == f"/kpi log {KINDS['deal-won'].example}"
    fails("log spend source=ppc", "spend needs an amount")


def test_signed_amount():
    assert parse("log mrr-change acme -200") == log(
        "mrr-change", deal="acme", deal_key="acme", amount_minor=-20_000, currency="USD")
    assert parse("log mrr-change acme 1.5k") == log(
        "mrr-change", deal="acme", deal_key="acme", amount_minor=150_000, currency="USD")


def test_negative_amount_only_for_mrr_change():
    fails("log deal-won acme -200", '"-200"', "negative", "mrr-change")


@pytest.mark.parametrize("text, token", [
    ("log call $5k", "$5k"), ("log call 5k", "5k"), ("log demo acme 1.5", "1.5"),
    ("log email-sent 3m", "3m"),
])
def test_amount_for_a_kind_without_one(text, token):
    kind = resolve_kind(text.split()[1]).name
    fails(text, f"{kind} doesn't take an amount", f'"{token}"')


@pytest.mark.parametrize("text, note", [
    ("log proposal acme 20k top priority", "top priority"),  # TOP and ALL are currency codes
    ("log deal-won acme 12k all good", "all good"),
    ("log deal-won acme 12k 2nd deal this year", "2nd deal this year"),
])
def test_words_after_the_amount_stay_words(text, note):
    command = parse(text)
    assert (command.deal, command.note) == ("acme", note)
    assert command.currency == "USD"


def test_unreadable_number_words_in_a_note():
    assert parse("log call 12 tried the 2nd number") == log(
        "call", count=12, note="tried the 2nd number")
    assert parse("log demo acme at 2pm") == log(
        "demo-booked", deal="acme", deal_key="acme", note="at 2pm")


def test_upper_case_code_after_an_amount_is_its_currency():
    fails("log deal-won acme 12k TOP", '"TOP"', "must be in USD")


def test_two_currencies():
    fails("log deal-won acme $12k EUR", "$12kEUR", "two currencies")


@pytest.mark.parametrize("token", ["12kk", "1.2.3", "12,00"])
def test_unreadable_amount(token):
    fails(f"log deal-won acme {token}", f'"{token}"')


def test_two_amounts():
    fails("log deal-won acme 12k 13k", '"13k"', "second amount")


@pytest.mark.parametrize("token", ["999999999999999999", "9" * 50])
def test_huge_amount(token):
    fails(f"log deal-won acme {token}", f'"{token[:20]}', "too large")


# ----------------------------------------------------------------------------- log: durations


@pytest.mark.parametrize("duration, seconds", [("4m", 240), ("45s", 45), ("1h30m", 5400)])
def test_duration(duration, seconds):
    assert parse(f"log inbound-responded acme {duration}") == log(
        "inbound-responded", deal="acme", deal_key="acme", duration_seconds=seconds)


def test_duration_missing():
    error = fails("log inbound-responded acme", "inbound-responded needs the response time")
    assert error.example == "/kpi log inbound-responded acme 4m"


def test_duration_without_unit():
    fails("log inbound-responded acme 4", '"4"', "no unit")


def test_two_durations():
    fails("log responded acme 4m 5m", '"5m"', "second response time")


# ----------------------------------------------------------------------------- log: options


def test_source_keeps_raw_and_group():
    assert parse('log lead acme source="Google Ads"') == log(
        "lead", deal="acme", deal_key="acme", source="paid-search", source_raw="Google Ads")
    assert parse("log lead acme source=podcast") == log(
        "lead", deal="acme", deal_key="acme", source="other", source_raw="podcast")
    assert parse("log spend 5k source=ppc").source == "paid-search"


@pytest.mark.parametrize("kind", ["lead acme", "spend 1k", "mql acme", "sql acme",
                                  "opportunity acme", "inbound-request acme",
                                  "website-visit 10"])
def test_source_allowed_kinds(kind):
    assert parse(f"log {kind} source=seo").source == "organic"


def test_deal_lost_options():
    assert parse('log lost acme reason=price competitor="Rival Inc"') == log(
        "deal-lost", deal="acme", deal_key="acme", reason="price", competitor="Rival Inc")


def test_churned_options():
    assert parse("log churned acme mrr=1k reason=budget") == log(
        "churned", deal="acme", deal_key="acme", mrr_minor=100_000, reason="budget")


def test_mrr_on_deal_won():
    assert parse("log won acme 12k mrr=1,000").mrr_minor == 100_000
    assert parse('log won acme 12k mrr="1000 USD"').mrr_minor == 100_000


def test_account_option():
    assert parse('log demo acme account="Acme Group"') == log(
        "demo-booked", deal="acme", deal_key="acme", account="Acme Group")


def test_option_value_whitespace_is_collapsed():
    assert parse('log lost acme reason="  too   expensive "').reason == "too expensive"


@pytest.mark.parametrize("text, option, allowed", [
    ("log call reason=busy", "reason=", "deal-lost"),
    ("log churned acme competitor=rival", "competitor=", "deal-lost"),
    ("log lead acme mrr=1k", "mrr=", "deal-won"),
    ("log call source=ppc", "source=", "lead"),
    ("log deal-won acme 1k reason=price", "reason=", "churned"),
])
def test_option_not_for_this_kind(text, option, allowed):
    kind = resolve_kind(text.split()[1]).name
    fails(text, f"{kind} doesn't take {option}", allowed)


def test_unknown_option():
    error = fails("log demo acme sorce=ppc", '"sorce="', 'did you mean "source"')
    assert "competitor=" in error.problem  # lists the valid ones
    fails("log demo acme foo=bar", '"foo="', "source=, reason=")


def test_duplicated_option():
    fails("log lead acme source=ppc source=seo", '"source="', "twice")


def test_empty_option_value():
    fails("log lead acme source=", "source= value is empty")
    fails('log lead acme source=""', "source= value is empty")


@pytest.mark.parametrize("text, token", [
    ("log won acme 1k mrr=lots", "mrr=lots"), ("log won acme 1k mrr=", "mrr="),
])
def test_mrr_must_be_an_amount(text, token):
    fails(text, f'"{token}"', "needs an amount")


def test_mrr_currency_and_sign():
    fails("log won acme 1k mrr=1000EUR", '"EUR"', "must be in USD")
    fails("log won acme 1k mrr=-5", '"-5"', "negative")


@pytest.mark.parametrize("option, limit", [
    ("reason", 120), ("competitor", 120), ("account", 120), ("source", 120),
])
def test_option_length_limits(option, limit):
    kind = {"reason": "lost acme", "competitor": "lost acme", "account": "demo acme",
            "source": "lead acme"}[option]
    assert getattr(parse(f"log {kind} {option}={'r' * limit}"), option if option != "source"
                   else "source_raw") == "r" * limit
    fails(f"log {kind} {option}={'r' * (limit + 1)}", f"{option}=", f"limit is {limit}")


# ----------------------------------------------------------------------------- log: deal, note


def test_deal_then_note():
    assert parse("log demo acme great call, they want a trial") == log(
        "demo-booked", deal="acme", deal_key="acme", note="great call, they want a trial")


def test_quoted_deal():
    assert parse('log demo "Acme   Corp " went well') == log(
        "demo-booked", deal="Acme Corp", deal_key="acme corp", note="went well")


def test_deal_key_is_casefolded():
    command = parse("log demo STRAßE")
    assert (command.deal, command.deal_key) == ("STRAßE", "strasse")


def test_count_first_makes_free_words_a_note():
    assert parse("log call 12 left voicemails") == log(
        "call", count=12, note="left voicemails")


def test_deal_before_count():
    assert parse("log call acme 3 follow up") == log(
        "call", deal="acme", deal_key="acme", count=3, note="follow up")


def test_kind_needing_a_deal_takes_it_after_a_count():
    assert parse("log lead 2x acme") == log("lead", deal="acme", deal_key="acme", count=2)


def test_deal_after_the_amount():
    assert parse("log deal-won 12k acme") == log(
        "deal-won", deal="acme", deal_key="acme", amount_minor=1_200_000, currency="USD")
    assert parse("log proposal 20k acme") == log(
        "proposal", deal="acme", deal_key="acme", amount_minor=2_000_000, currency="USD")


def test_deal_option_makes_free_words_the_note():
    assert parse('log demo deal="Acme Corp" went well') == log(
        "demo-booked", deal="Acme Corp", deal_key="acme corp", note="went well")


def test_note_option():
    assert parse('log demo acme note="on site, 3 people"') == log(
        "demo-booked", deal="acme", deal_key="acme", note="on site, 3 people")


def test_note_option_and_free_words():
    fails('log demo acme note="x" extra words', '"extra words"', "note is given twice")


def test_a_quoted_name_with_keywords_inside():
    assert parse('log demo "on x 12 public"') == log(
        "demo-booked", deal="on x 12 public", deal_key="on x 12 public")


def test_needs_deal():
    error = fails("log deal-won 12k")
    assert error.problem == ("deal-won needs a deal or account name, e.g. "
                             f"/kpi log {KINDS['deal-won'].example}")
    assert error.example == f"/kpi log {KINDS['deal-won'].example}"
    fails("log lead source=ppc", "lead needs a deal")
    fails("log mrr-change -200", "mrr-change needs a deal")


def test_deal_length_limit():
    assert parse(f"log demo {'a' * 120}").deal == "a" * 120
    fails(f"log demo {'a' * 121}", "deal name", "limit is 120")
    fails(f"log demo {'ß' * 61}", "deal name", "limit is 120")  # casefolds to 122 chars


def test_note_length_limit():
    note = " ".join(["word"] * 100)  # 499 characters
    assert parse(f"log demo acme {note}").note == note
    fails(f"log demo acme {note} xy", "note", "limit is 500")
    fails(f'log demo acme note="{"n" * 501}"', "note", "limit is 500")


# ----------------------------------------------------------------------------- log: people


@pytest.mark.parametrize("mention", ["<@U0123ABC>", "<@U0123ABC|alice>", "<@W0123ABC|Alice B>"])
def test_on_behalf_of(mention):
    command = parse(f"log demo acme {mention} nice")
    assert command == log("demo-booked", deal="acme", deal_key="acme",
                          on_behalf_of=mention[2:].split("|")[0].rstrip(">"), note="nice")


def test_mention_anywhere():
    assert parse(f"log call {U1} 3") == log("call", count=3, on_behalf_of="U0123ABC")


def test_two_mentions():
    fails(f"log demo acme {U1} <@U999>", "<@U999>", "second person")


def test_plain_at_name():
    fails("log demo acme @alice", '"@alice"', "autocomplete")


def test_channel_mention():
    fails("log demo acme <#C123|sales>", "<#C123|sales>", "channel")


def test_group_mentions():
    fails("log demo acme <!here>", "<!here>", "one person")
    fails("log demo acme <!subteam^S1|@sales>", "<!subteam", "one person")


# ----------------------------------------------------------------------------- log: dates


@pytest.mark.parametrize("text, day", [
    ("on yesterday", date(2026, 10, 13)), ("on today", TODAY),
    ("on 2026-10-05", date(2026, 10, 5)), ("ON 2026-10-05", date(2026, 10, 5)),
    ("on mon", date(2026, 10, 12)),
])
def test_on_date(text, day):
    assert parse(f"log demo acme {text}") == log(
        "demo-booked", deal="acme", deal_key="acme", on_date=day)


def test_on_date_before_the_deal():
    assert parse("log demo on yesterday acme").deal == "acme"


def test_future_date():
    fails("log demo acme on 2026-10-15", "2026-10-15")


def test_bad_date():
    fails("log demo acme on zoom", "zoom")


def test_on_without_a_date():
    fails("log demo acme on", '"on" needs a day')
    fails("log demo acme on!", '"on" needs a day')


def test_two_dates():
    fails("log demo acme on yesterday on today", "second day")


# ----------------------------------------------------------------------------- log: full


def test_everything_at_once():
    text = ('log won "Acme Corp" 2x 12,000 USD <@U1|bob> mrr=1k account=acme-group '
            "on yesterday signed after the demo!")
    assert parse(text) == LogCommand(
        kind="deal-won", deal="Acme Corp", deal_key="acme corp", account="acme-group", count=2,
        amount_minor=1_200_000, currency="USD", duration_seconds=None, mrr_minor=100_000,
        on_behalf_of="U1", source=None, source_raw=None, reason=None, competitor=None,
        on_date=date(2026, 10, 13), note="signed after the demo", public=True)


# ----------------------------------------------------------------------------- undo


@pytest.mark.parametrize("text, command", [
    ("undo", UndoCommand(None)), ("undo 42", UndoCommand(42)), ("undo #42", UndoCommand(42)),
    ("UNDO 7!", UndoCommand(7, public=True)), ("undo public", UndoCommand(None, public=True)),
])
def test_undo(text, command):
    assert parse(text) == command


@pytest.mark.parametrize("token", ["abc", "0", "-1", "4.2", "#", "#x", "٤٢", "9" * 20])
def test_undo_not_an_id(token):
    fails(f"undo {token}", f'"{token}"', "not an event number")


def test_undo_extra_words():
    fails("undo 42 43", '"43"')


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


# ----------------------------------------------------------------------------- digest


@pytest.mark.parametrize("text, command", [
    ("digest here", DigestHereCommand("weekly", 0, time(9, 0))),
    ("digest here weekly fri 16:30",
     DigestHereCommand("weekly", 4, time(16, 30))),
    ("digest here weekly Sunday 8:05", DigestHereCommand("weekly", 6, time(8, 5))),
    ("digest here monthly 15 08:00", DigestHereCommand("monthly", 15, time(8, 0))),
    ("digest here monthly 1st", DigestHereCommand("monthly", 1, time(9, 0))),
    ("digest here monthly last 17:00", DigestHereCommand("monthly", -1, time(17, 0))),
    ("digest here monthly", DigestHereCommand("monthly", 1, time(9, 0))),
    ("digest here tue", DigestHereCommand("weekly", 1, time(9, 0))),
    ("digest here 4pm", DigestHereCommand("weekly", 0, time(16, 0))),
    ("digest here 12am", DigestHereCommand("weekly", 0, time(0, 0))),
    ("digest here weekly mon 09:00 Europe/Oslo",
     DigestHereCommand("weekly", 0, time(9, 0), "Europe/Oslo")),
    ("digest here europe/oslo", DigestHereCommand(tz="Europe/Oslo")),
    ("digest here UTC", DigestHereCommand(tz="UTC")),
    ("digest here America/New_York lang=en",
     DigestHereCommand(tz="America/New_York", lang="en")),
    ("digest here lang=no", DigestHereCommand(lang="nb")),
    ("digest here lang=zh-CN", DigestHereCommand(lang="zh")),
    ("digest here lang=sv!", DigestHereCommand(lang="sv", public=True)),
    ("digest here lang=ro", DigestHereCommand(lang="ro")),
    ("digest here lang=NB", DigestHereCommand(lang="nb")),
])
def test_digest_here(text, command):
    assert parse(text) == command


@pytest.mark.parametrize("text, fragments", [
    ("digest here monthly 29", ['"29"', "1 to 28"]),
    ("digest here weekly 15", ['"15"', "weekday"]),
    ("digest here monthly fri", ['"fri" is a weekday', "1 to 28"]),
    ("digest here weekly 25:00", ['"25:00"', "time of day"]),
    ("digest here weekly 9:75", ['"9:75"', "time of day"]),
    ("digest here 13pm", ['"13pm"', "time of day"]),
    ("digest here Mars/Base", ['"Mars/Base"', "not a time zone"]),
    ("digest here oslo", ['"oslo"', 'did you mean "Europe/Oslo"']),
    ("digest here ../../etc/passwd", ["not a time zone"]),
    ("digest here lang=fr", ['"fr"', "en, nb, sv, ro, zh"]),
    ("digest here lang=en lang=sv", ["second language"]),
    ("digest here tz=UTC", ['"tz=UTC"', "lang="]),
    ("digest here weekly monthly", ['"monthly"', "second cadence"]),
    ("digest here UTC Europe/Oslo", ['"Europe/Oslo"', "second time zone"]),
])
def test_digest_here_errors(text, fragments):
    error = fails(text, *fragments)
    assert error.usage == COMMAND_USAGE["digest here"][0]


@pytest.mark.parametrize("action", ["off", "list", "preview", "now", "status"])
def test_digest_actions(action):
    assert parse(f"digest {action}") == DigestCommand(action)
    assert parse(f"DIGEST {action.upper()}!") == DigestCommand(action, public=True)


def test_digest_errors():
    fails("digest", "needs an action")
    fails("digest prevew", '"prevew"', 'did you mean "preview"')
    fails("digest off now", '"now"')


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

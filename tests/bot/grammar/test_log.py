"""`/kpi log` and `/kpi undo`: every form of SPEC section 4, and the error for each mistake."""

from __future__ import annotations

from datetime import date

import pytest

from bot.grammar import (
    LogCommand,
    UndoCommand,
)
from reports.events import ALIASES, KINDS, resolve_kind
from tests.bot.grammar.common import TODAY, U1, fails, log, parse

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

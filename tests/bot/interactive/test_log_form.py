"""The logging form is read by the grammar of `/kpi log`: the same values give the same
command, and each refusal lands on the field that caused it, with the grammar's words."""

from __future__ import annotations

from datetime import date

import pytest

from bot import grammar
from bot.interactive.log_form import fields_for, read_form
from bot.interactive.values import ActionValues
from reports.events import KINDS

TODAY = date(2026, 11, 18)


def _form(**values):
    return read_form(values, today=TODAY, currency="USD")


def _typed(text):
    return grammar.parse_command(text, today=TODAY, currency="USD")


@pytest.mark.parametrize(("values", "typed"), [
    ({"kind": "call", "count": "12"}, "log call 12"),
    ({"kind": "deal-won", "deal": "Acme Corp", "amount": "$12,000", "mrr": "1k"},
     'log deal-won "Acme Corp" $12,000 mrr=1k'),
    ({"kind": "deal-lost", "deal": "acme", "reason": "price", "competitor": "Rival Inc"},
     'log deal-lost acme reason=price competitor="Rival Inc"'),
    ({"kind": "lead", "deal": "globex", "source": "Organic Search", "date": "2026-11-16"},
     'log lead globex source="Organic Search" on 2026-11-16'),
    ({"kind": "inbound-responded", "deal": "acme", "duration": "1h30m"},
     "log inbound-responded acme 1h30m"),
    ({"kind": "mrr-change", "deal": "acme", "amount": "-200"}, "log mrr-change acme -200"),
    ({"kind": "demo", "deal": "initech", "note": "went well, on site"},
     'log demo-booked initech note="went well, on site"'),
    ({"kind": "spend", "amount": "5k", "currency": "usd", "source": "paid-search"},
     "log spend 5k source=paid-search"),
])
def test_a_form_reads_as_the_typed_command(values, typed):
    result = _form(**values)
    assert result.errors == {}
    assert _typed(result.text) == _typed(typed)


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"kind": "deal-won", "deal": "acme", "amount": "12kk"}, "amount", "12kk"),
    ({"kind": "deal-won", "deal": "acme", "amount": "0"}, "amount", "zero"),
    ({"kind": "deal-won", "deal": "acme", "amount": "12 k"}, "amount", "not an amount"),
    ({"kind": "deal-won", "deal": "acme", "amount": "12k", "currency": "EUR"}, "currency",
     "USD"),
    ({"kind": "deal-won", "amount": "12k"}, "deal", "needs a deal"),
    ({"kind": "deal-won", "deal": "acme"}, "amount", "needs an amount"),
    ({"kind": "call", "count": "0"}, "count", "1 to 100,000"),
    ({"kind": "call", "count": "three"}, "count", "three"),
    ({"kind": "call", "date": "2026-11-19"}, "date", "future"),
    ({"kind": "call", "date": "soon"}, "date", "soon"),
    ({"kind": "call", "note": "x" * 501}, "note", "500"),
    ({"kind": "deal-won", "deal": "y" * 121, "amount": "1k"}, "deal", "120"),
    ({"kind": "inbound-responded", "deal": "acme", "duration": "12"}, "duration", "unit"),
    ({"kind": "call", "reason": "price"}, "reason", "does not take"),
    ({"kind": "call", "deal": "the \"big\" reps' deal"}, "deal", "quotes"),
    ({"kind": "banana"}, "kind", "not an event"),
    ({}, "kind", "Choose"),
])
def test_each_refusal_is_on_its_field(values, field, words):
    result = _form(**values)
    assert result.text is None
    assert field in result.errors and words in result.errors[field], result.errors


def test_quotes_and_markup_in_names_are_kept_as_typed():
    result = _form(kind="call", deal="it's \"odd\" isn't it", note="a <@U1> & <b>")
    command = _typed(result.text)
    assert (command.deal, command.note) == ("it's \"odd\" isn't it", "a <@U1> & <b>")


def test_fields_follow_what_each_kind_carries():
    assert "amount" in fields_for(KINDS["deal-won"]) and "count" not in fields_for(
        KINDS["deal-won"])
    assert "count" in fields_for(KINDS["call"]) and "amount" not in fields_for(KINDS["call"])
    assert "duration" in fields_for(KINDS["inbound-responded"])
    assert {"reason", "competitor"} <= set(fields_for(KINDS["deal-lost"]))
    assert "source" in fields_for(KINDS["lead"]) and "source" not in fields_for(KINDS["call"])


def test_button_values_are_bound_to_workspace_event_and_key():
    values = ActionValues("xoxb-secret")
    value = values.sign("undo", "slack:T1", 42)
    assert values.read("undo", "slack:T1", value) == 42
    assert values.read("undo", "slack:T2", value) is None
    assert values.read("other", "slack:T1", value) is None
    assert ActionValues("another").read("undo", "slack:T1", value) is None
    assert values.read("undo", "slack:T1", value.replace(".42.", ".43.")) is None
    assert values.read("undo", "slack:T1", None) is None
    assert "xoxb" not in value

"""`reports.text`: a sentence kept as msgid and fields, rendered in the reader's language (the
grammar's refusals). English is the msgid filled in; fields that are `Text` are translated too,
user words are shown as given, counts pick the language's plural form, numbers and days follow
the locale, and joined sentences keep their order."""

from __future__ import annotations

from datetime import date

import pytest

from reports.i18n import translator
from reports.periods import PeriodError, parse_day
from reports.text import Text, plural_text, render
from reports.units import AmountError, parse_amount

TOO_LONG = ("The {what} {value} is {length} character long; the limit is {limit}.",
            "The {what} {value} is {length} characters long; the limit is {limit}.")


def test_english_is_the_msgid_filled_in_and_other_languages_translate_every_part():
    text = Text("{word} is a second {what}; give only one.", word='"tue"', what=Text("weekday"))
    assert str(text) == '"tue" is a second weekday; give only one.'
    assert text.render(translator("nb")) == ('"tue": ukedag er allerede oppgitt; oppgi bare én '
                                             "verdi.")
    assert text.render(translator("zh")) == '"tue"：星期已经给出；只能给一个。'


@pytest.mark.parametrize(("n", "form"), [(1, "caracter;"), (2, "caractere;"), (5, "caractere;"),
                                         (20, "de caractere;"), (101, "caractere;"),
                                         (120, "de caractere;")])
def test_a_count_takes_the_romanian_form_of_its_number(n, form):
    text = plural_text(*TOO_LONG, n, what=Text("note"), value='"x"', length=str(n), limit="0")
    assert f"are {n} {form}" in text.render(translator("ro"))


def test_numbers_and_days_follow_the_locale_and_sentences_join_per_language():
    count = Text("A count is a whole number from 1 to {limit}; {word} was given.",
                 limit=100_000, word='"0x"')
    assert "100,000" in str(count) and "100\xa0000" in count.render(translator("nb"))
    day = Text("{words} reads as the day {day}, so nothing was stored. If it is part of the "
               "note, write the note in {option}; if it is a name, quote it.", words='"fri"',
               day=date(2026, 11, 13), option='note="..."')
    assert "Fri 2026-11-13" in str(day) and "fre. 2026-11-13" in day.render(translator("nb"))
    joined = Text("{word} is not a KPI.", word='"x"') + None + Text("Try {help}.", help="/kpi h")
    assert str(joined) == '"x" is not a KPI. Try /kpi h.'
    assert joined.render(translator("zh")) == '"x" 不是 KPI。试试 /kpi h。'
    assert render("as it is", translator("sv")) == "as it is"


def test_errors_keep_their_english_text_and_carry_the_sentence():
    with pytest.raises(PeriodError) as period:
        parse_day("2099-01-01", today=date(2026, 11, 18))
    assert str(period.value) == ("2099-01-01 is in the future; you can only log things that "
                                 "already happened")
    assert period.value.text.render(translator("sv")).startswith("2099-01-01 ligger i framtiden")
    with pytest.raises(AmountError) as amount:
        parse_amount("$5k€", default_currency="USD")
    assert str(amount.value) == '"$5k€" names two currencies'
    assert amount.value.text.render(translator("ro")) == '"$5k€" numește două monede'


def test_amounts_in_a_warning_are_money_in_the_readers_language():
    from reports.kpis.catalog import ratio

    _, warnings = ratio(5_283_900, 1_000_000, what=(Text("MRR lost"), Text("MRR at the start")),
                        currency="USD")
    english, norwegian = str(warnings[0]), warnings[0].render(translator("nb"))
    assert "$52,839.00" in english and "$10,000.00" in english, english
    assert "5283900" not in english and "5283900" not in norwegian
    assert "52 839,00" in norwegian.replace("\xa0", " "), norwegian

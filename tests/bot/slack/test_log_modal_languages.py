"""The logging modal (every event's fields), its deal suggestions and the Teams logging card
in all 5 languages: no English word left in a non-English form, except the event kinds and
the example values a person types as they are (`referral`, `price`)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.slack.views import deal_options, log_modal
from bot.teams.interactive import log_card
from reports.events import KINDS
from reports.i18n import translator
from reports.languages import LANGUAGES
from tests.support.reading import english_left, raw_values, strings_of

TYPED_AS_IS = ["referral, organic, paid-search…", "price, timing…", "MRR",
               *(f"{option}=" for option in ("source", "reason", "competitor", "mrr", "note"))]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_logging_modal_in_every_language(language):
    t = translator(language)
    problems: list[str] = []
    for kind in (None, *KINDS.values()):
        values = {"kind": kind.name} if kind else {}
        view = log_modal(kind=kind, values=values, today=date(2026, 11, 18), currency="USD",
                         private_metadata="{}", t=t)
        texts = strings_of(view, ("text",))
        problems += raw_values(texts)
        if language != "en":
            problems += english_left(texts, language, names=TYPED_AS_IS)
    options = strings_of(deal_options([("acme", "Acme")], "Globex", t), ("text",))
    assert options[0] == "Acme" and "Globex" in options[1]
    if language != "en":
        problems += english_left(options, language, names=["Acme", "Globex"])
    assert not problems, "\n".join(problems)


def test_the_english_modal_is_unchanged():
    view = log_modal(kind=KINDS["deal-won"], values={}, today=date(2026, 11, 18),
                     currency="USD", private_metadata="{}")
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Log activity", "Log it", "Cancel")
    labels = [block["label"]["text"] for block in view["blocks"]]
    assert labels[:3] == ["Event", "Deal or account", "Amount"]


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_the_teams_logging_card_in_every_language(language):
    card = log_card(today=date(2026, 11, 18), currency="USD", t=translator(language),
                    errors={"kind": "x"})
    texts = strings_of(card, ("text", "label", "title", "errorMessage", "fallbackText"))
    problems = raw_values(texts) + english_left(texts, language, names=[*TYPED_AS_IS, "x"])
    assert not problems, "\n".join(problems)
    english = log_card(today=date(2026, 11, 18), currency="USD")
    assert english["actions"][0]["title"] == "Log it"
    assert card["actions"][0]["title"] == translator(language).gettext("Log it") != "Log it"

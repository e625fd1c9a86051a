"""Digest labels: every language has every key of English with the same placeholders."""

from __future__ import annotations

import string

import pytest

from reports.digest.i18n import BABEL_LOCALES, EN, TRANSLATIONS, labels_for
from reports.languages import LANGUAGES


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_key_and_the_same_placeholders(language):
    labels = TRANSLATIONS[language]
    assert labels.keys() == EN.keys()
    for key, english in EN.items():
        assert labels[key].strip(), f"{language}.{key} is empty"
        assert _placeholders(labels[key]) == _placeholders(english), f"{language}.{key}"
        labels[key].format(**dict.fromkeys(_placeholders(english), "x"))  # formats cleanly


def test_languages_are_translated_not_copied():
    for language in LANGUAGES[1:]:
        same = {k for k in EN if TRANSLATIONS[language][k] == EN[k]}
        # technical words may stay (MQL, SQL, Lead, Demo, the footer's commands, ...)
        assert len(same) <= 8, (language, sorted(same))


def test_locales_and_unknown_language():
    assert set(BABEL_LOCALES) == set(LANGUAGES) == set(TRANSLATIONS)
    assert labels_for("xx") is EN

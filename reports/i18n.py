"""Translations: the gettext catalogs in reports/locale, read with Babel at run time.

Every text a person reads is written in English in the code (`t.gettext("Revenue")`,
`t.ngettext("{n} deal", "{n} deals", n, n=...)`, `_("Rep")` in the templates) and translated
through `reports/locale/<lang>/LC_MESSAGES/kpibot.po`: msgid the English text, msgstr the
translation, plural forms by the language's own rule (the `Plural-Forms` header Babel writes
from CLDR: Norwegian and Swedish one/other; Romanian one/few/other, "1 tranzacție",
"2 tranzacții", "20 de tranzacții"; Chinese one form). The .po files are compiled in memory
on first use (no .mo file, no build step) and cached per language.

Placeholders are `str.format` fields (`{count}`), filled by `Translator` after translating.
Update the catalogs after changing a text: `bash scripts/i18n` (extracts every message into
reports/locale/kpibot.pot and merges it into each .po; then translate what it marks).
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from reports.languages import LANGUAGES

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "kpibot"
BABEL_LOCALES = {"en": "en", "nb": "nb_NO", "sv": "sv_SE", "ro": "ro_RO", "zh": "zh_Hans_CN"}


def N_(message: str) -> str:
    """Marks `message` for extraction without translating it (tables of labels)."""
    return message


def babel_locale(language: str) -> str:
    """The Babel locale of a kpibot language (numbers, dates, currencies)."""
    return BABEL_LOCALES.get(language, "en")


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language`; English (the msgids themselves, English plural
    rule) for English and for a language without a catalog."""
    path = catalog_path(language)
    if language not in LANGUAGES or language == "en" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=babel_locale(language), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they read as English
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Translator:
    """gettext, ngettext and pgettext of one language that also fill `{name}` fields."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.locale = babel_locale(self.language)
        self._t = translations(self.language)

    def gettext(self, message: str, /, **fields: object) -> str:
        return _fill(self._t.gettext(message), fields)

    def ngettext(self, singular: str, plural: str, n: int, /, **fields: object) -> str:
        """The form of `n` in this language (`n` picks the form; `fields` fill it)."""
        return _fill(self._t.ngettext(singular, plural, int(n)), fields)

    def pgettext(self, context: str, message: str, /, **fields: object) -> str:
        return _fill(self._t.pgettext(context, message), fields)


@functools.cache
def translator(language: str) -> Translator:
    """The (cached) translator of `language`; English for an unknown one."""
    return Translator(language)


def english_of(text: str, messages: Iterable[str]) -> str:
    """The first of the English `messages` that reads `text` in some language, else `text`
    (for a picture drawn without a font for the language: it falls back to English)."""
    for message in messages:
        if any(translator(language).gettext(message) == text for language in LANGUAGES):
            return message
    return text


def _fill(text: str, fields: dict[str, object]) -> str:
    return text.format(**fields) if fields else text

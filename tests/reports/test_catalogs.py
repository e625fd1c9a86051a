"""The gettext catalogs (reports/locale) against the code: every message the code and the
templates use is in the template and translated in every language, every plural form filled,
the same `{placeholders}`, Babel's plural rule in each header; no compiled file committed and
the catalogs packaged. A failure here means: run `bash scripts/i18n` and translate."""

from __future__ import annotations

import importlib.util
import string
import tomllib
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from reports.i18n import LOCALE_DIR, catalog_path, translator
from reports.languages import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in LANGUAGES if language != "en"]


def _script():
    spec = importlib.util.spec_from_file_location("kpibot_i18n_script", ROOT / "scripts/i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return _script().extract()


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def _ids(catalog: Catalog) -> set:
    return {(m.context, m.id) for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_the_template_holds_exactly_the_messages_of_the_code(extracted):
    assert len(extracted) > 50  # the digest alone has more: extraction found the code
    template = _read(LOCALE_DIR / "kpibot.pot")
    assert _ids(template) == _ids(extracted), "run bash scripts/i18n"


def test_templates_and_code_are_both_extracted(extracted):
    files = {path for m in extracted for path, _ in m.locations}
    assert any(path.endswith(".j2") for path in files)
    assert any(path.endswith("build.py") for path in files)
    plural = [m for m in extracted if m.pluralizable]
    assert len(plural) >= 8  # every count-bearing sentence of the digest


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_every_plural_form(language, extracted):
    catalog = _read(catalog_path(language), language)
    assert _ids(catalog) == _ids(extracted), "run bash scripts/i18n"
    forms = catalog.num_plurals
    problems = []
    for message in catalog:
        if not message.id:
            continue
        name = message.id[0] if message.pluralizable else message.id
        if message.fuzzy:
            problems.append(f"fuzzy: {name}")
        strings = message.string if message.pluralizable else (message.string,)
        if message.pluralizable and len(strings) != forms:
            problems.append(f"{len(strings)} of {forms} forms: {name}")
        english = _fields(message.id[-1] if message.pluralizable else message.id)
        for text in strings:
            if not (text or "").strip():
                problems.append(f"untranslated: {name}")
            elif _fields(text) != english:
                problems.append(f"placeholders {sorted(_fields(text))} != {sorted(english)}: "
                                f"{name}")
    assert not problems, problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalog_has_babels_plural_rule_for_its_language(language):
    catalog = _read(catalog_path(language), language)
    assert not catalog.fuzzy  # a fuzzy header would drop Plural-Forms when compiled
    expected = Catalog(locale=Locale.parse(language)).plural_forms
    assert catalog.plural_forms == expected
    assert catalog.num_plurals == {"nb": 2, "sv": 2, "ro": 3, "zh": 1}[language]


def test_romanian_has_three_forms_and_de_from_twenty():
    t = translator("ro")
    deal = [t.ngettext("Small sample: {what} rests on {n} deal.",
                       "Small sample: {what} rests on {n} deals.", n, what="x", n=n)
            for n in (1, 2, 5, 19, 20, 100, 101, 119, 120)]
    assert deal[0].endswith("pe 1 tranzacție.")
    assert deal[1].endswith("pe 2 tranzacții.") and deal[2].endswith("pe 5 tranzacții.")
    assert deal[3].endswith("pe 19 tranzacții.")
    assert deal[4].endswith("pe 20 de tranzacții.") and deal[5].endswith("pe 100 de tranzacții.")
    # CLDR (and Romanian): the last two digits decide — 101 and 119 take no "de", 120 does
    assert deal[6].endswith("pe 101 tranzacții.") and deal[7].endswith("pe 119 tranzacții.")
    assert deal[8].endswith("pe 120 de tranzacții.")


def test_translators_fill_fields_and_fall_back_to_english():
    assert translator("xx").gettext("vs {period}", period="May") == "vs May"
    assert translator("en").ngettext("{n} x", "{n} xs", 1, n="1") == "1 x"
    assert translator("nb").gettext("vs {period}", period="mai") == "mot mai"
    assert translator("sv").ngettext("{count} won", "{count} won", 1, count="1") == "1 vunnen"
    assert translator("sv").ngettext("{count} won", "{count} won", 2, count="2") == "2 vunna"
    assert translator("zh").gettext("Revenue") == "收入"


def test_no_compiled_catalog_is_committed_and_the_catalogs_are_packaged():
    assert not list(LOCALE_DIR.rglob("*.mo"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["reports"]
    reports = ROOT / "reports"
    packaged = {path for pattern in patterns for path in reports.glob(pattern)}
    files = {*LOCALE_DIR.rglob("*.po"), *LOCALE_DIR.rglob("*.pot")}
    assert len(files) == len(LANGUAGES)  # the template and one catalog per translated language
    assert files <= packaged


def test_every_detail_label_a_kpi_shows_is_in_the_catalogs():
    """Chat replies translate KPI detail labels (reports/detail_labels.py lists them): each
    label any KPI shows over the sample history, in several periods, is a catalog message."""
    from reports.format import format_details
    from reports.kpis.catalog import CATALOG, compute_kpi
    from reports.periods import parse_period
    from tests.reports.digest.samples import NOW, QUOTAS, _events
    from tests.reports.fake_facts import FakeFacts

    facts = FakeFacts(_events(), QUOTAS)
    shown = set()
    for word in ("last-week", "last-month", "mtd", "this-quarter", "this-year"):
        period = parse_period(word, now=NOW, tz="Europe/Oslo")
        for name in CATALOG:
            result = compute_kpi(name, facts=facts, period=period, now=NOW)
            shown |= {label for label, _ in format_details(result.details, "USD")}
    assert len(shown) > 30
    template = {m.id for m in _read(LOCALE_DIR / "kpibot.pot") if m.id}
    assert not shown - template, "add them to reports/detail_labels.py, run bash scripts/i18n"

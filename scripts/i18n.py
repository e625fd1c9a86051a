"""Update the gettext catalogs: extract every message of reports/ (Python: `gettext`,
`ngettext`, `pgettext`, `N_`, `_`, `Text`, `plural_text`; the Jinja templates: `_()`,
`{% trans %}`) into
reports/locale/kpibot.pot, then merge it into reports/locale/<lang>/LC_MESSAGES/kpibot.po for
every language (new messages arrive untranslated, vanished ones are dropped). The KPI
catalog's titles (reports/kpis/registry.py), the event kinds' summaries (reports/events.py) and
the commands' help texts (the CommandSpecs' `help` or their handler's docstring, a paragraph a
message) are data, not calls: they are added by name.

Run `bash scripts/i18n`, translate the empty msgstr entries (every plural form), run it again
to normalise the files; tests/reports/test_catalogs.py fails while any is missing.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.handlers.help import help_paragraphs  # noqa: E402
from bot.handlers.registry import COMMANDS  # noqa: E402
from reports.events import KINDS  # noqa: E402
from reports.i18n import DOMAIN, LOCALE_DIR, catalog_path  # noqa: E402
from reports.kpis.catalog import CATALOG  # noqa: E402
from reports.languages import LANGUAGES  # noqa: E402

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
SOURCES = ("reports", "bot")  # every text a person reads
METHODS = [("**/templates/**.j2", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.j2": {"trim_blocks": "True", "lstrip_blocks": "True"}}
# reports.text: `Text(msgid, ...)` and `plural_text(singular, plural, n, ...)` are translated
# where they are shown (the grammar's errors)
KEYWORDS = {**DEFAULT_KEYWORDS, "Text": None, "plural_text": (1, 2)}
HEADER = "# kpibot: translations of what people read. Update with `bash scripts/i18n`."
STAMP = datetime(2026, 12, 1, tzinfo=UTC)  # fixed: an unchanged catalog gives the same file


def has_words(formula: str) -> bool:
    """A formula with words to translate (not only event kinds and KPI names: `a / b`)."""
    words = re.findall(r"[A-Za-z][\w-]*", formula)
    return any(word not in KINDS and word not in CATALOG and word != "P" for word in words)


def extract() -> Catalog:
    """Every message in the code now, as a template catalog."""
    catalog = Catalog(project="kpibot", version="1", domain=DOMAIN, creation_date=STAMP,
                      revision_date=STAMP, fuzzy=False, header_comment=HEADER,
                      copyright_holder="kpibot", msgid_bugs_address="kpibot",
                      last_translator="kpibot", language_team="kpibot")
    for source in SOURCES:
        found = extract_from_dir(ROOT / source, METHODS, OPTIONS, keywords=KEYWORDS)
        for filename, lineno, message, comments, context in found:
            path = f"{source}/{filename}"
            catalog.add(message, None, [(path, lineno)], auto_comments=comments,
                        context=context)
    for spec in CATALOG.values():  # data, not calls: the KPI catalog's titles and formulas
        catalog.add(spec.title, None, [("reports/kpis/registry.py", 0)])
        if has_words(spec.formula):
            catalog.add(spec.formula, None, [("reports/kpis/registry.py", 0)],
                        auto_comments=["a KPI's formula: event kinds, KPI names, P (the "
                                       "period) and the symbols stay as they are"])
    for kind in KINDS.values():  # the event kinds' summaries (`/kpi help events`)
        catalog.add(kind.summary, None, [("reports/events.py", 0)])
    for command in COMMANDS:  # each command's help (`/kpi help WORD`), a paragraph a message
        for paragraph in help_paragraphs(command):
            catalog.add(paragraph, None, [("bot/handlers/registry.py", 0)])
    return catalog


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, catalog, width=100, include_lineno=False, ignore_obsolete=True,
                 sort_output=True)


def read(language: str) -> Catalog:
    with catalog_path(language).open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def update() -> None:
    template = extract()
    _write(TEMPLATE, template)
    for language in LANGUAGES:
        if language == "en":
            continue
        path = catalog_path(language)
        catalog = read(language) if path.exists() else Catalog(
            locale=language, domain=DOMAIN, project="kpibot", version="1",
            creation_date=STAMP, header_comment=HEADER, copyright_holder="kpibot",
            msgid_bugs_address="kpibot", last_translator="kpibot",
            language_team="kpibot")
        catalog.revision_date = STAMP
        catalog.fuzzy = False  # a fuzzy header would drop Plural-Forms from the compiled catalog
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        _write(path, catalog)
        missing = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string)
                   if isinstance(m.string, tuple) else m.fuzzy or not m.string)]
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} to translate")


if __name__ == "__main__":
    update()

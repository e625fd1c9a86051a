"""Every KPI of the catalog answered in every language: the answer, its table and its detail
fields (the cohort a conversion counts, what a stage-time sums, a loss reason's kind) read in
the user's language, with no raw value and no English word left. Kept as typed: what users
logged (sources, reasons, competitors: `source=social`, `reason=price`) and period words
(`this-quarter`); the formula line and data warnings are cut out as in the every-reply test."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from reports.kpis.catalog import CATALOG
from reports.languages import LANGUAGES
from reports.periods import PERIOD_FORMS
from storage.models import Event
from tests.bot.handlers.test_every_reply_language import (  # noqa: F401 (seeded: the fixture)
    _ask,
    _lines,
    _problems,
    _reply_text,
    seeded,
)

SAME = {"nb": {"start"}, "sv": {"start"}, "ro": {"cost", "rata"}}  # "ved start", "Cost pe MQL"


def _typed(database) -> list[str]:
    """What users logged that a KPI shows as is, and the period words they type."""
    with database.read() as session:
        logged = session.execute(sa.select(Event.source).union(
            sa.select(Event.reason), sa.select(Event.competitor))).scalars()
        return [*(value for value in logged if value), *PERIOD_FORMS.split(", "), "unknown"]


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_kpi_answer_in_every_language(seeded, database, language):  # noqa: F811
    chat, names = seeded
    names = names + _typed(database)
    problems = [problem for name in sorted(CATALOG)
                for problem in _problems(f"{language} /kpi {name}", _lines(_reply_text(
                    _ask(chat, f"{name} this-quarter", language))), language, names)
                if not any(f"['{word}']" in problem for word in SAME.get(language, ()))]
    assert not problems, "\n".join(problems)

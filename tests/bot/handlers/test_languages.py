"""Chat replies in the user's language (CommandRequest.user_language; Slack fills it from
users.info's locale, Teams from the activity's), through the real command handler on SQLite and
PostgreSQL: the KPI answer (`/kpi NAME`: headline, table headers, figures, context), the
funnel, the leaderboard, `/kpi me`, churn, the quota view, the log confirmation and undo, and
the "Usage:" / "Example:" lines of a refusal. Each reply in each of the 5 languages has no raw
value and, outside English, no English word left (the checks of tests/support/reading.py, as
for the digest); counts take the language's plural form.

The KPI formula line (`win-rate: vunnet / (vunnet + tapt), ...`) and the data warnings are
checked too. Every other reply kind and the Home view:
tests/bot/handlers/test_every_reply_language.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.core import CommandRequest
from bot.handlers.kpis import render_result
from reports.i18n import translator
from reports.kpis.catalog import CATALOG
from reports.kpis.result import KpiResult, KpiRow
from reports.languages import LANGUAGES
from reports.periods import parse_period
from sampledata import seed_workspace
from storage.models import Deal, User
from tests.support.dialog import Chat
from tests.support.reading import english_left, raw_values

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TLANG"
QUESTIONS = ("win-rate this-quarter", "revenue last-month", "deals-won this-year",
             "activities this-month", "funnel this-quarter", "leaderboard revenue this-year",
             "leaderboard activities this-month", "me this-month", "churn last-month",
             "quota this-month")


def _ask(chat: Chat, text: str, language: str, user: str = "UGEN001"):
    return chat.handler.handle(CommandRequest(platform="slack", workspace_id=WORKSPACE,
                                              user_id=user, text=text, user_language=language))


def _lines(reply) -> list[str]:
    """The reply's lines, less the KPI's name before its formula (`win-rate: ...`): KPI names
    stay as typed."""
    lines = []
    for line in reply.plain_text().splitlines():
        for name in sorted(CATALOG, key=len, reverse=True):
            line = line.replace(f"{name}: ", " ")
        lines.append(line)
    return lines


# Words of the language spelt like an English word, in the formulas (besides reading.py's)
SAME = {"nb": {"sum"}, "ro": {"per"}}


@pytest.fixture
def seeded(database):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=1_500, end=NOW,
                   seed=5, timezone="Europe/Oslo", platform="slack")
    chat = Chat(database, workspace=WORKSPACE, now=NOW, default_user="UGEN001")
    with database.read() as session:
        names = [*session.execute(sa.select(User.display_name)).scalars(),
                 *session.execute(sa.select(Deal.name)).scalars()]
    return chat, [name for name in names if name]


def test_the_most_read_replies_in_every_language(seeded):
    chat, names = seeded
    problems = []
    headlines = {}
    for language in LANGUAGES:
        for text in QUESTIONS:
            reply = _ask(chat, text, language)
            assert reply.ok, (language, text, reply.plain_text())
            lines = _lines(reply)
            headlines[language, text] = reply.text
            problems += [f"{language} {text}: {p}" for p in raw_values(lines)]
            if language != "en":
                problems += [f"{language} {text}: {p}"
                             for p in english_left(lines, language, names=names,
                                                   allowed=SAME.get(language, ()))]
    assert not problems, "\n".join(problems)
    assert headlines["nb", "win-rate this-quarter"].startswith("Vinnrate · ")
    assert headlines["ro", "funnel this-quarter"].startswith("Pâlnia de vânzări · ")
    assert headlines["zh", "leaderboard revenue this-year"].startswith("排行榜 · 收入 · ")
    assert headlines["sv", "me this-month"].startswith("Du · november 2026")
    assert headlines["en", "win-rate this-quarter"].startswith("Win rate · 2026-Q4 (Oct 1")


def test_log_and_undo_in_every_language(seeded):
    chat, names = seeded
    expected = {"en": ("Logged 3 × call", "Undone #"), "nb": ("Registrert 3 × call", "Angret #"),
                "sv": ("Loggat 3 × call", "Ångrade #"), "ro": ("Înregistrat: 3 × call",
                                                                "Anulat #"),
                "zh": ("已记录 3 × call", "已撤销 #")}
    for language, (logged, undone) in expected.items():
        log = _ask(chat, "log call 3 acme-widgets", language)
        undo = _ask(chat, "undo", language)
        nothing = _ask(chat, "undo 999999", language)
        assert log.text.startswith(logged) and undo.text.startswith(undone), language
        assert not nothing.ok
        for reply in (log, undo, nothing):
            lines = reply.plain_text().splitlines()
            assert not raw_values(lines), (language, lines)
            if language != "en":
                assert not english_left(lines, language, names=[*names, "acme-widgets"]), (
                    language, lines)


def test_a_refusal_says_usage_and_example_in_the_language(seeded):
    chat, _names = seeded
    words = {"en": "Usage:", "nb": "Bruk:", "sv": "Användning:", "ro": "Utilizare:", "zh": "用法："}
    for language, word in words.items():
        reply = _ask(chat, "undo 999999", language)
        assert not reply.ok and word in reply.plain_text(), (language, reply.plain_text())


def test_an_unknown_language_is_answered_in_english(seeded):
    chat, _names = seeded
    assert _ask(chat, "win-rate this-quarter", "xx").text.startswith("Win rate · ")


# "+N more rows" under a long KPI table: the plural form of each language
MORE_ROWS = {
    "en": ("{n} more row", "{n} more rows"),
    "nb": ("{n} rad til", "{n} rader til"),
    "sv": ("{n} rad till", "{n} rader till"),
    "ro": ("încă {n} rând", "încă {n} rânduri", "încă {n} de rânduri"),
    "zh": ("{n} 行",),
}
FORM = {"en": {1: 0}, "nb": {1: 0}, "sv": {1: 0}, "zh": {},
        "ro": {1: 0, 2: 1, 5: 1, 20: 2, 101: 1}}


@pytest.mark.parametrize("n", (1, 2, 5, 20, 101))
@pytest.mark.parametrize("language", LANGUAGES)
def test_rows_left_out_take_the_plural_form(language, n):
    period = parse_period("last-month", now=NOW, tz="UTC")
    rows = tuple(KpiRow(key=f"rep-{i}", value=float(i)) for i in range(40 + n))
    result = KpiResult(kpi="activities", workspace=WORKSPACE, period_label=period.label,
                       start=period.start, end=period.end, value=float(len(rows)), unit="count",
                       rows=rows)
    reply = render_result(result, CATALOG["activities"], period, t=translator(language))
    forms = MORE_ROWS[language]
    form = forms[min(FORM[language].get(n, len(forms) - 1), len(forms) - 1)].format(n=n)
    context = reply.sections[-1].context
    assert form in context and not context.startswith("⚠"), (language, n, context)
    others = [f.format(n=n) for f in forms if f.format(n=n) != form]
    assert not any(other in context for other in others if other not in form), context

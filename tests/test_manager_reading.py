"""The manager's reading (issue 15, SPEC 6 "Every figure a person reads is formatted", SPEC 7).

Every view a sales manager reads is rendered — each catalog KPI (`/kpi NAME` through the real
CommandHandler and `kpibot kpi NAME` text), `/kpi funnel`, `quota`, `churn`, `me`,
`leaderboard`, `quota set` and `quota history`, and the digest (Slack blocks, Teams card, plain
text) in every language — on the golden scenario and on a generated history, both databases.
Every text a person reads in a view (reply text, section titles, lines, fields, table cells,
context; every text of a digest) is checked, and the test lists every problem of every view:

- a ratio above 100% with no data warning (⚠) in the same view: any percentage whose counts
  exceed their whole (`164% (18/11)`), and any percentage above 100% in a KPI that is a share
  (changes `▲ 150%` are not ratios; attainments and ROI may pass 100%: ALLOWED_ABOVE_100);
- a change (▲, ▼, "new", "pts") without both compared spans named in the view ("… vs …");
- a raw minor-unit amount: a bare number (not money, not a percent) equal to an amount stored in
  minor units (events, deals, revenue quotas) of 1,000 or more, or larger than any count the
  workspace can have (the sum of every stored event's count, at least 10,000): counts such as
  "1,209" activities or "14,282" website visits stay below it, sums of cents do not;
- a ratio shown as a bare fraction (`0.2` beside its counts `1/5`, not `20%`);
- `None`, `True`, `False`;
- an internal id: a user id stored in the workspace, `rep:` keys, the workspace key.
"""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.cli import kpi as kpi_cli
from bot.core import CommandRequest
from bot.replies import Reply
from bot.settings import build_settings
from bot.wiring import build_bot
from reports.digest.build import CADENCES, build_digest
from reports.digest.render import render_slack, render_teams_card, render_text
from reports.i18n import translator
from reports.kpis.catalog import CATALOG
from reports.languages import LANGUAGES
from sampledata import seed_workspace
from storage.facts import SqlFacts
from storage.models import Deal, Event, Quota, User, Workspace
from storage.users import display_names
from tests.golden.scenario import (
    ANA,
    FISCAL_YEAR_START,
    TZ,
    WORKSPACE,
    record_scenario,
)
from tests.golden.scenario import NOW as GOLDEN_NOW

GENERATED_NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
GENERATED = "slack:TREADING"
READER = "Rita Reader"  # the manager asking (her name as the slash payload gives it)
# Ratios that are not a share of a whole and may pass 100% with nothing wrong: attainment of a
# target (quota-attainment, monthly-progress and its pace, the per-rep rows of reps-at-quota)
# and ROI (a multiple of spend shown
# in percent). Everywhere else a percentage above 100% - and anywhere a percentage with counts
# `164% (18/11)` whose part exceeds its whole - needs a data warning.
ALLOWED_ABOVE_100 = {"quota-attainment", "monthly-progress", "reps-at-quota", "roi"}
SHARE_KPIS = {name for name, spec in CATALOG.items()
              if spec.unit == "ratio" and name not in ALLOWED_ABOVE_100}
# Slack/Teams JSON keys whose string values a person reads.
READ_KEYS = {"text", "title", "value", "fallback", "alt_text", "altText"}


# ------------------------------------------------------------------------- collecting views
def reply_texts(reply: Reply) -> list[str]:
    texts = [reply.text]
    for section in reply.sections:
        texts += [section.title or "", *section.lines, section.context or ""]
        texts += [f"{label}: {value}" for label, value in section.fields]
        texts += ["  |  ".join(row) for row in section.table]
    return [text for text in texts if text]


def json_texts(value, key: str | None = None) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_texts(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from json_texts(item, key)
    elif isinstance(value, str) and key in READ_KEYS:
        yield value


class Views:
    """view name -> (language, texts) for one workspace at one instant."""

    def __init__(self, database, workspace_id: str, now: datetime, me: str,
                 periods: tuple[str, ...], clock) -> None:
        self.database, self.workspace_id, self.now = database, workspace_id, now
        self.views: dict[str, tuple[str, list[str]]] = {}
        clock.now = now
        url = database.engine.url.render_as_string(hide_password=False)
        self.settings = build_settings(DATABASE_URL=url, KPIBOT_ADMINS="UREADER")
        self.handler = build_bot(self.settings, database=database, clock=clock).handler
        for period in periods:
            for name in CATALOG:
                self.ask(f"{name} {period}")
                self.cli(name, period)
            for command in ("funnel", "quota", "churn", "leaderboard", "leaderboard revenue"):
                self.ask(f"{command} {period}")
            self.ask(f"me {period}", user=me)
        self.digests()
        # last, as it changes the data: a quota set for a rep, and the quota history
        self.ask(f"quota set <@{me}> 20 demo-booked monthly")
        self.ask("quota history")

    def ask(self, text: str, user: str = "UREADER") -> None:
        reply = self.handler.handle(CommandRequest(platform="slack",
                                                   workspace_id=self.workspace_id,
                                                   user_id=user, text=text,
                                                   user_name=READER if user == "UREADER"
                                                   else None))
        assert not reply.text.startswith(":warning:") and "not a" not in reply.text, \
            (text, reply.text)
        self.views[f"/kpi {text}"] = ("en", reply_texts(reply))

    def cli(self, name: str, period: str) -> None:
        out = io.StringIO()
        args = argparse.Namespace(name=name, period=period, workspace=self.workspace_id,
                                  user=None, json=False)
        assert kpi_cli.run(args, self.settings, out=out, now=self.now) == 0
        self.views[f"kpibot kpi {name} --period {period}"] = (
            "en", out.getvalue().splitlines())

    def digests(self) -> None:
        with self.database.read() as session:
            workspace = session.get(Workspace, self.workspace_id)
            facts = SqlFacts(session=session, workspace=workspace)
            names = display_names(session=session, workspace_id=self.workspace_id)
            for cadence in CADENCES:
                for language in LANGUAGES:
                    digest = build_digest(facts=facts, cadence=cadence, now=self.now,
                                          tz=workspace.timezone,
                                          fiscal_year_start=workspace.fiscal_year_start,
                                          language=language, names=names)
                    view = f"{cadence} digest ({language})"
                    self.views[f"{view} text"] = (language, render_text(digest).splitlines())
                    self.views[f"{view} slack"] = (language, list(json_texts(
                        render_slack(digest))))
                    self.views[f"{view} teams"] = (language, list(json_texts(
                        render_teams_card(digest))))

    def stored(self) -> tuple[set[str], set[int], int]:
        """The ids a person must not see, the amounts stored in minor units, and the largest
        count a view can show (every stored event's count added up)."""
        with self.database.read() as session:
            ids = set(session.scalars(select(User.id).where(
                User.workspace_id == self.workspace_id)).all())
            ids |= set(session.scalars(select(Event.user_id).where(
                Event.workspace_id == self.workspace_id).distinct()).all())
            amounts = set()
            for column in (Event.amount_minor, Event.mrr_minor):
                amounts |= set(session.scalars(select(column).where(
                    Event.workspace_id == self.workspace_id).distinct()).all())
            amounts |= set(session.scalars(select(Deal.amount_minor).where(
                Deal.workspace_id == self.workspace_id).distinct()).all())
            amounts |= set(session.scalars(select(Quota.target).where(
                Quota.workspace_id == self.workspace_id, Quota.metric == "revenue")).all())
            counts = session.scalars(select(func.sum(Event.count)).where(
                Event.workspace_id == self.workspace_id)).one()
        return ({i for i in ids if i}, {abs(a) for a in amounts if a and abs(a) >= 1_000},
                max(10_000, int(counts or 0)))


# ------------------------------------------------------------------------------- detectors
# A number as Babel prints it in the five languages: digits with grouping (",", ".", spaces
# incl. narrow/no-break ones) and a decimal part.
NUMBER = r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
PERCENT = re.compile(rf"(?P<arrow>[▲▼+\-−]\s*)?(?P<number>{NUMBER})[\s\u00a0\u202f]?%"
                     r"(?:\s*[(（](?P<part>\d[\d,]*)/(?P<whole>\d[\d,]*)[)）])?")
MONEY_MARK = re.compile(r"[$€£¥]|US\$|USD|EUR|NOK|SEK|kr|\d\s?[KMBkm万亿]\b|[KMB万亿]")
WORD_VALUES = re.compile(r"\b(None|True|False)\b")
INTERNAL = re.compile(r"\brep:[\w.-]+|\b(?:demo|slack|teams):[\w.-]+|\bUGEN\d+\b")
FRACTION = re.compile(r"(?<![\d.,])(?P<value>0[.,]\d+)[\s|]*\(?(?P<part>\d+)/(?P<whole>\d+)")
CHANGE = re.compile(r"[▲▼]|\bnew\b|\bpts\b")


def integer_part(number: str, language: str) -> int:
    """The whole part of a number printed in `language` (decimal comma in nb, sv, ro)."""
    decimal = "," if language in ("nb", "sv", "ro") else "."
    whole = number.rsplit(decimal, 1)[0] if decimal in number and len(
        number.rsplit(decimal, 1)[1].strip()) <= 2 else number
    digits = re.sub(r"\D", "", whole)
    return int(digits) if digits else 0


def spans_named(texts: list[str], language: str) -> bool:
    """Both compared spans named: "<span with a number> vs <span with a number>" (the digest
    says `vs` in its language: `mot`, `jämfört med`, `față de`, `对比`)."""
    words = {"vs", translator(language).gettext("vs {period}").split("{")[0].strip()}
    return any(re.search(rf"\d.*?{re.escape(word)}\s*\S*.*\d", text)
               for text in texts for word in words)


def problems_in(view: str, language: str, texts: list[str], ids: set[str],
                amounts: set[int], most: int = 10_000) -> list[str]:
    problems = []
    words = view.split()
    kpi = words[2] if view.startswith("kpibot kpi") else words[1] if view.startswith("/kpi") \
        else ""
    warned = any("⚠" in text for text in texts)
    for text in texts:
        where = f"{view}: {text!r}"
        for match in PERCENT.finditer(text):
            above = not match["arrow"] and integer_part(match["number"], language) > 100
            counts_above = match["part"] and (integer_part(match["part"], "en")
                                              > integer_part(match["whole"], "en"))
            if not warned and ((above and kpi in SHARE_KPIS) or counts_above):
                problems.append(f"{where}: a ratio above 100% without a data warning")
        for match in FRACTION.finditer(text):
            whole = int(match["whole"])
            if whole and abs(float(match["value"].replace(",", ".")) - int(match["part"]) / whole
                             ) < 0.01:
                problems.append(f"{where}: a ratio shown as the fraction {match['value']}")
        for word in WORD_VALUES.findall(text):
            problems.append(f"{where}: shows {word}")
        for key in INTERNAL.findall(text):
            problems.append(f"{where}: shows the internal key {key}")
        for token in re.findall(r"[\w:.@<>-]+", text):
            if token.strip("<>@") in ids:
                problems.append(f"{where}: shows the user id {token}")
        for match in re.finditer(NUMBER, text):
            before, after = text[max(0, match.start() - 4):match.start()], text[match.end():
                                                                                match.end() + 4]
            if MONEY_MARK.search(before) or MONEY_MARK.search(after) or after.lstrip()[:1] == "%":
                continue
            if re.search(r"\d[-–.:]$", before) or re.match(r"[-:]\d", after):
                continue  # a date or a time
            value = integer_part(match.group(), language)
            if value > most or value in amounts:
                problems.append(f"{where}: a raw number {match.group()} (minor units?)")
    if any(CHANGE.search(text) for text in texts) and not spans_named(texts, language):
        problems.append(f"{view}: a change without both spans named")
    return problems


def assert_readable(views: Views) -> None:
    ids, amounts, most = views.stored()
    ids.add(views.workspace_id)
    problems = [problem for view, (language, texts) in views.views.items()
                for problem in problems_in(view, language, texts, ids, amounts, most)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------- tests
def test_the_detectors_catch_what_a_manager_must_not_read():
    """Each detector fires on the raw values issue 16 saw, and not on their readable forms."""
    ids, amounts = {"UGEN003", "UANA"}, {3_820_000}
    bad = ["revenue mtd: 3820000", "new vs last month: False", "pace: None",
           "Quota set: UGEN003", "rep:jane-doe  12", "Conversion 164% (18/11)",
           "Revenue: $12K ▼ 5%", "owner: UANA", "Opportunity 18 164% (18/11)",
           "partner  |  0.2  |  1/5"]
    for text in bad:
        assert problems_in("/kpi win-rate", "en", [text], ids, amounts), text
    good = ["Revenue mtd: $38.2K", "Activities: 1,209", "Win rate: 38% (19/50) ▼ 4 pts "
            "(Nov 1 – Nov 21, 2026 vs Oct 1 – Oct 21, 2026)", "ROI 620%", "Win rate 112% ⚠ x",
            "Nov 1 – Nov 21, 2026", "Omsetning 12 500 kr · 38 %", "partner  |  20%  |  1/5"]
    for text in good:
        language = "nb" if "kr" in text else "en"
        view = "/kpi roi" if "ROI" in text else "/kpi win-rate"
        assert not problems_in(view, language, [text], ids, amounts), text
    assert not problems_in("/kpi quota-attainment", "en", ["140% ($42K/$30K)"], ids, amounts)


@pytest.fixture
def golden_views(database, clock) -> Views:
    record_scenario(database)
    return Views(database, WORKSPACE, GOLDEN_NOW, ANA, ("this-month", "last-month",
                                                        "this-quarter"), clock)


@pytest.fixture
def generated_views(database, clock) -> Views:
    seed_workspace(database=database, workspace_id=GENERATED, target_events=3_000,
                   end=GENERATED_NOW, seed=11, timezone="Europe/Oslo")
    return Views(database, GENERATED, GENERATED_NOW, "UGEN001", ("this-quarter", "last-month"),
                 clock)


def test_a_manager_reads_the_golden_scenario(golden_views):
    assert TZ and FISCAL_YEAR_START  # the golden workspace's own settings
    assert len(golden_views.views) > 3 * len(CATALOG) + 2 * len(CADENCES) * len(LANGUAGES)
    assert_readable(golden_views)


def test_a_manager_reads_a_generated_history(generated_views):
    assert_readable(generated_views)

"""`kpibot kpi list` in every language: each KPI's name, title and formula in `--lang`, else
in the language the workspace's digests share, else English; no database needed."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime

import pytest

from bot.cli import kpi as kpi_cli
from bot.settings import SettingsError, build_settings
from reports.events import KINDS
from reports.i18n import translator
from reports.kpis.catalog import CATALOG
from reports.languages import LANGUAGES
from storage import digests as ledger
from storage.workspaces import ensure_workspace
from tests.bot.handlers.test_every_reply_language import _problems

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
SAME = {"ro": {"cost"}}  # "Cost pe lead": Romanian spells it as English does


def _list(settings, *argv: str) -> list[str]:
    parser = argparse.ArgumentParser()
    kpi_cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert kpi_cli.run(parser.parse_args(["kpi", "list", *argv]), settings, out=out) == 0
    return out.getvalue().splitlines()


def _title(line: str, language: str) -> str:
    """The title a line shows, checked against the catalog's for `language`."""
    name = line.split()[0]
    return translator(language).gettext(CATALOG[name].title)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_list_in_every_language(tmp_path, language):
    nowhere = tmp_path / "not-created.db"
    settings = build_settings(DATABASE_URL=f"sqlite:///{nowhere}")
    lines = _list(settings, "--lang", language)
    t = translator(language)
    assert [line.split()[0] for line in lines] == list(CATALOG)
    for line, spec in zip(lines, CATALOG.values(), strict=True):
        assert f" {t.gettext(spec.title)} — {t.gettext(spec.formula)}" in line, line
    problems = [problem for problem in _problems(f"kpibot kpi list --lang {language}", lines,
                                                 language, [*CATALOG, *KINDS])
                if not any(f"['{word}']" in problem for word in SAME.get(language, ()))]
    assert problems == [], "\n".join(problems)
    if language != "en":  # the titles are translated, not English ones let through
        english = translator("en")
        assert sum(t.gettext(s.title) != english.gettext(s.title)
                   for s in CATALOG.values()) > len(CATALOG) // 2
    assert not nowhere.exists()  # --lang: the database is never opened


def test_without_a_database_the_list_is_english(tmp_path):
    nowhere = tmp_path / "not-created.db"
    lines = _list(build_settings(DATABASE_URL=f"sqlite:///{nowhere}"))
    assert lines[0].split() == ["delivery-rate", "Delivery", "rate", "—", "email-delivered",
                                "/", "email-sent"]
    assert not nowhere.exists()  # listing does not create a database


def _schedule(database, workspace: str, channel: str, language: str) -> None:
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=workspace, platform="slack", now=NOW)
        ledger.save_schedule(session=session, workspace_id=workspace, platform="slack",
                             channel_id=channel, owner_id="U_BOSS", now=NOW,
                             fields=ledger.ScheduleFields(language=language))


def test_the_list_defaults_to_the_language_the_digests_share(database, database_url):
    settings = build_settings(DATABASE_URL=database_url)
    assert _title(_list(settings)[0], "en") in _list(settings)[0]  # no workspace: English
    _schedule(database, "slack:TLIST", "C1", "ro")
    (first, *_rest) = _list(settings)
    assert _title(first, "ro") in first and "Rată de livrare" in first, first
    assert "Delivery rate" in _list(settings, "--lang", "en")[0]  # --lang wins
    _schedule(database, "slack:TLIST", "C2", "zh")  # the digests no longer share one
    assert "Delivery rate" in _list(settings)[0]
    _schedule(database, "slack:TOTHER", "C3", "sv")  # two workspaces: name one, else English
    assert "Delivery rate" in _list(settings)[0]
    assert _title(_list(settings)[0], "sv") in _list(settings, "--workspace", "slack:TOTHER")[0]
    with pytest.raises(SettingsError, match="no workspace 'slack:TNONE'"):
        _list(settings, "--workspace", "slack:TNONE")
    with pytest.raises(SettingsError, match="--lang 'xx'"):
        _list(settings, "--lang", "xx")

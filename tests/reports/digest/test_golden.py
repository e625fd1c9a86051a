"""Golden files: the sample digest (tests/reports/digest/samples.py) rendered in every format
and language, compared with tests/reports/digest/golden/. A change to a template, a label or
the view model shows up here as a diff to review.

Regenerate (then read the diff): KPIBOT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest \
    tests/reports/digest/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reports.digest.render import render_slack, render_teams_card, render_text
from reports.languages import LANGUAGES
from tests.reports.digest.samples import sample_digest

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("KPIBOT_UPDATE_GOLDEN") == "1"
FORMATS = {
    "slack.json": lambda d: _json(render_slack(d)),
    "teams.json": lambda d: _json(render_teams_card(d)),
    "txt": render_text,
}
CASES = [(language, "weekly") for language in LANGUAGES] + [("en", "monthly")]


def _json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("extension", sorted(FORMATS))
@pytest.mark.parametrize(("language", "cadence"), CASES)
def test_rendering_matches_the_golden_file(language, cadence, extension):
    rendered = FORMATS[extension](sample_digest(language, cadence))
    path = GOLDEN / f"digest.{cadence}.{language}.{extension}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with KPIBOT_UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended, regenerate with "
        "KPIBOT_UPDATE_GOLDEN=1 and review the diff")


def test_every_golden_file_belongs_to_a_case():
    expected = {f"digest.{c}.{lang}.{ext}" for lang, c in CASES for ext in FORMATS}
    assert {p.name for p in GOLDEN.iterdir()} == expected

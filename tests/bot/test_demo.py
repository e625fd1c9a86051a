"""`kpibot demo`: a fresh SQLite database, the full weekly digest, the funnel, real commands."""

from __future__ import annotations

import io

import pytest

from bot.console import run_console
from bot.demo import run_demo
from bot.settings import SettingsError, build_settings
from reports.digest.i18n import EN


def test_demo_prints_the_full_weekly_digest_and_the_funnel(tmp_path):
    out = io.StringIO()
    settings = build_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}")
    assert run_demo(database_path=str(tmp_path / "demo.db"), settings=settings, out=out,
                    events=3_000) == 0
    text = out.getvalue()
    assert text.index(EN["weekly_title"]) < text.index("/kpi funnel this-month")
    for heading in ("headline", "activity", "funnel", "churn", "stalled", "loss_reasons"):
        assert EN[heading] in text, heading
    assert "Quota — month to date" in text and "Quota — quarter to date" in text
    assert "Logged demo-booked" in text and "[void]" in text
    assert "Traceback" not in text


def test_the_demo_says_how_to_go_on_and_the_console_opens_its_data(tmp_path):
    out = io.StringIO()
    demo_db = tmp_path / "demo.db"
    settings = build_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}")
    run_demo(database_path=str(demo_db), settings=settings, out=out, events=3_000)
    hint = next(line for line in out.getvalue().splitlines() if "kpibot console" in line)
    url, command = hint.split()[0], hint.split()[1:5]
    assert url == f"DATABASE_URL=sqlite:///{demo_db}"
    assert command == ["kpibot", "console", "--user", "UGEN001"]

    # What that line runs: the demo's workspace is found without --workspace; the rep's own
    # figures come back; digest commands work (the console user is an admin).
    typed = io.StringIO("/kpi me\nleaderboard\ndigest preview\n")
    shown = io.StringIO()
    console_settings = build_settings(DATABASE_URL=url.removeprefix("DATABASE_URL="))
    assert run_console(console_settings, user_id="UGEN001", stdin=typed, stdout=shown) == 0
    text = shown.getvalue()
    assert "workspace demo:acme-sales" in text
    assert "You · " in text and "Activities:" in text
    assert EN["weekly_title"] in text  # the digest preview
    assert "admin" not in text.split("\n", 2)[2].lower()  # no "only admins may" refusal


def test_the_console_refuses_to_guess_between_workspaces(tmp_path):
    settings = build_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'two.db'}")
    for workspace in ("slack:T1", "slack:T2"):
        run_console(settings, user_id="U1", workspace_id=workspace,
                    stdin=io.StringIO("log call\n"), stdout=io.StringIO())
    with pytest.raises(SettingsError, match="several workspaces.*slack:T1, slack:T2"):
        run_console(settings, user_id="U1", stdin=io.StringIO(""), stdout=io.StringIO())


def test_an_empty_database_gets_a_console_workspace(tmp_path):
    settings = build_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    shown = io.StringIO()
    run_console(settings, user_id="U1", stdin=io.StringIO("log call 3\n"), stdout=shown)
    assert "workspace console:local" in shown.getvalue()
    assert "Logged 3 × call" in shown.getvalue()

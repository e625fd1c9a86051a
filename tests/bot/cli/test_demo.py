"""`kpibot demo`: a fresh SQLite database, the full weekly digest, the funnel, real commands."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.cli.console import run_console
from bot.cli.demo import DEMO_EVENTS, DEMO_WORKSPACE, run_demo
from bot.settings import SettingsError, build_settings
from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from sampledata import seed_workspace
from storage import migrate
from storage.engine import Database
from storage.facts import SqlFacts
from storage.models import Deal, Workspace


def test_demo_prints_the_full_weekly_digest_and_the_funnel(tmp_path):
    out = io.StringIO()
    settings = build_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}")
    assert run_demo(database_path=str(tmp_path / "demo.db"), settings=settings, out=out,
                    events=3_000) == 0
    text = out.getvalue()
    assert text.index("Weekly digest") < text.index("/kpi funnel this-month")
    for heading in ("Headline", "Activity per rep", "Funnel", "Churn", "Stalled deals",
                    "Loss reasons"):
        assert heading in text, heading
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
    assert "Weekly digest" in text  # the digest preview
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


@pytest.mark.parametrize("end", [datetime(2026, 12, 5, 10, tzinfo=UTC),
                                 datetime(2026, 6, 17, 15, 30, tzinfo=UTC),
                                 datetime(2027, 3, 1, 8, tzinfo=UTC)])
def test_the_demo_history_tells_a_plausible_story(tmp_path, end):
    """The history `kpibot demo` writes (same workspace, size and seed), ending at a fixed
    instant: stalled deals are a minority of open deals, unworked leads are disqualified
    within weeks, and at every stage the deals reaching the next one are among those that
    reached it (so no funnel conversion can pass 100%)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    database = Database.from_url(url)
    seed_workspace(database=database, workspace_id=DEMO_WORKSPACE, target_events=DEMO_EVENTS,
                   end=end)
    try:
        with database.read() as s:
            facts = SqlFacts(session=s, workspace=s.get(Workspace, DEMO_WORKSPACE))
            month = parse_period("this-month", now=end, tz="UTC")
            stalled = compute_kpi("stalled-deals", facts=facts, period=month, now=end)
            assert stalled.denominator > 40  # a live pipeline, not an empty one
            assert stalled.numerator < 0.25 * stalled.denominator, stalled.details
            deals = s.scalars(select(Deal).where(Deal.workspace_id == DEMO_WORKSPACE)).all()
            for months_back in range(6):
                period = parse_period("this-month", now=end - timedelta(days=31 * months_back),
                                      tz="UTC")
                for stage, (reached, converted) in facts.funnel_counts(
                        period.start, period.end).items():
                    assert 0 <= converted <= reached, (period.label, stage)
    finally:
        database.dispose()
    stages = ("lead_at", "mql_at", "sql_at", "opportunity_at", "demo_at", "won_at")
    for deal in deals:
        reached = [getattr(deal, stage) is not None for stage in stages]
        assert reached == sorted(reached, reverse=True), deal.key  # each a subset of the last
    open_deals = [d for d in deals if d.outcome == "open"]
    assert len(open_deals) < 0.15 * len(deals)
    unworked = [d for d in deals if d.outcome == "lost" and d.mql_at is None]
    assert len(unworked) > 0.3 * len(deals)
    disqualified = sum(1 for d in unworked if d.reason in ("no-response", "unqualified"))
    assert disqualified > 0.8 * len(unworked)
    assert max(d.lost_at - d.lead_at for d in unworked) < timedelta(days=30)
    assert all(end - d.lead_at < timedelta(days=30) for d in open_deals if d.stage == "lead")

"""`kpibot demo`: a fresh SQLite database, the full weekly digest, the funnel, real commands."""

from __future__ import annotations

import io

from bot.demo import run_demo
from bot.settings import build_settings
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

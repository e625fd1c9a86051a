"""The in-process command costs (benchmarks/command_costs.py) on a small generated history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.command_costs import WORKSPACE, main
from sampledata import seed_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def test_the_funnel_is_counted_and_timed(database, tmp_path: Path):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=1_500, end=NOW,
                   seed=3)
    out = tmp_path / "costs.json"
    figures = main([database.engine.url.render_as_string(hide_password=False), "--now",
                    NOW.isoformat(), "--repeat", "3", "--json", str(out)])
    assert json.loads(out.read_text()) == figures
    assert figures["command"] == "funnel this-quarter"
    # the workspace's read opens no transaction (storage/driver.py, storage/pg_driver.py),
    # the funnel one (on PostgreSQL its own BEGIN, without SQLAlchemy's: storage/pg_light.py);
    # the deals since the last hour give their histogram and their medians' values at once
    # (PostgreSQL: the caller's rows guessed after the first answer and checked in the
    # funnel's pipeline, storage/workspace_guess.py: 6 statements, and the check)
    assert figures["statements"] == (7 if database.dialect == "sqlite" else 6)
    assert figures["transactions"] == 1
    if database.dialect == "sqlite":
        # counted in steps of 100 per step of a statement (the progress handler); a quarter
        # of whole UTC months reads no deals (storage/deal_counts.py): about a thousand
        assert figures["sqlite_instructions"] >= 500
        assert figures["round_trips"] is None
    else:
        assert figures["sqlite_instructions"] is None
        # the funnel's statements that depend on nothing read before them go together with
        # BEGIN, the check of the caller's guessed rows and COMMIT (storage/pg_batch.py,
        # plans.commit_ahead, storage/workspace_guess.py)
        assert 1 <= figures["round_trips"] < 2
    assert 0 < figures["wall_ms_min"] <= figures["wall_ms_p50"]
    assert 0 <= figures["cpu_ms_min"] <= figures["cpu_ms_p50"]

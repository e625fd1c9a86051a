"""The benchmark's log mix by kind (benchmarks/log_mix.py) on a small generated history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.log_mix import WORKSPACE, main
from sampledata import seed_workspace


def test_each_kind_of_the_log_mix_is_counted(database, tmp_path: Path):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=1_500,
                   end=datetime.now(UTC) - timedelta(hours=1), seed=3)
    out = tmp_path / "mix.json"
    figures = main([database.engine.url.render_as_string(hide_password=False), "--logs", "12",
                    "--warmup", "4", "--json", str(out)])
    assert json.loads(out.read_text()) == figures
    kinds = figures["kinds"]
    assert sorted(kinds) == ["call", "demo-booked", "email-sent", "meeting-booked"]
    assert all(kind["n"] == 2 and 0 <= kind["cpu_ms_min"] <= kind["cpu_ms_p50"]
               for kind in kinds.values())
    if database.dialect == "sqlite":
        assert figures["round_trips_mean"] is None
        assert kinds["call"]["statements_mean"] > 1
    else:
        # the insert (the caller's rows guessed and checked in its pipeline,
        # storage/workspace_guess.py: no workspace read before it)
        assert kinds["call"]["statements_mean"] == 1
        # the insert with its BEGIN, the check and its COMMIT (a meeting: and the lock before
        # it, its stamp renaming the deal, storage/recording.py `store_event`), or with the
        # deal's reads; the deal's UPDATE with the COMMIT
        assert kinds["call"]["round_trips_mean"] == kinds["email-sent"]["round_trips_mean"] == 1
        assert kinds["meeting-booked"]["round_trips_mean"] == 1
        # the sender's open deal moved from its row alone (storage/deals.py `advance_after`)
        assert kinds["demo-booked"]["round_trips_mean"] == 1

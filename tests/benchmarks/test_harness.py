"""The benchmark harness end to end at a tiny size: real server, signed requests, floors, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import COMMANDS, FLOORED, main

PERCENTILES = ("p50", "p95", "p99")


def _ordered(figure: dict) -> bool:
    return 0 < figure["p50"] <= figure["p95"] <= figure["p99"] <= figure["max"]


def test_quick_run_on_sqlite_reports_every_figure(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    cache = tmp_path / "cache"
    argv = ["--events", "1500", "--quick", "--requests", "12", "--warmup", "2",
            "--database", "sqlite", "--cache-dir", str(cache), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["database"] == "sqlite" and report["requests"] == 12
    assert report["command"].startswith("python -m benchmarks --events 1500")
    (size,) = report["sizes"]
    assert size["events"] == 1500 and size["generated_events"] > 1000
    for command in COMMANDS:
        figure = size["figures"][command.name]
        assert figure["n"] == 12 and _ordered(figure), (command.name, figure)
    assert _ordered(size["floors"]["ping"])
    assert set(size["floors"]["sql"]) == set(FLOORED)
    for name, floor in size["floors"]["sql"].items():
        assert _ordered(floor), (name, floor)
        for to in ("to_ping", "to_sql"):
            assert all(size["ratios"][name][to][p] > 0 for p in PERCENTILES), (name, to)
    memory = size["server_memory_kib"]
    assert memory["VmHWM"] >= memory["VmRSS"] > 10_000  # KiB: a Python process
    digest = size["digest"]
    assert digest["n_channels"] == 2 and _ordered(digest["channel"])
    assert _ordered(digest["channels"])
    printed = capsys.readouterr().out
    assert "/kpi funnel this-quarter" in printed and "reproduce: python -m benchmarks" in printed
    # The generated history is cached: a second run reuses it (and the cache stays pristine).
    cached = sorted(p.name for p in cache.iterdir())
    assert cached == ["sqlite-1500-seed7.db", "sqlite-1500-seed7.json"]
    assert main([*argv, "--requests", "3"]) == 0
    again = json.loads(out.read_text())["sizes"][0]
    assert again["cached"] is True and again["generated_seconds"] is None
    assert again["generated_events"] == size["generated_events"]

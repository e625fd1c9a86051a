"""The benchmark harness end to end at a tiny size: real server, signed requests, floors, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import COMMANDS, FLOORED, long_period_commands, main

PERCENTILES = ("p50", "p95", "p99")


def _ordered(figure: dict) -> bool:
    return 0 < figure["p50"] <= figure["p95"] <= figure["p99"] <= figure["max"]


def test_quick_run_on_sqlite_reports_every_figure(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    cache = tmp_path / "cache"
    argv = ["--events", "1500", "--quick", "--requests", "12", "--warmup", "2",
            "--database", "sqlite", "--cache-dir", str(cache), "--json", str(out),
            "--fanout", "3x1", "--fanout-events", "150"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["database"] == "sqlite" and report["requests"] == 12
    assert report["command"].startswith("python -m benchmarks --events 1500")
    (size,) = report["sizes"]
    assert size["events"] == 1500 and size["generated_events"] > 1000
    for command in COMMANDS:  # ping: right before each of the others, in every round
        figure = size["figures"][command.name]
        n = 12 * (len(COMMANDS) - 1) if command.name == "ping" else 12
        assert figure["n"] == n and _ordered(figure), (command.name, figure)
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
    # every catalog KPI over each long period, answered (not refused)
    long = {k for k in size["figures"] if k.startswith("kpi:")}
    assert len(long) == len(long_period_commands()) > 50
    assert all(size["figures"][k]["n"] == 1 for k in long)
    # 1 worker against 2, both served
    throughput = size["throughput"]
    assert throughput["workers"] == 2 and set(throughput["by_workers"]) == {"1", "2"}
    assert all(r["requests"] > 0 for r in throughput["by_workers"].values())
    assert throughput["speedup"] > 0
    # the fan-out: every channel got exactly one digest and its chart
    fan = report["fanout"]
    assert fan["channels"] == 3 and fan["every_channel_once"] and fan["charts"] == 3
    assert fan["distinct_messages"] <= fan["distinct_digests"] == 2  # two languages
    assert fan["rss_curve_mib"] and fan["server_peak_rss_mib"] > 10
    assert fan["distinct_charts"] == fan["distinct_digests"]  # drawn once per digest
    names = {row["target"].split(" (")[0] for row in report["targets"]}
    assert {"/kpi log ≤ 2.0× ping", "kpibot serve healthy < 0.8 s"} <= names
    printed = capsys.readouterr().out
    assert "/kpi funnel this-quarter" in printed and "reproduce: python -m benchmarks" in printed
    assert "digest fan-out: 3 channels over 1 workspaces" in printed and "targets" in printed
    # The generated history is cached: a second run reuses it (and the cache stays pristine).
    cached = sorted(p.name for p in cache.iterdir() if p.name.startswith("sqlite"))
    assert cached == ["sqlite-1500-seed7.db", "sqlite-1500-seed7.json"]
    assert main([*argv, "--requests", "3", "--fanout", "none", "--long-requests", "0",
                 "--throughput-seconds", "0"]) == 0
    again = json.loads(out.read_text())["sizes"][0]
    assert again["cached"] is True and again["generated_seconds"] is None
    assert again["generated_events"] == size["generated_events"]

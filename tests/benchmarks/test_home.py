"""The Home tab benchmark end to end at a tiny size: real server, signed events, publishes."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.home import main


def test_home_benchmark_times_every_publish(tmp_path: Path, capsys):
    out = tmp_path / "home.json"
    argv = ["--events", "1500", "--requests", "6", "--warmup", "1", "--admin",
            "--cache-dir", str(tmp_path / "cache"), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    (size,) = report["sizes"]
    assert size["events"] == 1500 and size["generated_events"] > 1000
    assert set(size["to_ping"]) == {"rep", "admin"}
    for name in ("ping", "rep", "admin"):
        figure = size["figures"][name]
        assert figure["n"] == 6
        assert 0 < figure["p50"] <= figure["p95"] <= figure["p99"] <= figure["max"]
    assert "reproduce: python -m benchmarks.home --events 1500" in capsys.readouterr().out

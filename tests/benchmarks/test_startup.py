"""The start-up benchmark end to end, one run: fresh processes, a real server to healthy."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.startup import main


def test_startup_benchmark_times_each_figure(tmp_path: Path, capsys):
    out = tmp_path / "startup.json"
    assert main(["--runs", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["bytecode"] is True  # as installed: compiled once, in an untimed round
    assert set(report["figures"]) == {"kpibot --help", "kpibot kpi win-rate --json",
                                      "kpibot serve healthy"}
    for figure in report["figures"].values():
        assert 0 < figure["wall_min"] <= figure["wall_median"]
        assert figure["cpu_median"] > 0 and figure["target"] in (0.3, 0.8)
        assert isinstance(figure["met"], bool)
    printed = capsys.readouterr().out
    assert "kpibot serve healthy" in printed and "CPU p50" in printed

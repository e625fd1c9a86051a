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


def test_the_harness_times_a_server_that_runs_compiled_bytecode(tmp_path: Path, monkeypatch):
    """`python -m benchmarks` times its server's start as an installed kpibot starts: one
    untimed start writes the bytecode (also where the environment says not to write any),
    the timed ones read it; a second size starts no untimed server again."""
    from benchmarks import harness
    from benchmarks.startup import _database

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    url = _database(tmp_path)
    starts = []
    monkeypatch.setattr(harness, "Server", _counting(harness.Server, starts))
    settings = harness._installed_bytecode(url, tmp_path, scheduler=False)
    assert settings["PYTHONDONTWRITEBYTECODE"] == ""
    pycache = Path(settings["PYTHONPYCACHEPREFIX"])
    compiled = {path.name.split(".")[0] for path in pycache.rglob("*.pyc")}
    assert {"serve", "wiring", "core", "deal_counts"} <= compiled
    assert len(starts) == 1
    assert harness._installed_bytecode(url, tmp_path, scheduler=False) == settings
    assert len(starts) == 1


def _counting(server_class, starts: list):
    def start(*args, **kwargs):
        starts.append(kwargs.get("settings"))
        return server_class(*args, **kwargs)
    return start

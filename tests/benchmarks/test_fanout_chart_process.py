"""`kpibot serve --chart-process` through a tiny fan-out (benchmarks/fanout.py): the real server
and scheduler, the Slack stand-in, the charts drawn by the child process, matplotlib never
mapped into the serving process, every channel one message and one chart, and the RSS reported
for the server's whole process tree; SIGTERM stops the chart process with the server."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fanout import format_fanout, run_fanout


def test_a_fan_out_with_the_chart_process(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    result = run_fanout(cache_dir=tmp_path / "cache", work_dir=work, channels=4, workspaces=2,
                        events=150, seed=7, trigger="startup", chart_process=True,
                        progress=lambda _line: None)
    assert result["every_channel_once"] and result["charts"] == 4
    assert result["distinct_charts"] == result["distinct_digests"] == 4  # 2 languages each
    assert result["matplotlib_in_chart_process"] and not result["matplotlib_in_server"]
    # the curve sums the tree: the chart process's share is part of it
    assert any(chart > 10 for _t, _rss, chart in result["rss_curve_mib"])
    assert all(rss > chart for _t, rss, chart in result["rss_curve_mib"])
    assert result["chart_process_cpu_seconds"] > 0
    assert "charts in a child process" in format_fanout(result)
    assert result["processes_left_after_stop"] == []  # SIGTERM stopped the chart process too

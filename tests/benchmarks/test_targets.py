"""Which of issue 18's targets a benchmark report marks, at which sizes, met or not."""

from __future__ import annotations

from benchmarks.targets import evaluate


def _size(events: int, funnel_to_sql: tuple[float, float], log_to_ping: tuple[float, float],
          start: float) -> dict:
    def ratio(pair):
        return {"p50": pair[0], "p95": pair[0], "p99": pair[1]}

    return {"events": events, "figures": {}, "server_start_seconds": start,
            "ratios": {"funnel": {"to_sql": ratio(funnel_to_sql)},
                       "log": {"to_ping": ratio(log_to_ping)}}}


def _marks(report: dict) -> dict[str, bool]:
    return {row["target"]: row["met"] for row in evaluate(report)}


def test_the_funnel_against_its_floor_is_a_target_from_a_million_events():
    report = {"sizes": [_size(10_000, (1.6, 2.1), (1.9, 1.8), 0.6),
                        _size(1_000_000, (0.19, 0.21), (1.7, 2.3), 0.7),
                        _size(5_000_000, (0.05, 0.06), (1.5, 1.9), 0.9)]}
    marks = _marks(report)
    assert not any(t.startswith("funnel") and "(10,000 events)" in t for t in marks)
    assert marks["funnel this-quarter ≤ 0.2× its SQL floor (1,000,000 events)"] is False
    assert marks["funnel this-quarter ≤ 0.2× its SQL floor (5,000,000 events)"] is True
    # the others hold at every size
    assert marks["/kpi log ≤ 2.0× ping (10,000 events)"] is True
    assert marks["/kpi log ≤ 2.0× ping (1,000,000 events)"] is False
    assert marks["kpibot serve healthy < 0.8 s (10,000 events)"] is True
    assert marks["kpibot serve healthy < 0.8 s (5,000,000 events)"] is False

"""Which of issue 18's targets a benchmark report marks, at which sizes, met or not."""

from __future__ import annotations

from benchmarks.targets import evaluate


def _size(events: int, funnel_to_sql: tuple[float, float], log_to_ping: tuple[float, float],
          start: float) -> dict:
    """A size's figures (ms) whose ratios to their floors are the given (p50, p99)."""
    ping, floor = {"p50": 1.5, "p99": 2.5}, {"p50": 20.0, "p99": 30.0}

    def times(floor: dict, ratios: tuple[float, float]) -> dict:
        return {"p50": floor["p50"] * ratios[0], "p99": floor["p99"] * ratios[1]}

    return {"events": events, "server_start_seconds": start,
            "figures": {"ping": ping, "funnel": times(floor, funnel_to_sql),
                        "log": times(ping, log_to_ping)},
            "floors": {"ping": ping, "sql": {"funnel": floor}}}


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


def test_a_ratio_is_compared_before_it_is_rounded():
    rows = evaluate({"sizes": [_size(1_000_000, (0.2008, 0.19), (1.5, 2.004), 0.5)]})
    assert {row["target"]: row["met"] for row in rows} == {  # not ×0.20 and ×2.0: not met
        "funnel this-quarter ≤ 0.2× its SQL floor (1,000,000 events)": False,
        "/kpi log ≤ 2.0× ping (1,000,000 events)": False,
        "kpibot serve healthy < 0.8 s (1,000,000 events)": True}
    assert [row["figure"] for row in rows[:2]] == ["p50 ×0.201, p99 ×0.190",
                                                   "p50 ×1.500, p99 ×2.004"]

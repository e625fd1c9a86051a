"""SPEC section 11's targets (issue 18), each marked met or not from one benchmark report."""

from __future__ import annotations

LONG_P99_MS = 50.0
FUNNEL_TO_SQL = 0.2
FUNNEL_FROM_EVENTS = 1_000_000  # issue 18: "≤ 0.2× its bare-SQL floor at 1M"
LOG_TO_PING = 2.0
HEALTHY_SECONDS = 0.8
WORKERS_SPEEDUP = 1.7
FANOUT_SECONDS = 60.0
FANOUT_RSS_MB = 200.0  # megabytes (10^6 bytes): 190.7 MiB


def _row(target: str, figure: str, met: bool) -> dict:
    return {"target": target, "figure": figure, "met": bool(met)}


def _exact(figure: dict, floor: dict) -> dict[str, float]:
    """figure / floor at p50 and p99 from the figures themselves: the report's ratios are
    rounded to two decimals, and ×0.2049 would show as ×0.20 and pass."""
    return {p: figure[p] / floor[p] for p in ("p50", "p99")}


def evaluate(report: dict) -> list[dict]:
    rows = []
    for size in report["sizes"]:
        n = f"{size['events']:,} events"
        long = {k: f for k, f in size["figures"].items() if k.startswith("kpi:")}
        if long:
            worst_key, worst = max(long.items(), key=lambda item: item[1]["p99"])
            slow = sum(1 for f in long.values() if f["p99"] >= LONG_P99_MS)
            periods = ", ".join(sorted({k.split(":", 2)[2] for k in long}))
            worst_name = worst_key[4:].replace(":", " ")
            refused = size.get("refused", {})
            rows.append(_row(f"any KPI over {periods} p99 < {LONG_P99_MS:.0f} ms ({n})",
                             f"worst p99 {worst['p99']:.1f} ms ({worst_name}); "
                             f"{slow} of {len(long)} at or above; "
                             f"{sum(refused.values())} answers refused at the command deadline "
                             f"({', '.join(k[4:].replace(':', ' ') for k in refused) or 'none'})",
                             slow == 0 and not refused))
        if size["events"] >= FUNNEL_FROM_EVENTS:  # (a small history's floor is ~2 ms)
            funnel = _exact(size["figures"]["funnel"], size["floors"]["sql"]["funnel"])
            rows.append(_row(f"funnel this-quarter ≤ {FUNNEL_TO_SQL}× its SQL floor ({n})",
                             f"p50 ×{funnel['p50']:.3f}, p99 ×{funnel['p99']:.3f}",
                             max(funnel.values()) <= FUNNEL_TO_SQL))
        log = _exact(size["figures"]["log"], size["floors"]["ping"])
        rows.append(_row(f"/kpi log ≤ {LOG_TO_PING}× ping ({n})",
                         f"p50 ×{log['p50']:.3f}, p99 ×{log['p99']:.3f}",
                         max(log.values()) <= LOG_TO_PING))
        rows.append(_row(f"kpibot serve healthy < {HEALTHY_SECONDS} s ({n})",
                         f"{size['server_start_seconds']:.2f} s",
                         size["server_start_seconds"] < HEALTHY_SECONDS))
        t = size.get("throughput")
        if t:
            one = t["by_workers"]["1"]["requests_per_second"]
            many = t["by_workers"][str(t["workers"])]["requests_per_second"]
            rows.append(_row(f"{t['workers']} workers ≥ {WORKERS_SPEEDUP}× the requests/s of "
                             f"one at {t['clients']} clients ({n})",
                             f"{one:.0f} → {many:.0f} requests/s: ×{t['speedup']}",
                             t["speedup"] >= WORKERS_SPEEDUP))
    f = report.get("fanout")
    if f:
        rows.append(_row(f"{f['channels']:,} channels over {f['workspaces']} workspaces "
                         f"delivered in < {FANOUT_SECONDS:.0f} s, each once",
                         f"last chart {f['seconds_to_last_chart']:.1f} s; each once: "
                         f"{f['every_channel_once']}",
                         f["seconds_to_last_chart"] < FANOUT_SECONDS and f["every_channel_once"]))
        rows.append(_row(f"server RSS < {FANOUT_RSS_MB:.0f} MB during the fan-out",
                         f"peak {f['server_peak_rss_mib']:.0f} MiB",
                         f["server_peak_rss_mib"] * 1.048576 < FANOUT_RSS_MB))
    return rows


def format_targets(rows: list[dict]) -> str:
    return "\n".join(["targets (SPEC 11, issue 18):"] + [
        f"  [{'met' if r['met'] else 'NOT met'}] {r['target']}: {r['figure']}" for r in rows])

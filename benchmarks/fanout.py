"""The digest fan-out: C channels over W workspaces, all due at the same minute, delivered by
the real `kpibot serve` (scheduler and all) to the local Slack Web API stand-in on loopback
(tests/support/slack_api.py).

Workspaces get small generated histories (cached like the others) with time zones cycling
through `TIMEZONES`; each workspace's channels mostly use its language and some the next one
in `LANGUAGES`, so a workspace has two distinct digests. The schedules are written into a copy
of the cached database, each in its own time zone, for the next minute at least `lead`
seconds away (trigger "cron": the scheduler's cron jobs fire them), or for the minute just past
(trigger "startup": the start-up catch-up delivers them; for the tiny smoke size, which must
not wait for a minute to turn).

Measured: seconds from the slot to the last chart upload (and to the last post), the server's
resident memory every `sample` seconds: the sum of VmRSS over its whole process tree (the
server and its chart process, bot/digests/chart_process.py; workers too with --workers), the
chart process's share of it, the largest sample and the sum of every process's own peak
(VmHWM: a bound no sampling misses), the CPU seconds of the server's processes and of the chart
process among them,
that every channel got exactly one message and one chart, and how many distinct messages were
posted (the digests composed).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.server import Server, process_kind
from sampledata import STORY_VERSION, seed_workspace
from storage import digests as ledger
from storage import migrate
from storage.engine import Database

TIMEZONES = ("Europe/Oslo", "America/New_York", "Asia/Shanghai", "Europe/Bucharest",
             "Europe/Stockholm", "UTC", "America/Los_Angeles")
LANGUAGES = ("en", "nb", "sv", "ro", "zh")
OWN_LANGUAGE_SHARE = 0.7  # of a workspace's channels; the rest use the next language


def workspace_id(index: int) -> str:
    return f"slack:TFAN{index:04d}"


def fanout_database(cache_dir: Path, work_dir: Path, *, workspaces: int, events: int,
                    seed: int, progress: Callable[[str], None] = print) -> tuple[str, bool]:
    """A working copy of the cached fan-out history (W workspaces of `events` events each);
    (url, reused)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = cache_dir / f"fanout-{workspaces}x{events}-seed{seed}.db"
    meta_path = cached.with_suffix(".json")
    now = datetime.now(UTC).replace(microsecond=0)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and cached.exists() else None
    reused = (meta is not None and meta.get("story") == STORY_VERSION
              and now - datetime.fromisoformat(meta["end"]) < timedelta(days=7))
    if not reused:
        progress(f"generating the fan-out history: {workspaces} workspaces × {events:,} events")
        partial = cached.with_name(cached.name + ".partial")
        partial.unlink(missing_ok=True)
        url = f"sqlite:///{partial}"
        migrate.upgrade(url)
        database = Database.from_url(url)
        try:
            for index in range(workspaces):
                seed_workspace(database=database, workspace_id=workspace_id(index),
                               target_events=events, end=now, seed=seed + index,
                               timezone=TIMEZONES[index % len(TIMEZONES)], platform="slack")
        finally:
            database.dispose()
        partial.rename(cached)
        meta_path.write_text(json.dumps({"end": now.isoformat(), "story": STORY_VERSION}))
    else:
        migrate.upgrade(f"sqlite:///{cached}")
    copy = work_dir / f"fanout-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(cached, copy)
    return f"sqlite:///{copy}", reused


def channel_plan(channels: int, workspaces: int) -> list[tuple[str, str, str, str]]:
    """(workspace, channel, language, time zone) of every channel, spread evenly."""
    plan = []
    per = [channels // workspaces + (1 if i < channels % workspaces else 0)
           for i in range(workspaces)]
    for index, count in enumerate(per):
        own = LANGUAGES[index % len(LANGUAGES)]
        other = LANGUAGES[(index + 1) % len(LANGUAGES)]
        for c in range(count):
            language = own if c < max(1, round(count * OWN_LANGUAGE_SHARE)) else other
            plan.append((workspace_id(index), f"CFAN{index:04d}X{c:03d}", language,
                         TIMEZONES[index % len(TIMEZONES)]))
    return plan


def due_slot(now: datetime, *, trigger: str, lead: float) -> datetime:
    """The minute every schedule is due at (UTC)."""
    minute = now.replace(second=0, microsecond=0)
    if trigger == "startup":
        return minute
    slot = minute + timedelta(minutes=1)
    while (slot - now).total_seconds() < lead:
        slot += timedelta(minutes=1)
    return slot


def write_schedules(url: str, plan, slot: datetime, written_at: datetime) -> None:
    database = Database.from_url(url)
    try:
        with database.write() as session:
            for workspace, channel, language, tz in plan:
                local = slot.astimezone(ZoneInfo(tz))
                ledger.save_schedule(
                    session=session, workspace_id=workspace, platform="slack",
                    channel_id=channel, owner_id="U_FANOUT_OWNER", now=written_at,
                    fields=ledger.ScheduleFields(cadence="weekly", day=local.weekday(),
                                                 hour=local.hour, minute=local.minute,
                                                 timezone=tz, language=language))
    finally:
        database.dispose()


def run_fanout(*, cache_dir: Path, work_dir: Path, channels: int, workspaces: int,
               events: int, seed: int, trigger: str = "cron", lead: float = 20.0,
               sample: float = 0.5, timeout: float = 600.0, workers: int = 1,
               chart_process: bool = False,
               progress: Callable[[str], None] = print) -> dict:
    from tests.support.slack_api import SlackApiServer

    url, reused = fanout_database(cache_dir, work_dir, workspaces=workspaces, events=events,
                                  seed=seed, progress=progress)
    plan = channel_plan(channels, workspaces)
    now = datetime.now(UTC)
    slot = due_slot(now, trigger=trigger, lead=lead)
    write_schedules(url, plan, slot, written_at=min(now, slot) - timedelta(seconds=1))
    stand_in = SlackApiServer().start()
    server = Server(url, work_dir, scheduler=True, workers=workers,
                    settings={"SLACK_API_URL": stand_in.base_url},
                    serve_args=("--chart-process",) if chart_process else ())
    curve: list[tuple[float, float, float]] = []  # (s, the tree's RSS, the chart's part)
    tree: list[int] = []
    try:
        server.wait_ready()
        start = max(slot, datetime.now(UTC))  # startup: the catch-up begins when it is up
        cpu_before = server.cpu_seconds()
        progress(f"fan-out: {len(plan)} channels over {workspaces} workspaces due at "
                 f"{slot:%H:%M:%S} UTC ({trigger})")
        deadline = time.monotonic() + timeout
        expected = len(plan)
        while time.monotonic() < deadline:
            seconds = (datetime.now(UTC) - start).total_seconds()
            curve.append((round(seconds, 1), *_tree_rss_mib(server)))
            if _count_ok(stand_in, "files.completeUploadExternal") >= expected:
                break
            time.sleep(sample)
        peaks = server.memory_kib()
        tree = server.tree()
        cpu = server.cpu_seconds() - cpu_before  # load-independent: the work it took
        # the chart process starts with the first chart, after `cpu_before`: all of its CPU
        cpu_charts = server.cpu_seconds([pid for pid in tree if process_kind(pid) == "chart"])
        matplotlib_in = _matplotlib_mapped(server, tree)
    finally:
        server.stop()  # SIGTERM: the graceful stop, which stops the chart process too
        stand_in.stop()
        left = [pid for pid in tree if Path(f"/proc/{pid}").exists()]
        for path in (work_dir.glob("fanout-*.db*")):
            path.unlink(missing_ok=True)
    posts = [c for c in stand_in.calls_to("chat.postMessage") if c.status == 200]
    uploads = [c for c in stand_in.calls_to("files.completeUploadExternal") if c.status == 200]
    per_channel = Counter(c.channel for c in posts)
    slot_wall = start.timestamp()
    return {
        "channels": len(plan), "workspaces": workspaces, "events_per_workspace": events,
        "trigger": trigger, "cached": reused, "workers": workers,
        "chart_process": chart_process,
        "delivered": len(per_channel), "posts": len(posts), "charts": len(uploads),
        "every_channel_once": (len(posts) == len(plan) and set(per_channel.values()) == {1}
                               and len(per_channel) == len(plan)),
        "distinct_messages": len({json.dumps(c.json_field("blocks"), sort_keys=True)
                                  for c in posts}),
        "distinct_digests": len({(w, lang, tz) for w, _c, lang, tz in plan}),
        "distinct_charts": len(set(stand_in.uploads.values())),  # PNGs: one per digest
        "matplotlib_in_server": matplotlib_in["server"],  # the serving processes: never
        "matplotlib_in_chart_process": matplotlib_in["chart"],
        "seconds_to_last_post": round(max((c.wall_time for c in posts), default=slot_wall)
                                      - slot_wall, 2),
        "seconds_to_last_chart": round(max((c.wall_time for c in uploads), default=slot_wall)
                                       - slot_wall, 2),
        "server_peak_rss_mib": round(max((rss for _t, rss, _c in curve), default=0.0), 1),
        "server_peak_hwm_sum_mib": round(peaks["VmHWM_sum"] / 1024, 1),
        "server_cpu_seconds": round(cpu, 1),
        "chart_process_cpu_seconds": round(cpu_charts, 1),
        "rss_curve_mib": curve,
        "rate_limited": sum(1 for c in stand_in.calls if c.status == 429),
        "processes_left_after_stop": left,  # of the server's tree: none
    }


def _tree_rss_mib(server: Server) -> tuple[float, float]:
    """(VmRSS summed over the server's process tree, the chart processes' part), MiB."""
    statuses = server.statuses()
    total = sum(status.get("VmRSS", 0) for status in statuses.values())
    charts = sum(status.get("VmRSS", 0) for pid, status in statuses.items()
                 if process_kind(pid) == "chart")
    return round(total / 1024, 1), round(charts / 1024, 1)


def _matplotlib_mapped(server: Server, tree: list[int]) -> dict[str, bool]:
    """Whether matplotlib's compiled modules are mapped into a serving process of the tree
    ("server") or into a chart process ("chart"): read from /proc/PID/maps, from outside."""
    found = {"server": False, "chart": False}
    for pid in tree:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found[process_kind(pid)] |= "/matplotlib/" in maps
    return found


def _count_ok(stand_in, method: str) -> int:
    return sum(1 for c in stand_in.calls_to(method) if c.status == 200)


def format_fanout(result: dict) -> str:
    curve = result["rss_curve_mib"]
    step = max(1, len(curve) // 12)
    points = ", ".join(f"{t:.0f}s {rss:.0f}" + (f" ({chart:.0f} chart)" if chart else "")
                       for t, rss, chart in curve[::step])
    charts = ", charts in a child process" if result.get("chart_process") else ""
    return (f"digest fan-out: {result['channels']:,} channels over {result['workspaces']} "
            f"workspaces ({result['trigger']}, {result['workers']} worker(s){charts}): last post "
            f"{result['seconds_to_last_post']:.1f} s, last chart "
            f"{result['seconds_to_last_chart']:.1f} s after the slot; every channel once: "
            f"{result['every_channel_once']}; {result['distinct_messages']} distinct messages "
            f"for {result['distinct_digests']} distinct digests; server peak RSS "
            f"{result['server_peak_rss_mib']:.0f} MiB (its process tree summed; the sum of "
            f"each process's own peak {result.get('server_peak_hwm_sum_mib', 0):.0f} MiB), "
            f"CPU {result['server_cpu_seconds']:.1f} s (the chart process "
            f"{result.get('chart_process_cpu_seconds', 0):.1f} s of it)"
            f"\n  RSS (MiB, the server and its child processes summed) by seconds after the "
            f"slot: {points}")


def main(argv=None) -> int:
    """`python -m benchmarks.fanout`: the fan-out alone (no history sizes first), with the
    per-digest costs measured in-process (benchmarks/digest_costs.py) when asked."""
    import argparse
    import tempfile

    p = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=main.__doc__)
    p.add_argument("--fanout", default="1000x100", help="CHANNELSxWORKSPACES (default "
                   "1000x100)")
    p.add_argument("--events", type=int, default=2000, help="events per workspace")
    p.add_argument("--workers", type=int, default=1, help="kpibot serve --workers N")
    p.add_argument("--chart-process", action="store_true",
                   help="kpibot serve --chart-process (charts drawn by a child process)")
    p.add_argument("--trigger", choices=("cron", "startup"), default="cron")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench-cache"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", type=Path, help="write the figures to this file")
    args = p.parse_args(argv)
    channels, workspaces = (int(x) for x in args.fanout.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="kpifanout-") as work:
        result = run_fanout(cache_dir=args.cache_dir, work_dir=Path(work), channels=channels,
                            workspaces=workspaces, events=args.events, seed=args.seed,
                            trigger=args.trigger, workers=args.workers,
                            chart_process=args.chart_process)
    print(format_fanout(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

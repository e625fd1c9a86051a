"""`python -m benchmarks`: kpibot end to end on generated histories of growing size.

For each size: a generated history (cached, see benchmarks/data.py), the real `kpibot serve`
in a subprocess, and Slack-signed slash commands over loopback, one at a time on a keep-alive
connection, timed from writing the request to reading the whole response:

    /kpi ping                the no-op floor: parsed and dispatched, no database at all
    /kpi funnel this-quarter
    /kpi quota               (this month)
    /kpi win-rate this-year  a catalog KPI over a long period
    /kpi log ...             calls, emails, meetings and demos on the sender's open deals

then, with the server stopped, the SQL floor of each (benchmarks/floors.py) in-process, and the
weekly digest for N channels (benchmarks/digest.py). Each figure is p50/p95/p99 over
`--requests` samples after `--warmup` untimed ones. The report gives every figure next to both
floors (figure / floor per percentile), the server's peak memory (VmHWM), and how each figure
changes from the smallest to the largest size. `--json FILE` writes all of it.

Extension: a new row is one more entry in COMMANDS (through the server) or one more timed
function like `time_digests` added in `_measure_size`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks import data, floors
from benchmarks.digest import time_digests
from benchmarks.server import Server, SlackClient
from benchmarks.stats import PERCENTILES, ratios, summarize
from sampledata import MANAGER_ID, MARKETING_ID
from storage.engine import Database
from storage.models import Deal, User


@dataclass(frozen=True)
class Command:
    name: str  # the figure's key in the JSON
    label: str  # as shown in the table
    texts: Callable[[int, list[str]], str]  # request i, the sender's open deal keys -> text
    check: Callable[[dict], bool]  # the reply is the right one


def _log_text(i: int, deals: list[str]) -> str:
    deal = deals[i % len(deals)] if deals else "bench-deal"
    return ("log call 3", "log email-sent 40x", f"log meeting-booked {deal}",
            f"log demo-booked {deal}")[i % 4]


def _text(body: dict) -> str:
    return str(body.get("text", ""))


COMMANDS = (
    Command("ping", "/kpi ping", lambda i, d: "ping", lambda b: _text(b).startswith("pong")),
    Command("funnel", "/kpi funnel this-quarter", lambda i, d: "funnel this-quarter",
            lambda b: _text(b).startswith("Funnel")),
    Command("quota", "/kpi quota", lambda i, d: "quota",
            lambda b: _text(b).startswith("Quota attainment")),
    Command("win-rate", "/kpi win-rate this-year", lambda i, d: "win-rate this-year",
            lambda b: "Win rate" in _text(b)),
    Command("log", "/kpi log ...", _log_text, lambda b: _text(b).startswith("Logged")),
)
FLOORED = ("log", "funnel", "quota", "win-rate")  # commands with a SQL floor


def _sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        sizes.append(int(float(part.rstrip("km")) * scale))
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError("sizes are event counts >= 100, e.g. 10000,100000")
    return sorted(sizes)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=_sizes, default=_sizes("10000,100000,1000000"),
                   help="history sizes, comma-separated (default 10000,100000,1000000)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url", help="a PostgreSQL server to create the databases on "
                   "(default: a throwaway cluster, data kept under --cache-dir)")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench-cache"),
                   help="generated histories are kept here (default .bench-cache/)")
    p.add_argument("--max-age-days", type=float, default=7.0,
                   help="regenerate a cached history older than this (default 7)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--requests", type=int, help="timed requests per figure (default 200; "
                   "--quick 30)")
    p.add_argument("--warmup", type=int, help="untimed requests first (default 20; --quick 5)")
    p.add_argument("--digest-channels", type=int, help="channels in the digest row "
                   "(default 10; --quick 2)")
    p.add_argument("--digest-rounds", type=int, help="rounds of N channels (default 5; "
                   "--quick 1)")
    p.add_argument("--quick", action="store_true", help="few requests (CI)")
    p.add_argument("--no-scheduler", action="store_true",
                   help="serve without the digest scheduler (kpibot serve --no-scheduler)")
    p.add_argument("--json", type=Path, help="write every figure to this file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.requests = args.requests or (30 if args.quick else 200)
    args.warmup = args.warmup if args.warmup is not None else (5 if args.quick else 20)
    args.digest_channels = args.digest_channels or (2 if args.quick else 10)
    args.digest_rounds = args.digest_rounds or (1 if args.quick else 5)
    command_line = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None
                                                        else list(argv))
    report = {"command": command_line, "database": args.database,
              "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": machine(), "requests": args.requests, "warmup": args.warmup,
              "digest_channels": args.digest_channels, "digest_rounds": args.digest_rounds,
              "scheduler": not args.no_scheduler, "sizes": []}
    cluster = None
    server_url = args.postgres_url
    if args.database == "postgresql" and not server_url:
        cluster = _throwaway_cluster(args.cache_dir)
        server_url = cluster.url("postgres")
    try:
        with tempfile.TemporaryDirectory(prefix="kpibench-") as work:
            for events in args.events:
                report["sizes"].append(_measure_size(events, args, Path(work), server_url))
                _progress(format_size(report["sizes"][-1]))
    finally:
        if cluster is not None:
            cluster.stop()
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["scaling"] = scaling(report["sizes"])
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _throwaway_cluster(cache_dir: Path):
    """A private PostgreSQL cluster (tests/support/postgres.py) whose data directory lives
    under the cache, so generated databases survive between runs."""
    from tests.support.postgres import PostgresCluster

    base = (cache_dir / "postgresql").resolve()
    cluster = PostgresCluster(base_dir=base)
    # An earlier run's initdb is reused: the support class only knows its own first start.
    cluster._initialized = (base / "data" / "PG_VERSION").exists()
    return cluster.start()


def _history(events: int, args, work: Path, server_url: str | None) -> data.History:
    max_age = timedelta(days=args.max_age_days)
    if args.database == "sqlite":
        return data.sqlite_history(args.cache_dir, work, events, args.seed, max_age=max_age,
                                   progress=_progress)
    return data.postgres_history(server_url, args.cache_dir, events, args.seed,
                                 max_age=max_age, progress=_progress)


def _sender(url: str) -> tuple[str, str, list[str]]:
    """The rep the commands come from (the first AE by id), their name, their open deals."""
    database = Database.from_url(url)
    try:
        with database.read() as session:
            users = session.execute(
                sa.select(User.id, User.display_name)
                .where(User.workspace_id == data.WORKSPACE_ID,
                       User.id.not_in((MANAGER_ID, MARKETING_ID)))
                .order_by(User.id)).all()
            owners = dict(session.execute(
                sa.select(Deal.owner_id, sa.func.count()).where(
                    Deal.workspace_id == data.WORKSPACE_ID).group_by(Deal.owner_id)).all())
            user_id, name = max(users, key=lambda u: (owners.get(u[0], 0), u[0]))
            deals = session.execute(
                sa.select(Deal.key).where(Deal.workspace_id == data.WORKSPACE_ID,
                                          Deal.owner_id == user_id, Deal.outcome == "open",
                                          Deal.stage.in_(("lead", "mql", "sql")))
                .order_by(Deal.key).limit(50)).scalars().all()
    finally:
        database.dispose()
    return user_id, name or user_id, list(deals)


def _server_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


def _measure_size(events: int, args, work: Path, server_url: str | None) -> dict:
    history = _history(events, args, work, server_url)
    try:
        user_id, user_name, deals = _sender(history.url)
        size: dict = {"events": events, "generated_events": history.events,
                      "history_end": history.end.isoformat(), "cached": history.cached,
                      "generated_seconds": history.generated_seconds}
        if history.url.startswith("sqlite"):
            size["database_bytes"] = Path(history.url.removeprefix("sqlite:///")).stat().st_size
        else:
            size["database_version"] = _server_version(history.url)
        _progress(f"{events:,} events: starting kpibot serve")
        server = Server(history.url, work, scheduler=not args.no_scheduler)
        try:
            started = time.perf_counter()
            server.wait_ready()
            size["server_start_seconds"] = round(time.perf_counter() - started, 2)
            client = SlackClient(server.port, team_id=data.TEAM_ID, user_id=user_id,
                                 user_name=user_name)
            samples: dict[str, list[float]] = {}
            for command in COMMANDS:
                _progress(f"{events:,} events: {command.label}")
                for i in range(args.warmup):
                    client.timed(command.texts(i, deals), command.check)
                samples[command.name] = [
                    client.timed(command.texts(args.warmup + i, deals), command.check)
                    for i in range(args.requests)]
            client.close()
            size["server_memory_kib"] = server.memory_kib()
        finally:
            server.stop()
        now = datetime.now(UTC)
        _progress(f"{events:,} events: SQL floors")
        sql = floors.time_floors(history.url, data.WORKSPACE_ID, user_id, now, data.TIMEZONE,
                                 warmup=args.warmup, requests=args.requests)
        size["figures"] = {name: summarize(values) for name, values in samples.items()}
        size["floors"] = {"ping": size["figures"]["ping"],
                          "sql": {name: summarize(values) for name, values in sql.items()}}
        size["ratios"] = {name: {"to_ping": ratios(size["figures"][name],
                                                   size["floors"]["ping"]),
                                 "to_sql": ratios(size["figures"][name],
                                                  size["floors"]["sql"][name])}
                          for name in FLOORED}
        _progress(f"{events:,} events: digest for {args.digest_channels} channels")
        digest = time_digests(history.url, data.WORKSPACE_ID, now, data.TIMEZONE,
                              channels=args.digest_channels, rounds=args.digest_rounds)
        size["digest"] = {"n_channels": args.digest_channels,
                          **{name: summarize(values) for name, values in digest.items()}}
        return size
    finally:
        history.cleanup()


# ------------------------------------------------------------------------------- report

def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        memory = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_kib": memory,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "sqlalchemy": sa.__version__}


def _figures(size: dict) -> list[tuple[str, str, dict]]:
    """(key, label, figure) rows of one size, in table order."""
    rows = [(c.name, c.label, size["figures"][c.name]) for c in COMMANDS]
    rows += [(f"sql:{name}", f"  SQL floor: {name}", f)
             for name, f in size["floors"]["sql"].items()]
    digest = size.get("digest")
    if digest:
        rows.append(("digest:channel", "weekly digest, per channel", digest["channel"]))
        rows += [(f"digest:{part}", f"  {label}", digest[part]) for part, label in
                 (("compose", "compose (SQL + view)"), ("render", "render Block Kit"),
                  ("chart", "draw the chart PNG"))]
        rows.append(("digest:channels", f"weekly digest, {digest['n_channels']} channels",
                     digest["channels"]))
    return rows


def format_size(size: dict) -> str:
    lines = [f"{size['events']:,} events ({size['generated_events']:,} generated, history "
             f"ends {size['history_end'][:16]})",
             f"  {'figure':32} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}   "
             f"{'/ping p50':>9} {'/ping p99':>9}   {'/SQL p50':>8} {'/SQL p99':>8}"]
    for key, label, f in _figures(size):
        line = (f"  {label:32} {f['p50']:8.2f} {f['p95']:8.2f} {f['p99']:8.2f} "
                f"{f['max']:8.2f}")
        r = size["ratios"].get(key)
        if r:
            line += (f"   {r['to_ping']['p50']:9.1f} {r['to_ping']['p99']:9.1f}   "
                     f"{_x(r['to_sql']['p50']):>8} {_x(r['to_sql']['p99']):>8}")
        lines.append(line)
    memory = size["server_memory_kib"]
    lines.append(f"  server peak memory (VmHWM) {memory['VmHWM'] / 1024:.0f} MiB, "
                 f"resident at the end {memory['VmRSS'] / 1024:.0f} MiB")
    return "\n".join(lines)


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def scaling(sizes: list[dict]) -> dict:
    """Each figure at the largest size / at the smallest, per percentile."""
    if len(sizes) < 2:
        return {}
    small, large = sizes[0], sizes[-1]
    out: dict = {"from_events": small["events"], "to_events": large["events"], "figures": {}}
    large_rows = {key: f for key, _label, f in _figures(large)}
    for key, _label, f in _figures(small):
        if key in large_rows:
            out["figures"][key] = ratios(large_rows[key], f)
    out["peak_memory"] = round(large["server_memory_kib"]["VmHWM"]
                               / small["server_memory_kib"]["VmHWM"], 2)
    return out


def format_report(report: dict) -> str:
    m = report["machine"]
    lines = [f"kpibot benchmark · {report['database']} · {report['requests']} requests after "
             f"{report['warmup']} warm-up per figure · milliseconds, end to end over loopback",
             f"machine: {m['cpu']} × {m['cpus']}, {(m['memory_kib'] or 0) / 1048576:.0f} GiB, "
             f"Python {m['python']}, SQLite {m['sqlite']}"
             + "".join(f", PostgreSQL {v}" for v in
                       {s["database_version"] for s in report["sizes"] if "database_version" in s})
             + f", load at start {m['load_average']}", ""]
    lines += [format_size(size) + "\n" for size in report["sizes"]]
    s = report.get("scaling")
    if s:
        lines.append(f"from {s['from_events']:,} to {s['to_events']:,} events "
                     f"(figure at the largest size / at the smallest):")
        labels = {key: label for key, label, _ in _figures(report["sizes"][-1])}
        for key, r in s["figures"].items():
            lines.append(f"  {labels[key].strip():32} " + "  ".join(
                f"{name} ×{_x(r[name])}" for name in PERCENTILES))
        lines.append(f"  {'server peak memory':32} ×{s['peak_memory']}")
    lines.append(f"\nreproduce: {report['command']}")
    return "\n".join(lines)

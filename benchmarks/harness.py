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
changes from the smallest to the largest size. `--json FILE` writes all of it. The server runs
compiled bytecode, as an installed kpibot does (written by one untimed start first), so its
start-up figure does not depend on whether the checkout has bytecode or the environment sets
PYTHONDONTWRITEBYTECODE.

Extension: a new row is one more entry in COMMANDS (through the server) or one more timed
function like `time_digests` added in `_measure_size`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks import data, fanout, floors, targets, throughput
from benchmarks.digest import time_digests
from benchmarks.server import Server, SlackClient
from benchmarks.startup import bytecode_settings
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
LONG_PERIODS = ("this-year", "2020-01-01..2027-01-01")


def _answered(body: dict) -> bool:
    """A reply that is not a refusal (refusals start with a warning sign)."""
    blocks = body.get("blocks") or [{}]
    return bool(_text(body)) and not str(
        (blocks[0].get("text") or {}).get("text", "")).startswith(":warning:")


def long_period_commands() -> tuple[Command, ...]:
    """`/kpi NAME PERIOD` for every KPI of the catalog over each of LONG_PERIODS."""
    from reports.kpis.catalog import CATALOG

    return tuple(Command(f"kpi:{name}:{period}", f"/kpi {name} {period}",
                         lambda i, d, text=f"{name} {period}": text, _answered)
                 for name in CATALOG for period in LONG_PERIODS)


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
                   "--quick 1; 0: no digest row)")
    p.add_argument("--long-requests", type=int, help="timed requests per KPI and long period "
                   "(every catalog KPI over this-year and 2020-01-01..2027-01-01; default 30, "
                   "--quick 1; 0 leaves them out)")
    p.add_argument("--throughput-seconds", type=float, help="seconds per throughput window "
                   "(default 3; --quick 0.3; 0 leaves the throughput out)")
    p.add_argument("--throughput-rounds", type=int, help="windows per server (default 3)")
    p.add_argument("--throughput-clients", type=int, default=32,
                   help="concurrent clients (default 32)")
    p.add_argument("--throughput-workers", type=int, default=2,
                   help="workers of the server compared with one worker (default 2)")
    p.add_argument("--fanout", default=None, help="digest fan-out CHANNELSxWORKSPACES "
                   "(default 1000x100; --quick 6x2; 'none' leaves it out)")
    p.add_argument("--fanout-events", type=int, help="events per fan-out workspace "
                   "(default 2000; --quick 300)")
    p.add_argument("--fanout-trigger", choices=("cron", "startup"),
                   help="cron: due at the next minute, fired by the scheduler's jobs (default); "
                   "startup: due at the minute just past, delivered by the start-up catch-up "
                   "(--quick)")
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
    args.digest_rounds = (args.digest_rounds if args.digest_rounds is not None
                          else (1 if args.quick else 5))
    args.long_requests = (args.long_requests if args.long_requests is not None
                          else (1 if args.quick else 30))
    args.long_warmup = 1 if args.long_requests else 0
    args.throughput_seconds = (args.throughput_seconds if args.throughput_seconds is not None
                               else (0.3 if args.quick else 3.0))
    args.throughput_rounds = args.throughput_rounds or (1 if args.quick else 3)
    args.fanout = args.fanout or ("6x2" if args.quick else "1000x100")
    args.fanout_events = args.fanout_events or (300 if args.quick else 2000)
    args.fanout_trigger = args.fanout_trigger or ("startup" if args.quick else "cron")
    command_line = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None
                                                        else list(argv))
    report = {"command": command_line, "database": args.database,
              "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": machine(), "requests": args.requests, "warmup": args.warmup,
              "digest_channels": args.digest_channels, "digest_rounds": args.digest_rounds,
              "scheduler": not args.no_scheduler, "sizes": []}
    with postgres_server(args) as server_url, \
            tempfile.TemporaryDirectory(prefix="kpibench-") as work:
        report["sizes"] = _measure(args, Path(work), server_url)
        if args.fanout != "none":
            channels, workspaces = (int(x) for x in args.fanout.lower().split("x"))
            report["fanout"] = fanout.run_fanout(
                cache_dir=args.cache_dir, work_dir=Path(work), channels=channels,
                workspaces=workspaces, events=args.fanout_events, seed=args.seed,
                trigger=args.fanout_trigger, progress=_progress)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["scaling"] = scaling(report["sizes"])
    report["targets"] = targets.evaluate(report)
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def postgres_server(args) -> Iterator[str | None]:
    """The PostgreSQL server to create histories on: `--postgres-url`, else a throwaway
    cluster stopped afterwards; None on SQLite."""
    if args.database != "postgresql" or args.postgres_url:
        yield args.postgres_url
        return
    cluster = _throwaway_cluster(args.cache_dir)
    try:
        yield cluster.url("postgres")
    finally:
        cluster.stop()


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


@dataclass
class Live:
    """One size being measured: its history, server, client and floors."""

    events: int
    history: data.History
    size: dict
    server: Server | None = None
    client: SlackClient | None = None
    floors: floors.Floors | None = None
    deals: tuple[str, ...] = ()
    samples: dict | None = None

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
        if self.floors is not None:
            self.floors.close()


def _start(events: int, args, work: Path, server_url: str | None) -> Live:
    history = _history(events, args, work, server_url)
    live = Live(events=events, history=history, samples={},
                size={"events": events, "generated_events": history.events,
                      "history_end": history.end.isoformat(), "cached": history.cached,
                      "generated_seconds": history.generated_seconds})
    if history.url.startswith("sqlite"):
        live.size["database_bytes"] = Path(history.url.removeprefix("sqlite:///")).stat().st_size
    else:
        live.size["database_version"] = _server_version(history.url)
    user_id, user_name, deals = _sender(history.url)
    live.deals = tuple(deals)
    _progress(f"{events:,} events: starting kpibot serve")
    settings = _installed_bytecode(history.url, work, scheduler=not args.no_scheduler)
    live.server = Server(history.url, work, scheduler=not args.no_scheduler, settings=settings)
    started = time.perf_counter()
    live.server.wait_ready()
    live.size["server_start_seconds"] = round(time.perf_counter() - started, 2)
    live.client = SlackClient(live.server.port, team_id=data.TEAM_ID, user_id=user_id,
                              user_name=user_name)
    live.floors = floors.Floors(history.url, data.WORKSPACE_ID, user_id, datetime.now(UTC),
                                data.TIMEZONE)
    return live


def _installed_bytecode(url: str, work: Path, *, scheduler: bool) -> dict[str, str]:
    """The settings under which the timed server runs compiled bytecode, as an installed
    kpibot does (benchmarks/startup.py), written by an untimed start the first time: with
    PYTHONDONTWRITEBYTECODE set (or a checkout without bytecode), every start would compile
    the project's modules from source first, which no deployed server does."""
    settings = bytecode_settings(work)
    pycache = Path(settings["PYTHONPYCACHEPREFIX"])
    if not pycache.exists():
        warm = Server(url, work, scheduler=scheduler, settings=settings)
        try:
            warm.wait_ready()
            time.sleep(1.0)  # the scheduler's modules are imported once the server listens
        finally:
            warm.stop()
    return settings


def _sample(live: Live, key: str, value: float, timed: bool) -> None:
    if timed:
        live.samples.setdefault(key, []).append(value)


def _round(live: Live, i: int, commands: Sequence[Command], *, timed: bool,
           with_floors: bool) -> None:
    """One request of each command, each right after a ping (floor a) and followed by its SQL
    floor (b): whatever else loads the machine loads a figure and its floors alike. The
    pings are kept with the floors (`with_floors`): one per command and round."""
    deals = list(live.deals)
    for command in commands:
        if command.name == "ping":
            continue
        _sample(live, "ping", live.client.timed("ping", COMMANDS[0].check),
                timed and with_floors)
        if with_floors:  # the commands with floors must answer; a refusal stops the run
            elapsed = live.client.timed(command.texts(i, deals), command.check)
        else:  # a long period may hit the command's deadline: counted, not fatal
            elapsed, answered, _raw = live.client.attempt(command.texts(i, deals),
                                                          command.check)
            if timed and not answered:
                live.size.setdefault("refused", {}).setdefault(command.name, 0)
                live.size["refused"][command.name] += 1
        _sample(live, command.name, elapsed, timed)
        if with_floors and command.name in FLOORED:
            _sample(live, f"sql:{command.name}", live.floors.run(command.name), timed)


def _measure(args, work: Path, server_url: str | None) -> list[dict]:
    lives: list[Live] = []
    try:
        for events in args.events:
            lives.append(_start(events, args, work, server_url))
        _progress("requests, sizes and floors interleaved")
        for i in range(args.warmup + args.requests):
            for live in lives:
                _round(live, i, COMMANDS, timed=i >= args.warmup, with_floors=True)
        long = long_period_commands() if args.long_requests else ()
        if long:
            _progress(f"{len(long)} KPI × long period requests")
        for i in range(args.long_warmup + args.long_requests):
            for live in lives:
                _round(live, i, long, timed=i >= args.long_warmup, with_floors=False)
        for live in lives:
            live.size["server_memory_kib"] = live.server.memory_kib()
        if args.throughput_seconds:
            lives[0].size["throughput"] = _throughput(lives[0], args, work, server_url)
    finally:
        for live in lives:
            live.stop()
    sizes = []
    for live in lives:
        try:
            sizes.append(_finish(live, args))
        finally:
            live.history.cleanup()
    return sizes


def _finish(live: Live, args) -> dict:
    size, samples = live.size, live.samples
    size["figures"] = {name: summarize(values) for name, values in samples.items()
                       if not name.startswith("sql:")}
    size["floors"] = {"ping": size["figures"]["ping"],
                      "sql": {name.removeprefix("sql:"): summarize(values)
                              for name, values in samples.items() if name.startswith("sql:")}}
    size["ratios"] = {name: {"to_ping": ratios(size["figures"][name], size["floors"]["ping"]),
                             "to_sql": ratios(size["figures"][name],
                                              size["floors"]["sql"][name])}
                      for name in FLOORED}
    if not args.digest_rounds:
        return size
    now = datetime.now(UTC)
    _progress(f"{live.events:,} events: digest for {args.digest_channels} channels")
    digest = time_digests(live.history.url, data.WORKSPACE_ID, now, data.TIMEZONE,
                          channels=args.digest_channels, rounds=args.digest_rounds)
    size["digest"] = {"n_channels": args.digest_channels,
                      **{name: summarize(values) for name, values in digest.items()}}
    return size


def _throughput(live: Live, args, work: Path, server_url: str | None) -> dict:
    """Requests/s of the running 1-worker server and of an N-worker server on another copy
    of the same history, windows interleaved (benchmarks/throughput.py)."""
    other = _history(live.events, args, work, server_url)
    workers = Server(other.url, work, scheduler=not args.no_scheduler,
                     workers=args.throughput_workers)
    try:
        workers.wait_ready()
        fields = live.client.fields
        texts = [c.texts(i, list(live.deals)) for i in range(4) for c in COMMANDS]
        _progress(f"{live.events:,} events: throughput, 1 vs {args.throughput_workers} "
                  f"workers at {args.throughput_clients} clients")
        result = throughput.measure(
            {"1": live.server.port, str(args.throughput_workers): workers.port},
            lambda port: SlackClient(port, team_id=fields["team_id"], user_id=fields["user_id"],
                                     user_name=fields["user_name"]),
            texts, clients=args.throughput_clients, seconds=args.throughput_seconds,
            rounds=args.throughput_rounds,
            cpu={"1": live.server.cpu_seconds,
                 str(args.throughput_workers): workers.cpu_seconds})
    finally:
        workers.stop()
        other.cleanup()
    one, many = result["1"], result[str(args.throughput_workers)]
    return {"workers": args.throughput_workers, "clients": args.throughput_clients,
            "by_workers": result,
            "speedup": round(many["requests_per_second"] / one["requests_per_second"], 2)}


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
    long = sorted(((k, f) for k, f in size["figures"].items() if k.startswith("kpi:")),
                  key=lambda item: -item[1]["p99"])
    if long:
        lines.append(f"  any KPI, long periods: {len(long)} KPI × period rows, slowest by p99 "
                     f"(p50 / p99 ms, × ping p50):")
        ping = size["floors"]["ping"]["p50"]
        lines += [f"    {k[4:].replace(':', ' '):50} {f['p50']:8.2f} {f['p99']:8.2f}   "
                  f"×{f['p50'] / ping:.1f}" for k, f in long[:8]]
    t = size.get("throughput")
    if t:
        lines.append(f"  throughput at {t['clients']} clients: " + ", ".join(
            f"{w} worker(s) {r['requests_per_second']:.0f} requests/s (p99 "
            f"{r['latency']['p99']:.0f} ms)" for w, r in t["by_workers"].items())
            + f": ×{t['speedup']}")
        lines.append("    CPU seconds over the windows, server / load client: " + ", ".join(
            f"{w} worker(s) {_x(r.get('server_cpu_seconds'))} / "
            f"{_x(r.get('client_cpu_seconds'))} in {r['seconds']:.1f} s"
            for w, r in t["by_workers"].items()))
    lines.append(f"  kpibot serve healthy after {size['server_start_seconds']:.2f} s")
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
    if report.get("fanout"):
        lines.append("\n" + fanout.format_fanout(report["fanout"]))
    lines.append("\n" + targets.format_targets(report["targets"]))
    lines.append(f"\nreproduce: {report['command']}")
    return "\n".join(lines)

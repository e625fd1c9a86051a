"""`python -m benchmarks.startup`: how fast the command line and the server start.

Three figures, measured in turns (one run of each, then the next round), each the median of
`--runs` fresh processes: `kpibot --help`, `kpibot kpi win-rate --json` (a migrated SQLite
database with one workspace) and `kpibot serve` until GET /healthz answers 200 (polled every
10 ms; the server as deployed, with the digest scheduler). Wall time depends on what else the
machine runs; the CPU time the process used (user + system; for serve, until it was healthy)
depends far less on it, so both are printed. SPEC 11: the CLI < 0.3 s, serve healthy < 0.8 s.

As installed, Python runs compiled bytecode: the processes write theirs to a private cache
(PYTHONPYCACHEPREFIX in the run's temporary folder) in an untimed first round, also where the
environment says PYTHONDONTWRITEBYTECODE (then every start would compile the project's ~100
modules from source: `--no-bytecode` measures that). kpibot's compiled SQLite statements
(storage/compiled.py) are kept the same way, in KPIBOT_CACHE_DIR in the temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.server import SOURCE_ROOT, Server

CLI_SECONDS = 0.3
HEALTHY_SECONDS = 0.8


def bytecode_settings(work: Path, bytecode: bool = True) -> dict[str, str]:
    """The environment variables for compiled bytecode in `work` (or none written at all),
    and for kpibot's compiled SQLite statements, which are kept like it (KPIBOT_CACHE_DIR,
    storage/compiled.py: written in `work` by the untimed first round; none written, under
    a file, with `--no-bytecode`)."""
    if not bytecode:
        return {"PYTHONDONTWRITEBYTECODE": "1",
                "KPIBOT_CACHE_DIR": str(work / "startup.db" / "unwritable")}
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(work / "pycache"),
            "KPIBOT_CACHE_DIR": str(work / "kpibot-cache")}


def _env(database_url: str, work: Path, bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TEAMS_", "KPIBOT_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, KPIBOT_LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join(filter(None, (str(SOURCE_ROOT),
                                                        env.get("PYTHONPATH")))))
    env.update(bytecode_settings(work, bytecode))
    return env


def _cli(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `kpibot ARGV` in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", *argv], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"kpibot {' '.join(argv)} failed: {process.stderr.read()[-500:]}")
    process.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def _serve(database_url: str, work: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds from starting `kpibot serve` to its first healthy answer."""
    started = time.perf_counter()
    server = Server(database_url, work, settings={
        k: env[k] for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX") if k in env})
    try:
        server.wait_ready(poll=0.01)
        wall = time.perf_counter() - started
        return wall, server.cpu_seconds()
    finally:
        server.stop()


def _database(work: Path) -> str:
    from datetime import UTC, datetime

    from storage import migrate
    from storage.engine import Database
    from storage.workspaces import ensure_workspace

    url = f"sqlite:///{work / 'startup.db'}"
    migrate.upgrade(url)
    database = Database.from_url(url)
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:TSTART", platform="slack",
                         now=datetime.now(UTC))
    database.dispose()
    return url


FIGURES = {
    "kpibot --help": lambda url, env, work: _cli(["--help"], env, work),
    "kpibot kpi win-rate --json": lambda url, env, work: _cli(
        ["kpi", "win-rate", "--json"], env, work),
    "kpibot serve healthy": lambda url, env, work: _serve(url, work, env),
}
TARGETS = {"kpibot --help": CLI_SECONDS, "kpibot kpi win-rate --json": CLI_SECONDS,
           "kpibot serve healthy": HEALTHY_SECONDS}


def measure(runs: int, *, bytecode: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="kpibench-start-") as tmp:
        work = Path(tmp)
        url = _database(work)
        env = _env(url, work, bytecode)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in FIGURES}
        if bytecode:  # the first start of an installed kpibot compiles; not timed
            for run in FIGURES.values():
                run(url, env, work)
        for _ in range(runs):
            for name, run in FIGURES.items():
                samples[name].append(run(url, env, work))
    figures = {}
    for name, pairs in samples.items():
        walls, cpus = [w for w, _ in pairs], [c for _, c in pairs]
        figures[name] = {"wall_median": round(statistics.median(walls), 3),
                         "wall_min": round(min(walls), 3),
                         "cpu_median": round(statistics.median(cpus), 3),
                         "target": TARGETS[name],
                         "met": statistics.median(walls) < TARGETS[name]}
    return {"runs": runs, "bytecode": bytecode,
            "load_average": [round(x, 2) for x in os.getloadavg()], "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per figure (default 7)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="write no bytecode: every start compiles the project from source")
    args = parser.parse_args(argv)
    report = measure(args.runs, bytecode=not args.no_bytecode)
    print(f"start-up, median of {args.runs} runs "
          f"({'compiled bytecode' if report['bytecode'] else 'no bytecode written'}; load "
          f"average at the end {report['load_average']}), seconds")
    print(f"  {'figure':30} {'wall p50':>9} {'wall min':>9} {'CPU p50':>8}  target")
    for name, f in report["figures"].items():
        print(f"  {name:30} {f['wall_median']:9.3f} {f['wall_min']:9.3f} "
              f"{f['cpu_median']:8.3f}  < {f['target']} s: {'met' if f['met'] else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks.kpis_inprocess DATABASE_URL`: every catalog KPI over the long periods,
in-process, on an existing database (a cached generated history).

Each KPI over each of LONG_PERIODS is answered as `/kpi NAME PERIOD` answers it
(`bot.usecases.kpi.answer_kpi`: the result and its comparison spans) `--repeat` times, each in
a read session of its own on one engine (`Database.read` with a deadline, as a chat command
reads: on PostgreSQL its statements stay prepared between answers, storage/plans.py); the
fastest time is kept, with the value and the per-rep rows, so two code versions run one after
the other on copies of the same history can be compared for speed and for identical answers
(`--json FILE`). No server, no HTTP: on a busy machine this is steadier than the end-to-end
figures of `python -m benchmarks`, which remain the figures of record.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

LONG_PERIODS = ("this-year", "2020-01-01..2027-01-01")


def main(argv: list[str] | None = None) -> None:
    from sqlalchemy import select

    from bot.usecases.kpi import answer_kpi
    from reports.kpis.catalog import CATALOG
    from storage.engine import Database
    from storage.models import Workspace

    p = argparse.ArgumentParser(prog="python -m benchmarks.kpis_inprocess",
                                description=__doc__.split("\n")[0])
    p.add_argument("database_url")
    p.add_argument("--now", default=None, help="the instant answered at (ISO, default: now)")
    p.add_argument("--kpis", default="", help="comma-separated KPI names (default: all)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", help="write {\"NAME PERIOD\": [ms, value, rows]} to this file")
    args = p.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    names = [n for n in args.kpis.split(",") if n] or list(CATALOG)
    database = Database.from_url(args.database_url)
    with database.read() as session:
        workspace = session.scalars(select(Workspace)).first()
    out: dict[str, list] = {}
    for name in names:
        for period in LONG_PERIODS:
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                # a command's deadline, as served (PostgreSQL: its limits, one statement)
                with database.until(time.monotonic() + 30).read() as session:
                    answer = answer_kpi(session, workspace, name, period, now=now,
                                        with_names=False)
                best = min(best, (time.perf_counter() - started) * 1000)
            result = answer.compared.result
            out[f"{name} {period}"] = [round(best, 2), repr(result.value),
                                       repr([(r.key, r.value) for r in result.rows])]
            print(f"{best:9.1f} ms  {name} {period}", flush=True)
    database.dispose()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=0)


if __name__ == "__main__":
    main()

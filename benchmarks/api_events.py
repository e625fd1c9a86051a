"""`python -m benchmarks.api_events`: events a second through the events API, next to the CSV
import's rate for the same events on the same machine.

One generated history (sampledata, seed 7) of `--events` events, written as the
canonical events CSV, then:

    csv import   `kpibot import`'s code (bot.transfer.importer.import_csv) into a fresh database:
                 one transaction, timed in-process
    events API   the real `kpibot serve` in a subprocess; the same events as JSON items (with
                 their `key`s) in batches of `--batch`, from `--clients` concurrent clients over
                 loopback keep-alive connections, timed from the first request to the last
                 response

Every batch must answer 200 with no errors, and each run must store every event. Both rates are
events stored per second of wall time. SQLite by default; `--database postgresql` runs both
on fresh databases of a throwaway PostgreSQL cluster (or of the server at `--postgres-url`).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from benchmarks.data import _admin, _with_database
from benchmarks.server import Server
from bot.api.models import EventItem
from bot.transfer import export
from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import EXPORT_COLUMNS
from sampledata import generate_history
from storage import migrate
from storage.api_tokens import create_token
from storage.engine import Database
from storage.workspaces import ensure_workspace

TOKEN_KEY = "benchmark-token-key-0123456789abcdef"
TIMEZONE = "Europe/Oslo"


def write_csv(events: int, seed: int, path: Path) -> list[list[str]]:
    history = generate_history(workspace_id="slack:TGEN", target_events=events,
                               end=datetime.now(UTC) - timedelta(days=1), seed=seed,
                               timezone=TIMEZONE)
    names = dict(history.users)
    rows = []
    for event in history.events:
        row = export._row(SimpleNamespace(**event.__dict__, voided_at=None), names, "USD", 2)
        rows.append([str(cell) for cell in row])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(rows)
    return rows


def api_items(rows: list[list[str]]) -> list[dict]:
    fields = set(EventItem.model_fields)
    items = []
    for row in rows:
        item = {c: v for c, v in zip(EXPORT_COLUMNS, row, strict=True) if v and c in fields}
        if "count" in item:
            item["count"] = int(item["count"])
        items.append(item)
    return items


class Databases:
    """Fresh migrated databases: SQLite files in `work`, or databases on a PostgreSQL server."""

    def __init__(self, work: Path, postgres_url: str | None) -> None:
        self.work, self.postgres_url, self.created = work, postgres_url, []

    def fresh(self) -> str:
        if self.postgres_url is None:
            url = f"sqlite:///{self.work / f'{uuid.uuid4().hex[:8]}.db'}"
        else:
            name = f"kpibench_api_{uuid.uuid4().hex[:8]}"
            _admin(self.postgres_url, f'CREATE DATABASE "{name}"')
            self.created.append(name)
            url = _with_database(self.postgres_url, name)
        migrate.upgrade(url)
        return url

    def drop(self) -> None:
        for name in self.created:
            _admin(self.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def time_import(url: str, path: Path) -> tuple[int, float]:
    database = Database.from_url(url)
    try:
        started = time.perf_counter()
        result = import_csv(database=database, path=path, options=ImportOptions(
            workspace_id="slack:TCSV", timezone=TIMEZONE))
        seconds = time.perf_counter() - started
    finally:
        database.dispose()
    if result.problems or result.added != result.rows:
        raise RuntimeError(f"import: {result.added} of {result.rows} rows stored, "
                           f"problems {result.problems[:3]}")
    return result.added, seconds


def time_api(url: str, work: Path, items: list[dict], batch: int, clients: int
             ) -> tuple[int, float]:
    database = Database.from_url(url)
    try:
        with database.write() as session:
            ensure_workspace(session=session, workspace_id="slack:TAPI", platform="slack",
                             timezone=TIMEZONE)
            token = create_token(session=session, key=TOKEN_KEY.encode(),
                                 workspace_id="slack:TAPI", name="bench",
                                 now=datetime.now(UTC))
    finally:
        database.dispose()
    server = Server(url, work, scheduler=False, settings={
        "KPIBOT_TOKEN_KEY": TOKEN_KEY, "KPIBOT_API_RATE": "10000", "KPIBOT_API_BURST": "10000"})
    try:
        server.wait_ready()
        bodies = [json.dumps({"events": items[i : i + batch]}).encode()
                  for i in range(0, len(items), batch)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def client(index: int) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            stored = 0
            try:
                for body in bodies[index::clients]:
                    connection.request("POST", "/api/v1/events", body=body, headers=headers)
                    response = connection.getresponse()
                    answer = json.loads(response.read())
                    if response.status != 200 or answer["errors"]:
                        raise RuntimeError(f"HTTP {response.status}: {str(answer)[:500]}")
                    stored += answer["stored"]
            finally:
                connection.close()
            return stored

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            stored = sum(pool.map(client, range(clients)))
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    if stored != len(items):
        raise RuntimeError(f"the API stored {stored} of {len(items)} events")
    return stored, seconds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api_events",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url", help="a PostgreSQL server to create the databases on "
                   "(default: a throwaway cluster)")
    p.add_argument("--json", type=Path, help="write the figures to this file")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kpibot-api-bench-"))
    cluster = None
    if args.database == "postgresql" and not args.postgres_url:
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster().start()  # its own temporary folder, removed by stop()
        args.postgres_url = cluster.url("postgres")
    databases = Databases(work, args.postgres_url if args.database == "postgresql" else None)
    try:
        rows = write_csv(args.events, args.seed, work / "events.csv")
        items = api_items(rows)
        imported, import_seconds = time_import(databases.fresh(), work / "events.csv")
        sent, api_seconds = time_api(databases.fresh(), work, items, args.batch, args.clients)
    finally:
        databases.drop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    backend = args.database
    figures = {
        "database": backend, "events": len(rows),
        "csv_import": {"events": imported, "seconds": round(import_seconds, 2),
                       "events_per_second": round(imported / import_seconds)},
        "events_api": {"events": sent, "seconds": round(api_seconds, 2),
                       "events_per_second": round(sent / api_seconds), "batch": args.batch,
                       "clients": args.clients},
    }
    print(f"{len(rows):,} events on {backend}:")
    print(f"  csv import  {imported / import_seconds:>9,.0f} events/s  ({import_seconds:.1f} s, "
          "one transaction, in-process)")
    print(f"  events API  {sent / api_seconds:>9,.0f} events/s  ({api_seconds:.1f} s, batches "
          f"of {args.batch} from {args.clients} clients over HTTP)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

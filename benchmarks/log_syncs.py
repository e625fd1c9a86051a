"""`python -m benchmarks.log_syncs`: which thread waits for SQLite's WAL checkpoints.

N `/kpi log` commands (the benchmark's mix on the sender's open deals) run through the real
command handler on the main thread, on a copy of a cached SQLite history, twice: with SQLite
set up as every CLI command has it (a checkpoint in the commit that takes the WAL past 1,000
pages) and as `kpibot serve` has it (storage/checkpoints.py: a thread checkpoints). With
`synchronous=NORMAL` in WAL mode SQLite syncs only in a checkpoint (and when the WAL starts
over), so the fdatasync calls `strace` sees per thread say where checkpoints ran: a count,
not a time. Needs `strace`. `--pause-ms` waits that long after each command, as the
benchmark's other requests do between two logs (the checkpointer then finds the WAL idle).

    python -m benchmarks.log_syncs --history .bench-cache/sqlite-10000-seed7.db --commands 1000
    python -m benchmarks.log_syncs --history .bench-cache/sqlite-10000-seed7.db --commands 200 \
        --pause-ms 20
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def _run(history: str, mode: str, commands: int, pause: float = 0.0) -> None:
    """The child: `commands` log commands on the main thread; prints its thread id."""
    from benchmarks import data
    from benchmarks.harness import _log_text, _sender
    from bot.core import CommandRequest
    from storage.checkpoints import SERVE_AUTOCHECKPOINT_PAGES, WalCheckpointer
    from storage.engine import Database
    from tests.support.dialog import Chat

    url = f"sqlite:///{history}"
    user, name, deals = _sender(url)
    serve = mode == "serve"
    database = Database.from_url(
        url, **({"wal_autocheckpoint": SERVE_AUTOCHECKPOINT_PAGES} if serve else {}))
    checkpointer = WalCheckpointer(database.engine).start() if serve else None
    chat = Chat(database, workspace=data.WORKSPACE_ID, now=datetime.now(UTC), admins=(),
                default_user=user)
    print(f"commands-from {os.getpid()} {time.time()}", flush=True)  # after the set-up
    for i in range(commands):
        reply = chat.handler.handle(CommandRequest(
            platform="slack", workspace_id=data.WORKSPACE_ID, user_id=user, user_name=name,
            text=_log_text(i, deals), channel_id="C1"), time.monotonic() + 2)
        assert reply.ok, reply.text
        if pause:
            time.sleep(pause)
    print(f"commands-done {time.time()}", flush=True)
    if checkpointer is not None:
        checkpointer.stop()
    os._exit(0)  # no closing checkpoint


def _count(history: Path, mode: str, commands: int, work: Path, pause_ms: float = 0
           ) -> dict[str, int]:
    copy = work / f"{mode}.db"
    shutil.copyfile(history, copy)
    trace = work / f"{mode}.trace"
    out = subprocess.run(
        ["strace", "-f", "-qq", "-ttt", "-e", "trace=fsync,fdatasync", "-o", str(trace),
         sys.executable, "-m", "benchmarks.log_syncs", "--child", mode, "--history", str(copy),
         "--commands", str(commands), "--pause-ms", str(pause_ms)],
        capture_output=True, text=True, check=True).stdout
    marks = {line.split()[0]: line.split()[1:] for line in out.splitlines()
             if line.startswith("commands-")}
    main, start = int(marks["commands-from"][0]), float(marks["commands-from"][1])
    stop = float(marks["commands-done"][0])
    counts: collections.Counter[str] = collections.Counter()
    for line in trace.read_text().splitlines():
        thread, at = line.split()[:2]
        if start <= float(at) <= stop:  # while the commands ran
            counts["command thread" if int(thread) == main else "checkpointer"] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", required=True, help="a cached SQLite history (.db)")
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="milliseconds between two commands (default 0)")
    parser.add_argument("--child", choices=("default", "serve"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run(args.history, args.child, args.commands, args.pause_ms / 1000)
        return 0
    with tempfile.TemporaryDirectory(prefix="kpibot-syncs-") as work:
        for mode in ("default", "serve"):
            counts = _count(Path(args.history), mode, args.commands, Path(work), args.pause_ms)
            print(f"{mode:8} fdatasync calls while {args.commands} /kpi log ran: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

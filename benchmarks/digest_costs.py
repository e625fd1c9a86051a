"""`python -m benchmarks.digest_costs`: what one digest of the fan-out costs, in-process.

On the fan-out's history (benchmarks/fanout.py, cached), the distinct digests of the first
W workspaces (two languages each) are composed, rendered for Slack and drawn, one after the
other as `SharedDigests` does (the second language shares the first one's facts). Printed per
digest: SQL statements, and CPU milliseconds (process time, so a loaded machine changes them
less than wall time) of composing, rendering and drawing. `--profile` adds cProfile's top
functions of the part named.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from benchmarks.fanout import channel_plan, fanout_database


def main(argv: Sequence[str] | None = None) -> int:
    from bot.digests.compose import compose_digest
    from reports.digest.chart import render_chart_png
    from reports.digest.render import render_slack
    from storage.engine import Database

    p = argparse.ArgumentParser(prog="python -m benchmarks.digest_costs",
                                description=__doc__.split("\n")[0])
    p.add_argument("--workspaces", type=int, default=10, help="workspaces measured")
    p.add_argument("--events", type=int, default=2000, help="events per workspace")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench-cache"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--profile", choices=("compose", "render", "chart"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kpicosts-") as work:
        url, _ = fanout_database(args.cache_dir, Path(work), workspaces=100,
                                 events=args.events, seed=args.seed)
        database = Database.from_url(url)
        digests = sorted({(w, lang, tz) for w, _c, lang, tz in channel_plan(1000, 100)})
        digests = digests[: 2 * args.workspaces]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        statements: list[str] = []
        warm = compose_digest(database=database, workspace_id=digests[0][0], cadence="weekly",
                              timezone=digests[0][2], language=digests[0][1], now=now)
        render_slack(warm)
        render_chart_png(warm.chart)  # imports matplotlib: not a digest's cost
        sa.event.listen(database.engine, "before_cursor_execute",
                        lambda *a: statements.append(a[2]))
        profile = cProfile.Profile()
        spent = {"compose": 0.0, "render": 0.0, "chart": 0.0}
        books: dict[tuple, dict] = {}
        for workspace, language, tz in digests:
            def compose(workspace=workspace, language=language, tz=tz):
                return compose_digest(database=database, workspace_id=workspace,
                                      cadence="weekly", timezone=tz, language=language,
                                      now=now, answers=books.setdefault((workspace, tz), {}))
            digest = _timed(spent, "compose", compose, profile, args.profile)
            _timed(spent, "render", lambda d=digest: render_slack(d), profile, args.profile)
            _timed(spent, "chart", lambda d=digest: render_chart_png(d.chart), profile,
                   args.profile)
        database.dispose()
    n = len(digests)
    print(f"{n} digests ({args.workspaces} workspaces, 2 languages each), per digest: "
          f"{len(statements) / n:.1f} statements; CPU compose {spent['compose'] / n * 1000:.1f}"
          f" ms, render {spent['render'] / n * 1000:.1f} ms, chart "
          f"{spent['chart'] / n * 1000:.1f} ms")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    return 0


def _timed(spent: dict, part: str, call, profile: cProfile.Profile, profiled: str | None):
    if part == profiled:
        profile.enable()
    started = time.process_time()
    try:
        return call()
    finally:
        spent[part] += time.process_time() - started
        if part == profiled:
            profile.disable()


if __name__ == "__main__":
    raise SystemExit(main())

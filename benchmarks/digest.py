"""The weekly digest for N channels, timed in-process (there is no HTTP request behind it).

Per channel, what the scheduler does before posting (bot/digests/delivery.py): compose the
digest from the database (bot.digests.compose.compose_digest: one read session, the digest's
KPIs through SqlFacts), render the Slack Block Kit message and draw the chart PNG. Channels
cycle through the digest languages, as a workspace with several channels would. Posting
(network) is not part of it.
"""

from __future__ import annotations

import time
from datetime import datetime

from storage.engine import Database

LANGUAGES = ("en", "nb", "sv", "ro", "zh")


def time_digests(url: str, workspace_id: str, now: datetime, tz: str, *, channels: int,
                 rounds: int) -> dict[str, list[float]]:
    """Milliseconds: per channel (compose, render, chart, total) and per round of N channels.
    One untimed channel first warms the imports and caches."""
    from bot.digests.compose import compose_digest
    from reports.digest.chart import render_chart_png
    from reports.digest.render import render_slack

    database = Database.from_url(url)
    samples: dict[str, list[float]] = {"compose": [], "render": [], "chart": [],
                                       "channel": [], "channels": []}

    def one(language: str) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        digest = compose_digest(database=database, workspace_id=workspace_id,
                                cadence="weekly", timezone=tz, language=language, now=now)
        t1 = time.perf_counter()
        render_slack(digest)
        t2 = time.perf_counter()
        if not digest.chart.empty:
            render_chart_png(digest.chart)
        t3 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000

    try:
        one("en")
        for _ in range(rounds):
            started = time.perf_counter()
            for channel in range(channels):
                compose, render, chart = one(LANGUAGES[channel % len(LANGUAGES)])
                samples["compose"].append(compose)
                samples["render"].append(render)
                samples["chart"].append(chart)
                samples["channel"].append(compose + render + chart)
            samples["channels"].append((time.perf_counter() - started) * 1000)
    finally:
        database.dispose()
    return samples

"""`python -m benchmarks.home`: the Slack Home tab end to end on generated histories.

For each size: the cached generated history (benchmarks/data.py), the real `kpibot serve` in a
subprocess whose Slack Web API is a local stand-in (tests/support/slack_api.py, in this
process), and signed `app_home_opened` events over loopback, one at a time. A figure is the
time from writing the event to the stand-in receiving the `views.publish` it causes: the
signature check, the ack, composing the Home view from the database (bot/handlers/home.py:
the rep's week against last week, logs, open and stalled deals) and the Web API call. The
rep is the AE with the most deals; `--admin` times the manager's Home (with the team's
funnel, quota and digests) as a second figure. p50/p95/p99 over `--requests` samples after
`--warmup` untimed ones, next to the floor measured in the same run on the same server:
signed `/kpi ping` (no database), so a busy machine shows in both; `--json FILE` writes them.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import data
from benchmarks.harness import _sender, _sizes, machine, postgres_server
from benchmarks.server import BOT_TOKEN, SIGNING_SECRET, Server, SlackClient
from benchmarks.stats import ratios, summarize
from sampledata import MANAGER_ID


def _event_body(user_id: str, number: int) -> bytes:
    return json.dumps({
        "token": "legacy-verification-token", "team_id": data.TEAM_ID, "api_app_id": "ABENCH",
        "type": "event_callback", "event_id": f"EvBENCH{number:08d}", "event_time": 1,
        "event": {"type": "app_home_opened", "user": user_id, "channel": "DBENCH",
                  "tab": "home", "event_ts": f"{time.time():.6f}"}}).encode()


def _signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}"}


def time_home(port: int, slack_api, user_id: str, *, warmup: int, requests: int,
              first: int = 0) -> list[float]:
    """Milliseconds from sending app_home_opened for `user_id` to its views.publish."""
    samples = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(warmup + requests):
            body = _event_body(user_id, first + i)
            headers = _signed(body)
            published = len(slack_api.calls_to("views.publish"))
            started = time.monotonic()
            connection.request("POST", "/slack/events", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"app_home_opened: HTTP {response.status}")
            (call, *_rest) = slack_api.wait_for("views.publish", published + 1,
                                                timeout=30)[published:]
            if call.body.get("user_id") != user_id or not call.response.get("ok"):
                raise RuntimeError(f"views.publish was not the Home of {user_id}: "
                                   f"{call.response}")
            if i >= warmup:
                samples.append((call.at - started) * 1000)
    finally:
        connection.close()
    return samples


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.home",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=_sizes, default=_sizes("1000000"),
                   help="history sizes, comma-separated (default 1000000)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench-cache"))
    p.add_argument("--max-age-days", type=float, default=7.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--admin", action="store_true", help="also time the manager's Home")
    p.add_argument("--json", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from tests.support.slack_api import slack_api_server
    from tests.support.slack_views import SlackViews

    args = parser().parse_args(argv)
    report: dict = {"command": "python -m benchmarks.home " + shlex.join(
        sys.argv[1:] if argv is None else list(argv)), "database": args.database,
        "machine": machine(), "requests": args.requests, "warmup": args.warmup, "sizes": []}
    with postgres_server(args) as server_url, \
            tempfile.TemporaryDirectory(prefix="kpibench-home-") as work, \
            slack_api_server(team_id=data.TEAM_ID) as slack_api:
        SlackViews.install(slack_api)
        slack_api.valid_tokens = {BOT_TOKEN}
        for events in args.events:
            report["sizes"].append(_measure(events, args, Path(work), server_url, slack_api))
    for size in report["sizes"]:
        for name, figure in size["figures"].items():
            label = "/kpi ping (floor)" if name == "ping" else f"Home tab ({name})"
            print(f"{size['events']:>10,} events  {label}: p50 {figure['p50']:.1f} ms  "
                  f"p95 {figure['p95']:.1f} ms  p99 {figure['p99']:.1f} ms")
        print(f"load average {' '.join(map(str, machine()['load_average']))} "
              f"on {machine()['cpus']} CPUs")
    print(f"reproduce: {report['command']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def _measure(events: int, args, work: Path, server_url: str | None, slack_api) -> dict:
    max_age = timedelta(days=args.max_age_days)
    if args.database == "sqlite":
        history = data.sqlite_history(args.cache_dir, work, events, args.seed, max_age=max_age,
                                      progress=_progress)
    else:
        history = data.postgres_history(server_url, args.cache_dir, events, args.seed,
                                        max_age=max_age, progress=_progress)
    try:
        user_id, _name, _deals = _sender(history.url)
        server = Server(history.url, work, scheduler=False, settings={
            "SLACK_API_URL": slack_api.base_url, "KPIBOT_ADMINS": MANAGER_ID})
        figures = {}
        try:
            server.wait_ready()
            client = SlackClient(server.port, team_id=data.TEAM_ID, user_id=user_id,
                                 user_name=user_id)
            for _ in range(args.warmup):
                client.timed("ping", _pong)
            figures["ping"] = summarize([client.timed("ping", _pong)
                                         for _ in range(args.requests)])
            client.close()
            _progress(f"{events:,} events: Home tab of {user_id}")
            figures["rep"] = summarize(time_home(server.port, slack_api, user_id,
                                                 warmup=args.warmup, requests=args.requests))
            if args.admin:
                _progress(f"{events:,} events: Home tab of the manager")
                figures["admin"] = summarize(time_home(
                    server.port, slack_api, MANAGER_ID, warmup=args.warmup,
                    requests=args.requests, first=10**6))
        finally:
            server.stop()
        return {"events": events, "generated_events": history.events,
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "figures": figures,
                "to_ping": {name: ratios(figure, figures["ping"])
                            for name, figure in figures.items() if name != "ping"}}
    finally:
        history.cleanup()


def _pong(body: dict) -> bool:
    return str(body.get("text", "")).startswith("pong")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

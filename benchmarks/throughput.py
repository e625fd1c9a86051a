"""Requests per second of `kpibot serve` with 1 and with N workers, at C concurrent clients.

Both servers run at the same time on their own copies of the history; the load alternates
between them in short windows (1 worker, N workers, 1 worker, ...), so whatever else the
machine is doing hits both alike. Each client is one keep-alive loopback connection sending
Slack-signed slash commands one after another (closed loop), cycling through the benchmark's
commands (`texts`). Requests are signed before the clock starts; a client only checks the
status line and that the reply is the bot's JSON.

The clients share the machine with the servers, so each window also records the CPU seconds
the load generator itself used (this process) and, given `cpu`, the server's: a client that
took a notable share of the cores would cap the servers it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from itertools import cycle

from benchmarks.server import SlackClient
from benchmarks.stats import summarize


def _request(client: SlackClient, text: str) -> bytes:
    body, headers = client.prepare(text)
    head = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{client.port}",
            f"Content-Length: {len(body)}", "Connection: keep-alive"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _one_client(port: int, requests: Sequence[bytes], stop_at: float,
                      latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in cycle(requests):
            if time.perf_counter() >= stop_at:
                return
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200") or not body.startswith(b"{"):
                raise RuntimeError(f"throughput: {status!r} {body[:300]!r}")
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        writer.close()


async def _window(port: int, per_client: list[list[bytes]], seconds: float
                  ) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_one_client(port, requests, started + seconds, latencies)
                           for requests in per_client))
    return len(latencies), time.perf_counter() - started, latencies


def measure(ports: dict[str, int], make_client: Callable[[int], SlackClient],
            texts: Sequence[str], *, clients: int = 32, seconds: float = 3.0,
            rounds: int = 3, warmup: float | None = None,
            cpu: dict[str, Callable[[], float]] | None = None) -> dict[str, dict]:
    """{label: {"requests_per_second", "requests", "seconds", "latency": p50/p95/p99,
    "client_cpu_seconds", "server_cpu_seconds"}} for each server in `ports` ({label: port}),
    windows interleaved; `cpu` ({label: the server's CPU seconds so far}) adds the server's
    CPU per window (None without it)."""
    warmup = min(1.0, seconds) if warmup is None else warmup
    prepared = {}
    for label, port in ports.items():
        signer = make_client(port)
        prepared[label] = [[_request(signer, texts[(c + i) % len(texts)])
                            for i in range(len(texts) * 4)] for c in range(clients)]
    totals = {label: [0, 0.0, [], 0.0, 0.0] for label in ports}
    server_cpu = cpu or {}

    async def run() -> None:
        for label, port in ports.items():  # untimed: connections, caches, first plans
            await _window(port, prepared[label], warmup)
        for _ in range(rounds):
            for label, port in ports.items():
                client_cpu, server = time.process_time(), server_cpu.get(label, float)()
                count, elapsed, latencies = await _window(port, prepared[label], seconds)
                totals[label][3] += time.process_time() - client_cpu
                totals[label][4] += server_cpu.get(label, float)() - server
                totals[label][0] += count
                totals[label][1] += elapsed
                totals[label][2].extend(latencies)

    asyncio.run(run())
    return {label: {"requests_per_second": round(count / elapsed, 1), "requests": count,
                    "seconds": round(elapsed, 2), "latency": summarize(latencies),
                    "client_cpu_seconds": round(client, 2),
                    "server_cpu_seconds": round(server, 2) if label in server_cpu else None}
            for label, (count, elapsed, latencies, client, server) in totals.items()}

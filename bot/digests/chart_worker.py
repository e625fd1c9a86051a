"""`python -m bot.digests.chart_worker`: draws digest charts for another process.

The server (bot/digests/chart_process.py) keeps one of these running while it delivers digests,
so the charts are drawn on a second core and matplotlib is imported here, never in the server.
It reads requests from stdin and writes one answer per request to stdout, in order, until
stdin ends (the server closed it, or died):

- request: 4-byte big-endian length, then that many bytes of JSON: a `ChartData`'s fields
  (`chart_to_json`);
- answer: one status byte, a 4-byte big-endian length, then that many bytes: `P` and the PNG,
  `N` and nothing (an empty chart: `render_chart_png` returned None), or `E` and the error's
  type and message as UTF-8 (the drawing failed; the worker goes on with the next request).

The process holds matplotlib and little else (~65 MiB resident): reports/digest/chart.py
imports neither the digest's builder nor Babel, and OpenSSL is kept out (`main`).

Anything else that would write to stdout (a library's print) goes to stderr instead, so the
answers cannot be corrupted. SIGINT is ignored: a Ctrl-C in the terminal reaches the whole
process group, and the server, which stops gracefully, closes this worker's stdin itself.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
from dataclasses import asdict, fields

from bot.digests.malloc import fix_malloc_thresholds, trim_malloc
from reports.digest.model import ChartData

HEADER = struct.Struct(">I")
ANSWER = struct.Struct(">cI")
PNG, NOTHING, ERROR = b"P", b"N", b"E"
_TUPLES = {f.name for f in fields(ChartData) if str(f.type).startswith("tuple")}


def chart_to_json(chart: ChartData) -> bytes:
    """A request's body: the chart's fields as JSON (floats round-trip exactly)."""
    return json.dumps(asdict(chart), ensure_ascii=False).encode()


def chart_from_json(body: bytes) -> ChartData:
    """The `ChartData` of `chart_to_json(chart)`, equal to `chart`."""
    values = json.loads(body)
    return ChartData(**{key: tuple(value) if key in _TUPLES else value
                        for key, value in values.items()})


def read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from `fd`, or None when it ends first."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def answer(body: bytes) -> bytes:
    """The framed answer to one request's body."""
    from reports.digest.chart import render_chart_png

    try:
        png = render_chart_png(chart_from_json(body))
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as error:
        text = f"{type(error).__name__}: {error}".encode()
        return ANSWER.pack(ERROR, len(text)) + text
    finally:
        trim_malloc()  # a chart frees megabytes of buffers in the middle of the heap
    if png is None:
        return ANSWER.pack(NOTHING, 0)
    return ANSWER.pack(PNG, len(png)) + png


def serve(read_fd: int, write_fd: int) -> int:
    """Answer requests from `read_fd` on `write_fd` until `read_fd` ends."""
    from reports.digest.chart import warm_up

    fix_malloc_thresholds()
    warm_up()  # matplotlib imported and frozen before the first request
    while True:
        header = read_exactly(read_fd, HEADER.size)
        if header is None:
            return 0
        body = read_exactly(read_fd, HEADER.unpack(header)[0])
        if body is None:
            return 0
        write_all(write_fd, answer(body))


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # hashlib's built-in functions, not OpenSSL's: matplotlib imports hashlib and never uses
    # it to draw; OpenSSL's library alone was 3.4 MiB of this process's resident memory.
    sys.modules.setdefault("_hashlib", None)
    read_fd, write_fd = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints cannot corrupt answers
    try:
        return serve(read_fd, write_fd)
    except BrokenPipeError:  # the server went away mid-answer
        return 0


if __name__ == "__main__":
    raise SystemExit(main())

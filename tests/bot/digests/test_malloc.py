"""bot/digests/malloc.py: where glibc puts the server's per-request buffers and a chart's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# In a child process (the thresholds are the process's): after `fix_malloc_thresholds`, the
# start address of a buffer of each size, and the [heap] (the main thread's brk arena).
_PROBE = textwrap.dedent("""
    import asyncio.selector_events, ctypes, json
    from bot.digests.malloc import fix_malloc_thresholds
    assert fix_malloc_thresholds()
    sizes = {"socket read": asyncio.selector_events._SelectorSocketTransport.max_size,
             "chart pixels": 1_800_000}
    kept, where = [], {}
    for name, size in sizes.items():
        buffer = bytearray(size)
        kept.append(buffer)
        where[name] = ctypes.addressof((ctypes.c_char * size).from_buffer(buffer))
    heap = next(line.split()[0] for line in open("/proc/self/maps") if line.endswith("[heap]\\n"))
    low, high = (int(part, 16) for part in heap.split("-"))
    print(json.dumps({name: low <= at < high for name, at in where.items()}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux)")
def test_a_requests_socket_buffer_comes_from_the_heap_and_a_charts_from_mmap():
    """asyncio reads every request into a fresh 256 KiB buffer. Under the old 128 KiB
    threshold each was mmapped, shrunk with mremap and unmapped (a TLB flush on every core
    the server's threads ran on), per request; a chart's pixel buffer still goes to mmap, so
    freeing it gives the memory back (the fan-out's RSS)."""
    root = Path(__file__).resolve().parents[3]  # (no MALLOC_* of the caller's environment)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env=env, check=True, timeout=60).stdout
    assert json.loads(out) == {"socket read": True, "chart pixels": False}

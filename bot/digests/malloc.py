"""glibc malloc settings for a long-running server: memory the digest fan-out frees goes back
to the system. Every function is a no-op (False) off glibc."""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
# Above asyncio's 256 KiB socket read buffer (asyncio.selector_events), allocated for every
# read of a request: at 128 KiB each one was an mmap, a page fault, an mremap to the bytes
# read and an munmap (with its TLB flush on every core that ran a thread of the server).
MALLOC_THRESHOLD = 512 * 1024


def fix_malloc_thresholds(threshold: int = MALLOC_THRESHOLD) -> bool:
    """Fix glibc's mmap and trim thresholds at `threshold`; whether it was done. glibc raises
    the mmap threshold to the size of any mmapped block freed (up to 32 MiB): after the first
    digest chart freed its 1.8 MB pixel buffer, every later buffer came from the heap, and
    the heap only shrinks from its top, so the fan-out's charts and uploads left holes the
    server kept. Fixed thresholds send larger blocks to mmap, returned whole when freed, and
    keep the per-request socket buffers (MALLOC_THRESHOLD) on the heap.
    MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ set by the operator win; other C
    libraries have no such parameters."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    libc = _libc()
    return libc is not None and bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, threshold))


@functools.cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def trim_malloc() -> bool:
    """Give the free pages of every malloc arena back to the system (`malloc_trim(0)`);
    whether any were. The heap only shrinks from its top by itself: a digest chart's freed
    buffers in the middle stayed resident."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))

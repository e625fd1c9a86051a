"""The digests' database work runs on a few threads of its own, so a fan-out holds only as
many database connections.

A thousand schedules due at the same minute each load their schedule, claim their slot, read
their workspace, compose and write the ledger in a worker thread. On asyncio's default
executor (up to six threads on two cores) that opened six pooled connections and kept them.
A SQLite connection costs about 2 MB of its own: the parsed schema (the triggers keeping
`deal_counts`, `deal_durations` and `open_deal_stages` alone are 0.9 MB per connection) and
its prepared statements (the digest's statements, about 0.7 MB). More threads gain nothing
here: writers take turns anyway (storage/engine.py), and composing is Python work under one
interpreter lock with SQLite's reads in between, so two threads keep both cores busy.

The charts are drawn elsewhere (no database); chat commands have their own threads
(bot/core.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

DATABASE_THREADS = 2

T = TypeVar("T")
_executor: tuple[int, ThreadPoolExecutor] | None = None  # (process id, executor)
_lock = threading.Lock()


def database_threads() -> ThreadPoolExecutor:
    """This process's executor for the digests' database work (a forked worker makes its
    own: threads do not survive a fork)."""
    global _executor
    with _lock:
        if _executor is None or _executor[0] != os.getpid():
            _executor = (os.getpid(), ThreadPoolExecutor(
                max_workers=DATABASE_THREADS, thread_name_prefix="kpibot-digest-db"))
        return _executor[1]


async def in_database_thread(fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` on one of the digests' database threads (as `asyncio.to_thread`
    does on the default executor, context variables included).

    A caller cancelled meanwhile (a stopping server, bot/cli/shutdown.py) still waits for the
    work to end: a thread cannot be stopped, and what comes next (handing the unfinished
    claims back) must see the transaction committed or rolled back, not in flight."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    work = loop.run_in_executor(database_threads(), call)
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved: the caller was cancelled, the result is not wanted
        raise

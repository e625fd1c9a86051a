"""Whether a chat command has a COMMIT on its way to the database at a given moment.

A command is answered by its deadline whatever the database does (bot/core.py
`answer_in_time`). "Nothing was stored" is then the truth unless the command's COMMIT was
already out: the server checks `kpibot.commit_by` when it starts the commit (migration 0010),
so a COMMIT sent before the deadline can commit and its answer still be late (a server frozen
just after committing answers when it thaws). The command's thread runs under a `CommitWatch`
(`watched`); storage marks each COMMIT from the moment it is sent until its answer is read
(`committing`: storage/pg_pipeline.py for PostgreSQL, `Database.write` for SQLite), and the
core reads `in_flight` when it must answer without the command's result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_local = threading.local()


class CommitWatch:
    """One command's COMMITs on their way: sent, their answer not read yet."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> bool:
        """A COMMIT is out and its answer has not come back: it may have committed."""
        with self._lock:
            return self._in_flight > 0

    def _add(self, step: int) -> None:
        with self._lock:
            self._in_flight += step


def watched(watch: CommitWatch, work: Callable[..., T], *args: object) -> T:
    """`work(*args)` on this thread, its COMMITs counted in `watch`."""
    _local.watch = watch
    try:
        return work(*args)
    finally:
        _local.watch = None


@contextmanager
def committing() -> Iterator[None]:
    """A COMMIT is sent and its answer read inside the block (nothing when no command on this
    thread is watched)."""
    watch = getattr(_local, "watch", None)
    if watch is None:
        yield
        return
    watch._add(1)
    try:
        yield
    finally:
        watch._add(-1)

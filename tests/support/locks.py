"""PostgreSQL: a test's hold on the workspace's derived-rows lock, and the wait for a command
that queues behind it (no wall clock: the lock table is polled)."""

from __future__ import annotations

import threading

import sqlalchemy as sa

DERIVED_ROWS_LOCK = 0x6B70_6431  # storage/workspaces.py: the lock's first key


def hold_derived_rows_lock(holder: sa.Connection, workspace_id: str) -> None:
    """Take the workspace's derived-rows lock in `holder`'s transaction (until it ends)."""
    holder.execute(sa.text("SET lock_timeout = '5s'"))
    holder.execute(sa.text("SELECT pg_advisory_xact_lock(:k, hashtext(:w))"),
                   {"k": DERIVED_ROWS_LOCK, "w": workspace_id})


def wait_for_lock_waiter(holder: sa.Connection, thread: threading.Thread,
                         locktype: str = "advisory") -> None:
    """Until a statement of `thread` waits for a lock of `locktype`."""
    for _ in range(3000):
        waiting = holder.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = :t AND NOT granted"),
            {"t": locktype}).scalar()
        if waiting:
            return
        thread.join(0.01)
    raise AssertionError("nothing waited for the lock")

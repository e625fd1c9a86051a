"""PostgreSQL: the deals a process has just written, by name, so the next log on one of them that
only stamps it may go out with its COMMIT.

A `/kpi log` of an event that moves its deal nowhere (a meeting, a call on a deal) only stamps
the deal when the deal exists under the event's name (storage/deals.py `stamp_after`). Sent
with its COMMIT, the log is one round trip instead of two, but when the stamp does not apply
the statement is refused (`stamped_or_refused`) and the log is written again the full way:
two round trips and a ROLLBACK more than if it had not tried (storage/recording.py
`store_event`). So a process tries only for a deal it has seen under that name: one it has
refreshed or stamped for a log at the present moment (a backdated event may not name its
deal). What is remembered is a hint, never an answer: the stamp checks the deal's row itself,
so a deal renamed or deleted by another process costs a refused try, never a wrong row. Bounded
(an LRU of `MAX_DEALS` per engine), so never used on another database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

MAX_DEALS = 4096  # (workspace, deal key) pairs remembered per engine, least recently used dropped


class _Names:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.names: OrderedDict[tuple[str, str], str] = OrderedDict()


def _memo(engine: Any) -> _Names:
    engine = getattr(engine, "_proxied", engine)  # (an engine with options: its engine's)
    memo = engine.__dict__.get("_kpibot_deal_names")
    if memo is None:
        memo = engine.__dict__.setdefault("_kpibot_deal_names", _Names())
    return memo


def note(engine: Any, workspace_id: str, key: str, name: str | None) -> None:
    """The deal `key` of the workspace is named `name` now (None: forget it)."""
    memo = _memo(engine)
    with memo.lock:
        if name is None:
            memo.names.pop((workspace_id, key), None)
            return
        memo.names[workspace_id, key] = name
        memo.names.move_to_end((workspace_id, key))
        while len(memo.names) > MAX_DEALS:
            memo.names.popitem(last=False)


def named(engine: Any, workspace_id: str, key: str, name: str | None) -> bool:
    """Whether this process last saw the deal `key` of the workspace named `name`."""
    memo = _memo(engine)
    with memo.lock:
        return name is not None and memo.names.get((workspace_id, key)) == name

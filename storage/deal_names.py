"""PostgreSQL: the names under which a process has just written deals, so that a log on one of
them under another name does not try to stamp it.

A `/kpi log` of an event that moves its deal nowhere (a meeting, a call on a deal) only stamps
the deal when the deal exists under the event's name (storage/deals.py `stamp_after`). It is
sent with its COMMIT, one round trip instead of two; when the stamp does not apply the
statement is refused (`stamped_or_refused`), nothing is committed, and the log is written
again the full way: a round trip more than if it had not tried (storage/recording.py
`store_event`). A process tries unless it knows better: it remembers the name under which it
last wrote each deal (refreshed or stamped for a log at the present moment; a backdated event
may not name its deal), and a log naming that deal otherwise (it renames the deal) goes the
full way at once. What is remembered is a hint, never an answer: the stamp checks the deal's
row itself, so a deal renamed or deleted by another process costs a refused try, never a wrong
row. Bounded (an LRU of `MAX_DEALS` per engine), so never used on another database.
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


def named_otherwise(engine: Any, workspace_id: str, key: str, name: str | None) -> bool:
    """Whether this process last wrote the deal `key` of the workspace under another name than
    `name`."""
    memo = _memo(engine)
    with memo.lock:
        known = memo.names.get((workspace_id, key))
        return known is not None and known != name

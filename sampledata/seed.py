"""Writing a generated history into a database: workspace, users, events in batches, quotas."""

from __future__ import annotations

import importlib
import time as _time
from collections.abc import Callable
from datetime import datetime

from sampledata.history import GeneratedHistory, generate_history
from sampledata.story import MANAGER_ID
from storage.engine import Database
from storage.models import Workspace
from storage.recording import record_events
from storage.workspaces import ensure_user, ensure_workspace


def seed_workspace(
    *,
    database: Database,
    workspace_id: str,
    target_events: int,
    end: datetime,
    seed: int = 7,
    timezone: str = "UTC",
    currency: str = "USD",
    batch_size: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
    platform: str | None = None,
    fiscal_year_start: int = 1,
    reps: int | None = None,
) -> dict:
    """Write a generated history into `database`: workspace, users, events, quotas.

    Each batch of events is its own write transaction. Seeding the same history again adds
    nothing (idempotency keys). `progress(done, target)` is called after each batch. Returns
    {"events": added, "generated": generated, "deals", "users", "quotas", "seconds",
     "events_per_second"}.
    """
    started = _time.perf_counter()
    history = generate_history(workspace_id=workspace_id, target_events=target_events, end=end,
                               seed=seed, reps=reps, timezone=timezone, currency=currency)
    platform = platform or ("teams" if workspace_id.startswith("teams:") else "slack")
    with database.write() as session:
        workspace = ensure_workspace(
            session=session, workspace_id=workspace_id, platform=platform, timezone=timezone,
            currency=currency.upper(), fiscal_year_start=fiscal_year_start, now=history.start,
            name="Generated sales team",
        )
        for user_id, display_name in history.users:
            ensure_user(session=session, workspace_id=workspace_id, user_id=user_id,
                        display_name=display_name, now=history.start)
    added = generated = 0
    for chunk in history.chunks(batch_size):
        with database.write() as session:
            workspace = session.get(Workspace, workspace_id)
            added += record_events(session=session, workspace=workspace, new_events=chunk,
                                   now=history.end)
        generated += len(chunk)
        if progress is not None:
            progress(generated, target_events)
    quotas = _write_quotas(database, history)
    seconds = _time.perf_counter() - started
    run = history.last_run
    return {
        "events": added,
        "generated": generated,
        "deals": run.deals if run else 0,
        "users": len(history.users),
        "quotas": quotas,
        "seconds": seconds,
        "events_per_second": generated / seconds if seconds > 0 else None,
    }


def _write_quotas(database: Database, history: GeneratedHistory) -> int:
    """Set the history's quotas through storage.quotas when that module is there."""
    try:
        quotas_module = importlib.import_module("storage.quotas")
    except ModuleNotFoundError as error:
        if error.name != "storage.quotas":
            raise
        return 0
    set_quota = getattr(quotas_module, "set_quota", None)
    if set_quota is None:
        return 0
    with database.write() as session:
        for user_id, metric, cadence, target in history.quotas:
            set_quota(session=session, workspace_id=history.workspace_id, user_id=user_id,
                      metric=metric, cadence=cadence, target=target, set_by=MANAGER_ID,
                      now=history.start)
    return len(history.quotas)

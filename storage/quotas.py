"""Quotas: one target per rep and metric (revenue, or an event kind), monthly or quarterly.

`target` is minor units of the workspace currency for "revenue" and a count for an event
kind (e.g. `demo-booked` for SDR activity quotas). Setting a quota again replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from reports.events import KINDS
from storage.models import Quota

CADENCES = ("monthly", "quarterly")
REVENUE = "revenue"


def set_quota(*, session: Session, workspace_id: str, user_id: str, metric: str, cadence: str,
              target: int, set_by: str, now: datetime) -> Quota:
    """Create or replace the rep's quota for `metric` (an upsert on its primary key)."""
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be monthly or quarterly, not {cadence!r}")
    if metric != REVENUE and metric not in KINDS:
        raise ValueError(f"metric must be {REVENUE!r} or an event kind, not {metric!r}")
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise ValueError(f"target must be a whole number >= 0, not {target!r}")
    quota = session.get(Quota, (workspace_id, user_id, metric))
    if quota is None:
        quota = Quota(workspace_id=workspace_id, user_id=user_id, metric=metric, cadence=cadence,
                      target=target, set_by=set_by, set_at=now)
    else:
        quota.cadence, quota.target, quota.set_by, quota.set_at = cadence, target, set_by, now
    session.add(quota)
    session.flush()
    return quota


def list_quotas(*, session: Session, workspace_id: str, metric: str | None = None
                ) -> Sequence[Quota]:
    """The workspace's quotas, optionally for one metric, ordered by user then metric."""
    query = select(Quota).where(Quota.workspace_id == workspace_id)
    if metric is not None:
        query = query.where(Quota.metric == metric)
    return session.exec(query.order_by(Quota.user_id, Quota.metric)).all()


def remove_quota(*, session: Session, workspace_id: str, user_id: str,
                 metric: str = REVENUE) -> bool:
    """Delete the rep's quota for `metric`; False when there was none."""
    result = session.execute(sa.delete(Quota).where(
        Quota.workspace_id == workspace_id, Quota.user_id == user_id, Quota.metric == metric))
    session.flush()
    return bool(result.rowcount)

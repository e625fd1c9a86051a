"""Quotas: one target per rep and metric (revenue, or an event kind), monthly or quarterly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from storage.models import Quota


def set_quota(*, session: Session, workspace_id: str, user_id: str, metric: str, cadence: str,
              target: int, set_by: str, now: datetime) -> Quota:
    """Create or replace the rep's quota for `metric`."""
    if cadence not in ("monthly", "quarterly"):
        raise ValueError(f"cadence must be monthly or quarterly, not {cadence!r}")
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
    query = select(Quota).where(Quota.workspace_id == workspace_id)
    if metric is not None:
        query = query.where(Quota.metric == metric)
    return session.exec(query.order_by(Quota.user_id, Quota.metric)).all()

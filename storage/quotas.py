"""Quotas: effective-dated targets per rep and metric (revenue, or an event kind), monthly or
quarterly.

`target` is minor units of the workspace currency for "revenue" and a count for an event
kind (e.g. `demo-booked` for SDR activity quotas). Setting a quota adds a change (rows are kept:
the history); it applies from `effective_from`, by default the first day of the workspace-local
month in which it is set (reports/kpis/quotas.py says which change applies on which day).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from reports.events import KINDS
from reports.kpis.quotas import effective_from_for
from storage.models import Quota, Workspace

CADENCES = ("monthly", "quarterly")
REVENUE = "revenue"


def set_quota(*, session: Session, workspace_id: str, user_id: str, metric: str, cadence: str,
              target: int, set_by: str, now: datetime, effective_from: date | None = None
              ) -> Quota:
    """Add a change of the rep's quota for `metric`, in force from `effective_from` (default:
    the first day of the local month of `now`). `effective_from` after `now`'s local day is
    refused (ValueError). Setting the same target and cadence from the same day as the change
    in force there adds nothing and returns that change."""
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be monthly or quarterly, not {cadence!r}")
    if metric != REVENUE and metric not in KINDS:
        raise ValueError(f"metric must be {REVENUE!r} or an event kind, not {metric!r}")
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise ValueError(f"target must be a whole number >= 0, not {target!r}")
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise ValueError(f"no workspace {workspace_id!r}")
    today = now.astimezone(ZoneInfo(workspace.timezone)).date()
    if effective_from is None:
        effective_from = effective_from_for(today)
    elif effective_from > today:
        raise ValueError(f"effective_from {effective_from.isoformat()} is in the future")
    latest = session.scalars(
        select(Quota).where(Quota.workspace_id == workspace_id, Quota.user_id == user_id,
                            Quota.metric == metric)
        .order_by(Quota.set_at.desc(), Quota.id.desc()).limit(1)).first()
    if latest is not None and (latest.effective_from, latest.cadence, latest.target) == (
            effective_from, cadence, target):
        return latest  # the same change again (a retried command): nothing to add
    quota = Quota(workspace_id=workspace_id, user_id=user_id, metric=metric, cadence=cadence,
                  target=target, effective_from=effective_from, set_by=set_by, set_at=now)
    session.add(quota)
    session.flush()
    return quota


def list_quotas(*, session: Session, workspace_id: str, metric: str | None = None,
                user_id: str | None = None) -> Sequence[Quota]:
    """The workspace's quota changes (optionally one metric, one rep), by user, metric, then in
    the order they were set."""
    query = select(Quota).where(Quota.workspace_id == workspace_id)
    if metric is not None:
        query = query.where(Quota.metric == metric)
    if user_id is not None:
        query = query.where(Quota.user_id == user_id)
    return session.scalars(query.order_by(Quota.user_id, Quota.metric, Quota.set_at,
                                       Quota.id)).all()


def remove_quota(*, session: Session, workspace_id: str, user_id: str,
                 metric: str = REVENUE) -> bool:
    """Delete the rep's quota for `metric`, its whole history; False when there was none."""
    result = session.execute(sa.delete(Quota).where(
        Quota.workspace_id == workspace_id, Quota.user_id == user_id, Quota.metric == metric))
    session.flush()
    return bool(result.rowcount)

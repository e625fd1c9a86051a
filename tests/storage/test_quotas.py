"""Quotas (storage/quotas.py): upsert, list, remove, validation, scoping; on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reports.kpis.facts import Quota as QuotaFact
from storage.events import ensure_workspace
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.quotas import list_quotas, remove_quota, set_quota

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS, OTHER = "slack:TQ1", "slack:TQ2"


def _workspaces(session) -> None:
    for wid in (WS, OTHER):
        ensure_workspace(session=session, workspace_id=wid, platform="slack", now=NOW)


def _set(session, user, metric="revenue", cadence="monthly", target=5_000_000, *, wid=WS,
         now=NOW):
    return set_quota(session=session, workspace_id=wid, user_id=user, metric=metric,
                     cadence=cadence, target=target, set_by="UADMIN", now=now)


def test_set_replaces_list_orders_and_remove_deletes(database):
    with database.write() as s:
        _workspaces(s)
        _set(s, "U2", "demo-booked", target=12)
        _set(s, "U1")
        _set(s, "U1", "revenue", "quarterly", 15_000_000_00, now=NOW + timedelta(days=1))
        _set(s, "U1", "call", target=300)
        _set(s, "U1", wid=OTHER, target=1)
    with database.read() as s:
        rows = list_quotas(session=s, workspace_id=WS)
        assert [(q.user_id, q.metric, q.cadence, q.target) for q in rows] == [
            ("U1", "call", "monthly", 300),
            ("U1", "revenue", "quarterly", 15_000_000_00),  # replaced, BIGINT-sized
            ("U2", "demo-booked", "monthly", 12),
        ]
        assert rows[1].set_at == NOW + timedelta(days=1) and rows[1].set_by == "UADMIN"
        assert [q.user_id for q in list_quotas(session=s, workspace_id=WS,
                                               metric="revenue")] == ["U1"]
        facts = SqlFacts(session=s, workspace=s.get(Workspace, WS))
        assert facts.quotas() == [QuotaFact("U1", "call", "monthly", 300),
                                  QuotaFact("U1", "revenue", "quarterly", 15_000_000_00),
                                  QuotaFact("U2", "demo-booked", "monthly", 12)]
        assert facts.quotas("demo-booked") == [QuotaFact("U2", "demo-booked", "monthly", 12)]
        assert facts.quotas("email-sent") == []
    with database.write() as s:
        assert remove_quota(session=s, workspace_id=WS, user_id="U1", metric="call") is True
        assert remove_quota(session=s, workspace_id=WS, user_id="U1", metric="call") is False
        assert remove_quota(session=s, workspace_id=WS, user_id="U1") is True  # revenue
    with database.read() as s:
        assert [q.metric for q in list_quotas(session=s, workspace_id=WS)] == ["demo-booked"]
        assert [q.target for q in list_quotas(session=s, workspace_id=OTHER)] == [1]


@pytest.mark.parametrize("change, problem", [
    ({"cadence": "weekly"}, "cadence"),
    ({"metric": "bananas"}, "metric"),
    ({"target": -1}, "target"),
    ({"target": 1.5}, "target"),
])
def test_bad_quotas_are_refused(database, change, problem):
    arguments = {"metric": "revenue", "cadence": "monthly", "target": 100} | change
    with database.write() as s:
        _workspaces(s)
        with pytest.raises(ValueError, match=problem):
            _set(s, "U1", **arguments)
    with database.read() as s:
        assert list_quotas(session=s, workspace_id=WS) == []

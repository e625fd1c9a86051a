"""Quotas (storage/quotas.py): effective-dated changes, list, remove, validation, scoping;
on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reports.kpis.facts import Quota as QuotaFact
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.quotas import list_quotas, remove_quota, set_quota
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS, OTHER = "slack:TQ1", "slack:TQ2"


def _workspaces(session) -> None:
    for wid in (WS, OTHER):
        ensure_workspace(session=session, workspace_id=wid, platform="slack", now=NOW)


def _set(session, user, metric="revenue", cadence="monthly", target=5_000_000, *, wid=WS,
         now=NOW, effective_from=None):
    return set_quota(session=session, workspace_id=wid, user_id=user, metric=metric,
                     cadence=cadence, target=target, set_by="UADMIN", now=now,
                     effective_from=effective_from)


def test_set_keeps_history_lists_in_order_and_remove_deletes(database):
    with database.write() as s:
        _workspaces(s)
        _set(s, "U2", "demo-booked", target=12)
        _set(s, "U1")
        _set(s, "U1", "revenue", "quarterly", 15_000_000_00, now=NOW + timedelta(days=1))
        _set(s, "U1", "call", target=300)
        _set(s, "U1", wid=OTHER, target=1)
    with database.read() as s:
        rows = list_quotas(session=s, workspace_id=WS)
        assert [(q.user_id, q.metric, q.cadence, q.target, q.effective_from) for q in rows] == [
            ("U1", "call", "monthly", 300, date(2026, 11, 1)),
            ("U1", "revenue", "monthly", 5_000_000, date(2026, 11, 1)),
            ("U1", "revenue", "quarterly", 15_000_000_00, date(2026, 11, 1)),  # kept, BIGINT
            ("U2", "demo-booked", "monthly", 12, date(2026, 11, 1)),
        ]
        assert rows[2].set_at == NOW + timedelta(days=1) and rows[2].set_by == "UADMIN"
        assert [q.user_id for q in list_quotas(session=s, workspace_id=WS,
                                               metric="revenue")] == ["U1", "U1"]
        facts = SqlFacts(session=s, workspace=s.get(Workspace, WS))
        nov = date(2026, 11, 1)
        assert facts.quotas() == [
            QuotaFact("U1", "call", "monthly", 300, nov, NOW, "UADMIN"),
            QuotaFact("U1", "revenue", "monthly", 5_000_000, nov, NOW, "UADMIN"),
            QuotaFact("U1", "revenue", "quarterly", 15_000_000_00, nov,
                      NOW + timedelta(days=1), "UADMIN"),
            QuotaFact("U2", "demo-booked", "monthly", 12, nov, NOW, "UADMIN")]
        assert facts.quotas("demo-booked") == [
            QuotaFact("U2", "demo-booked", "monthly", 12, nov, NOW, "UADMIN")]
        assert facts.quotas("email-sent") == []
    with database.write() as s:
        assert remove_quota(session=s, workspace_id=WS, user_id="U1", metric="call") is True
        assert remove_quota(session=s, workspace_id=WS, user_id="U1", metric="call") is False
        assert remove_quota(session=s, workspace_id=WS, user_id="U1") is True  # revenue
    with database.read() as s:
        assert [q.metric for q in list_quotas(session=s, workspace_id=WS)] == ["demo-booked"]
        assert [q.target for q in list_quotas(session=s, workspace_id=OTHER)] == [1]


def test_a_quota_applies_from_the_local_month_it_is_set_in_or_from_a_past_day(database):
    """The default first day is the 1st of the month in the workspace's time zone (23:30 UTC
    on 30 November is already 1 December in Auckland); `effective_from` sets another past day;
    the same change again (a retried command) adds nothing."""
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    with database.write() as s:
        ensure_workspace(session=s, workspace_id=WS, platform="slack", now=NOW,
                         timezone="Pacific/Auckland")
        first = _set(s, "U1", now=late)
        again = _set(s, "U1", now=late + timedelta(minutes=5))
        _set(s, "U1", target=6_000_000, now=late, effective_from=date(2026, 11, 16))
    with database.read() as s:
        assert again.id == first.id
        assert [(q.target, q.effective_from) for q in list_quotas(session=s, workspace_id=WS)] \
            == [(5_000_000, date(2026, 12, 1)), (6_000_000, date(2026, 11, 16))]


def test_a_future_effective_day_is_refused_and_nothing_is_stored(database):
    with database.write() as s:
        _workspaces(s)
        with pytest.raises(ValueError, match="future"):
            _set(s, "U1", effective_from=date(2026, 11, 19))
    with database.read() as s:
        assert list_quotas(session=s, workspace_id=WS) == []


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

"""The HubSpot sync under HubSpot's faults and limits, on both databases: 429 (Retry-After,
policyName), 5xx, a bad token, the search's 10,000-result cap, a run that stops halfway and
resumes from its cursor, and two processes wanting the same sync."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sync.runner import SyncFailed, sync_hubspot
from storage.crm_sync import SyncBusy, claim
from storage.models import CrmSync, Event
from tests.bot.sync.expected import expected_deals


def _sync(database, workspace, client, clock, **kwargs):
    return sync_hubspot(database=database, workspace_id=workspace, client=client, clock=clock,
                        **kwargs)


def _events(database, workspace) -> tuple[int, int]:
    """(live events, distinct keys of all events)."""
    with database.read() as session:
        rows = session.execute(select(Event.idempotency_key, Event.voided_at).where(
            Event.workspace_id == workspace)).all()
    assert len({key for key, _ in rows}) == len(rows)
    return sum(voided is None for _, voided in rows), len(rows)


def _row(database, workspace) -> CrmSync:
    with database.read() as session:
        return session.scalars(select(CrmSync).where(CrmSync.workspace_id == workspace)).one()


def test_429_then_success_lands_once(database, workspace, portal, make_client, hub_clock,
                                     sleeps):
    api = portal.api
    api.rate_limit_next("search", retry_after="3", times=2)
    api.rate_limit_next("pipelines", retry_after=None)
    api.fail_next("search", 502, after=1)
    report = _sync(database, workspace, make_client(), hub_clock)
    want = sum(d.events for d in expected_deals(api).values())
    assert report.events_added == want
    assert _events(database, workspace) == (want, want)
    assert sleeps == [1.0, 3.0, 3.0, 1.0]  # pipelines (no header: a second), search x2, 502
    statuses = [r.status for r in api.calls_to("search")]
    assert statuses[:4] == [429, 429, 200, 502] and all(s == 200 for s in statuses[4:])


def test_daily_limit_and_lasting_5xx_stop_with_words_and_resume(database, workspace, portal,
                                                                make_client, hub_clock,
                                                                sleeps):
    api = portal.api
    api.rate_limit_next("search", policy="DAILY", retry_after=None)
    with pytest.raises(SyncFailed, match="daily API limit"):
        _sync(database, workspace, make_client(), hub_clock)
    assert sleeps == []
    assert _row(database, workspace).status == "failed"
    api.fail_next("search", 503, times=6, after=2)
    with pytest.raises(SyncFailed, match=r"kept failing \(503 from HubSpot, 6 tries\)"):
        _sync(database, workspace, make_client(), hub_clock)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]  # doubling between the six tries
    row = _row(database, workspace)
    assert row.status == "failed" and "503" in row.error and row.cursor_at is not None
    assert row.deals_read == 200 and row.lease_owner is None
    stored, _ = _events(database, workspace)
    assert 0 < row.events_added == stored

    searches = len(api.calls_to("search"))
    resumed = _sync(database, workspace, make_client(), hub_clock)
    first = api.calls_to("search")[searches].body["filterGroups"][0]["filters"][0]
    assert int(first["value"]) >= int((row.cursor_at - timedelta(minutes=5)).timestamp() * 1000)
    assert resumed.deals_read < len(api.live_deals())  # from the cursor, not from the start
    want = sum(d.events for d in expected_deals(api).values())
    assert _events(database, workspace) == (want, want)


def test_an_interrupted_run_resumes_without_doubling(database, workspace, portal, make_client,
                                                     hub_clock):
    class Crash(BaseException):
        """The process dies while waiting (kill -9 leaves nothing more to run)."""

    def crash(_seconds):
        raise Crash

    api = portal.api
    api.fail_next("search", 500, after=1)
    with pytest.raises(Crash):
        _sync(database, workspace, make_client(sleep=crash), hub_clock)
    row = _row(database, workspace)
    assert row.status == "failed" and row.error == "stopped: Crash"
    assert row.deals_read == 100
    _sync(database, workspace, make_client(), hub_clock)
    want = sum(d.events for d in expected_deals(api).values())
    assert _events(database, workspace) == (want, want)


def test_a_bad_token_is_a_clear_error_and_never_logged(database, workspace, portal,
                                                        make_client, hub_clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "pat-na1-00000000-wrong-token"
    with pytest.raises(SyncFailed) as failed:
        _sync(database, workspace, make_client(token=secret), hub_clock)
    assert "401" in str(failed.value) and "KPIBOT_HUBSPOT_TOKENS" in str(failed.value)
    row = _row(database, workspace)
    assert row.status == "failed" and "401" in row.error
    assert secret not in caplog.text and secret not in row.error and secret not in str(
        failed.value)
    assert all(not r.authorized for r in portal.api.requests)
    assert _events(database, workspace) == (0, 0)


def test_the_search_cap_restarts_from_the_last_modified_time(database, workspace, portal,
                                                             make_client, hub_clock):
    api = portal.api
    api.search_cap = 150
    report = _sync(database, workspace, make_client(search_cap=150), hub_clock)
    searches = api.calls_to("search")
    assert all(r.status == 200 for r in searches)
    restarts = [r for r in searches if "after" not in r.body]
    assert len(restarts) >= 3  # the first search and a new one per 100 deals past the cap
    want = sum(d.events for d in expected_deals(api).values())
    assert report.events_added == want
    assert _events(database, workspace) == (want, want)


def test_one_process_at_a_time(database, workspace, portal, make_client, hub_clock):
    with database.write() as session:
        claim(session, workspace_id=workspace, crm="hubspot", owner="other-host:1",
              now=hub_clock(), lease=timedelta(minutes=10))
    with pytest.raises(SyncBusy, match="already running"):
        _sync(database, workspace, make_client(), hub_clock)
    assert portal.api.requests == []
    hub_clock.advance(minutes=11)  # the other process died: its lease ran out
    report = _sync(database, workspace, make_client(), hub_clock)
    assert report.events_added > 0 and _row(database, workspace).status == "ok"


def test_a_hubspot_token_in_a_log_line_is_redacted():
    from bot.logs import redact

    line = "config KPIBOT_HUBSPOT_TOKENS=slack:T1=pat-na1-1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"
    assert "1b2c3d4e" not in redact(line) and "[redacted]" in redact(line)
    assert "pat-eu1-0f" not in redact("token pat-eu1-0f3e-11aa failed")


def test_a_used_up_window_is_waited_out_before_the_next_request(database, workspace, portal,
                                                                make_client, hub_clock,
                                                                sleeps):
    portal.api.window_used_up_next("owners", interval_ms=10_000)
    _sync(database, workspace, make_client(), hub_clock)
    assert sleeps == [10.0]
    assert all(r.status == 200 for r in portal.api.requests)

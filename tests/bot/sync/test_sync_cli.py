"""`kpibot sync hubspot|status` through the real CLI entry point, the token settings, and the
scheduled job (one runner per workspace across processes), on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.settings import build_settings
from bot.sync.schedule import HubSpotSyncJob, build_sync_job
from storage.crm_sync import claim
from tests.bot.sync.expected import expected_deals

TOKEN_ENV = "KPIBOT_HUBSPOT_TOKENS"


@pytest.fixture
def env(monkeypatch, database_url, hubspot, workspace):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUBSPOT_API_URL", hubspot.base_url)
    monkeypatch.setenv(TOKEN_ENV, f"slack:T0OTHER=pat-na1-other,{workspace}={hubspot.token}")
    return monkeypatch


def test_sync_then_status_in_words(env, portal, workspace, capsys):
    assert main(["sync", "hubspot", "--workspace", workspace]) == 0
    out = capsys.readouterr().out
    want = sum(d.events for d in expected_deals(portal.api).values())
    assert f"{want:,} events added" in out
    assert 'deal stage "Partner Pipeline/Legal review"' in out
    assert '--stage "Partner Pipeline/Legal review=STAGE"' in out

    assert main(["sync", "status"]) == 0
    status = capsys.readouterr().out
    assert f"{workspace} (HubSpot): last run" in status and "succeeded" in status
    assert f"{want:,} events added, 0 events voided" in status
    assert "cursor: deals changed since 2026-11-18 13:30:00 UTC" in status
    assert "Legal review" in status
    assert portal.api.token not in out + status

    # mapping the unknown stage re-reads every deal and brings its deals in
    legal = [d for d in portal.api.live_deals() if d.properties["dealstage"] == "7005"]
    assert main(["sync", "hubspot", "--workspace", workspace,
                 "--stage", "Partner Pipeline/Legal review=demo"]) == 0
    out = capsys.readouterr().out
    assert f"{len(portal.api.live_deals()):,} deals read" in out
    assert "Legal review" not in out and len(legal) > 0
    assert main(["sync", "status", "--workspace", workspace]) == 0
    assert 'own mappings: stage "partner pipeline legal review" → demo' in \
        capsys.readouterr().out


def test_a_failed_run_says_so_and_status_keeps_the_error(env, portal, workspace, capsys):
    portal.api.fail_next("pipelines", 401)
    assert main(["sync", "hubspot", "--workspace", workspace]) == 1
    err = capsys.readouterr().err
    assert "stopped: HubSpot refused the private app token (401 Unauthorized)" in err
    assert main(["sync", "status"]) == 0
    assert "failed: HubSpot refused the private app token" in capsys.readouterr().out


def test_settings_name_the_problem_never_the_token(monkeypatch, env, capsys):
    assert main(["sync", "hubspot", "--workspace", "slack:T0NONE"]) == 2
    assert "no HubSpot token for slack:T0NONE: set KPIBOT_HUBSPOT_TOKENS=" in \
        capsys.readouterr().err
    monkeypatch.setenv(TOKEN_ENV, "slack:T1=pat-na1-secret-1,pat-na1-secret-2")
    assert main(["sync", "status"]) == 2
    err = capsys.readouterr().err
    assert "pair 2 must look like WORKSPACE=TOKEN" in err and "secret" not in err
    monkeypatch.setenv(TOKEN_ENV, "slack:T1=pat-na1-secret-1")
    assert main(["sync", "hubspot", "--workspace", "slack:T1", "--stage", "Legal=maybe"]) == 2
    assert "--stage \"Legal=maybe\" must look like" in capsys.readouterr().err


def test_scheduled_job_syncs_each_workspace_once_across_processes(env, database, portal,
                                                                  workspace, hub_clock):
    settings = build_settings()
    assert build_sync_job(database, build_settings(KPIBOT_HUBSPOT_TOKENS="")) is None
    assert build_sync_job(database, build_settings(
        KPIBOT_HUBSPOT_INTERVAL_MINUTES=0)) is None
    first = HubSpotSyncJob(database=database, settings=settings, clock=hub_clock)
    second = HubSpotSyncJob(database=database, settings=settings, clock=hub_clock)
    with database.write() as session:  # the first process is in the middle of a run
        claim(session, workspace_id=workspace, crm="hubspot", owner=first.owner,
              now=hub_clock(), lease=timedelta(minutes=10))
    outcomes = second.run_once()
    assert outcomes[workspace].startswith("skipped: a hubspot sync of")
    assert outcomes["slack:T0OTHER"].startswith(  # created, but its token is refused
        "failed: HubSpot refused the private app token (401")
    outcomes = first.run_once()  # its own lease: it goes on
    want = sum(d.events for d in expected_deals(portal.api).values())
    assert outcomes[workspace].endswith(f"{want} events added, 0 voided")
    assert second.run_once()[workspace].endswith("0 events added, 0 voided")


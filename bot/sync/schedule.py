"""The scheduled HubSpot sync: every KPIBOT_HUBSPOT_INTERVAL_MINUTES, each workspace with a
token in KPIBOT_HUBSPOT_TOKENS is synced (bot.sync.runner; the workspace created when new),
one after the other, in a worker thread, the first time as the scheduler starts. Every process
running a scheduler has this job; the sync's lease (storage.crm_sync) lets one of them run a
workspace's sync at a time, the others skip it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import Settings
from bot.sync.hubspot import HubSpotClient
from bot.sync.runner import SyncFailed, ensure_sync_workspace, process_name, sync_hubspot
from storage.crm_sync import SyncBusy
from storage.engine import Database

log = logging.getLogger(__name__)


class HubSpotSyncJob:
    def __init__(self, *, database: Database, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 client_for: Callable[[str], HubSpotClient] | None = None) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.owner = process_name()
        self.client_for = client_for or (lambda workspace_id: HubSpotClient(
            settings.hubspot_token(workspace_id), base_url=settings.hubspot_api_url))
        self.scheduler: AsyncIOScheduler | None = None

    def run_once(self) -> dict[str, str]:
        """Sync every configured workspace now; workspace → outcome in words (logged too)."""
        outcomes = {}
        for workspace_id in self.settings.hubspot_workspaces():
            try:
                ensure_sync_workspace(self.database, workspace_id,
                                      timezone=self.settings.timezone,
                                      currency=self.settings.currency,
                                      fiscal_year_start=self.settings.fiscal_year_start,
                                      now=self.clock())
                report = sync_hubspot(database=self.database, workspace_id=workspace_id,
                                      client=self.client_for(workspace_id), clock=self.clock,
                                      owner=self.owner)
            except SyncBusy as busy:
                outcomes[workspace_id] = f"skipped: {busy}"
            except SyncFailed as failed:
                outcomes[workspace_id] = f"failed: {failed}"
                log.warning("HubSpot sync of %s failed: %s", workspace_id, failed)
                continue
            else:
                outcomes[workspace_id] = (f"{report.deals_read} deals read, "
                                          f"{report.events_added} events added, "
                                          f"{report.events_voided} voided")
            log.info("HubSpot sync of %s: %s", workspace_id, outcomes[workspace_id])
        return outcomes

    async def fire(self) -> dict[str, str]:
        return await asyncio.to_thread(self.run_once)

    async def start(self) -> None:
        """Run now and then every interval, in the running event loop."""
        minutes = self.settings.hubspot_interval_minutes
        self.scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone="UTC")
        self.scheduler.add_job(self.fire, "interval", seconds=minutes * 60, id="hubspot-sync",
                               coalesce=True, max_instances=1,
                               next_run_time=datetime.now(UTC))
        self.scheduler.start()
        log.info("HubSpot sync scheduled every %g minutes for %d workspace(s)", minutes,
                 len(self.settings.hubspot_workspaces()))

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def build_sync_job(database: Database, settings: Settings, clock=None) -> HubSpotSyncJob | None:
    """The job when tokens and an interval are set, else None."""
    if not settings.hubspot_workspaces() or settings.hubspot_interval_minutes <= 0:
        return None
    return HubSpotSyncJob(database=database, settings=settings,
                          **({"clock": clock} if clock is not None else {}))

"""Assemble the running bot from Settings: database, admin directory, handler, Slack app.

Called by the CLI (and by tests with their own Settings); nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.core import BotContext, CommandHandler, WorkspaceDefaults
from bot.digests.handle import SchedulerHandle
from bot.digests.outbound import OutboundPolicy
from bot.handlers.registry import build_command_handler
from bot.settings import Settings
from bot.slack.admins import AdminDirectory, SlackAdminLookup, admin_lookup_client
from bot.slack.app import build_slack_app
from bot.slack.people import SlackProfiles, SlackUsers
from storage.engine import Database

if TYPE_CHECKING:  # the Teams SDK is imported only when Teams is configured (TEAMS_APP_ID)
    from bot.api.off import EventsApiOff
    from bot.api.routes import EventsApi
    from bot.teams.app import TeamsBot

# A command's writes wait at most this long for a lock (an import, another writer), then the
# command is refused: Slack gives up on an answer after 3 s, and a later commit would store an
# event whose user was told it failed.
COMMAND_LOCK_TIMEOUT_MS = 2000


@dataclass
class Bot:
    settings: Settings
    database: Database
    context: BotContext
    handler: CommandHandler
    slack_app: AsyncApp | None = None
    teams: TeamsBot | None = None
    digests: SchedulerHandle | None = None
    api: EventsApi | EventsApiOff | None = None
    chart_process: bool = False  # digest charts drawn by a child process (serve --chart-process)

    @property
    def slack_signing_secret(self) -> str | None:
        secret = self.settings.slack_signing_secret
        return secret.get_secret_value() if secret else None

    def build_digest_scheduler(self):
        """The digest scheduler posting through this bot's Slack and Teams connections."""
        from bot.digests.channels import SlackChannel, TeamsChannel
        from bot.digests.chart_process import ChartProcess, InProcessCharts
        from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
        from bot.digests.scheduler import DigestScheduler
        from bot.digests.shared import SharedDigests

        # the fan-out composes and draws each identical digest once
        shared = SharedDigests(charts=ChartProcess() if self.chart_process
                               else InProcessCharts())
        channels = {}
        token = self.settings.slack_bot_token
        if token:
            from slack_sdk.web.async_client import AsyncWebClient

            channels["slack"] = SlackChannel(AsyncWebClient(
                token=token.get_secret_value(), base_url=self.settings.slack_api_url,
                timeout=15), shared=shared)
        if self.teams is not None:
            channels["teams"] = TeamsChannel(self.teams)
        policy = DeliveryPolicy(max_attempts=self.settings.digest_max_attempts,
                                grace=timedelta(hours=self.settings.digest_grace_hours),
                                lease=timedelta(seconds=self.settings.digest_lease_seconds))
        deliverer = DigestDeliverer(database=self.database, channels=channels,
                                    clock=self.context.clock, policy=policy, shared=shared)
        scheduler = DigestScheduler(deliverer)
        if self.digests is not None:
            self.digests.attach(scheduler)
        return scheduler

    def build_sync_job(self):
        """The scheduled HubSpot sync (bot/sync/schedule.py), or None when not configured
        (then its modules are not imported)."""
        if not self.settings.hubspot_workspaces() or self.settings.hubspot_interval_minutes <= 0:
            return None
        from bot.sync.schedule import build_sync_job

        return build_sync_job(self.database, self.settings, clock=self.context.clock)


def defaults_from(settings: Settings) -> WorkspaceDefaults:
    return WorkspaceDefaults(timezone=settings.timezone, currency=settings.currency,
                             fiscal_year_start=settings.fiscal_year_start)


def build_bot(settings: Settings, *, database: Database | None = None, clock=None,
              outbound: OutboundPolicy | None = None) -> Bot:
    """The bot. `outbound` replaces the webhook policy (tests: the local Teams stand-in)."""
    database = database or Database.from_url(settings.database_url)
    lookups = {}
    slack_users = SlackUsers()  # one users.info per user serves the admin check and the name
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if token:
        lookups["slack"] = SlackAdminLookup(admin_lookup_client(token, settings.slack_api_url),
                                            users=slack_users)
    admins = AdminDirectory(settings.admins, lookups)
    context_kwargs = {"clock": clock} if clock is not None else {}
    if outbound is not None:
        context_kwargs["outbound"] = outbound
    digests = SchedulerHandle()
    context = BotContext(database=database.with_lock_timeout(COMMAND_LOCK_TIMEOUT_MS),
                         admins=admins, defaults=defaults_from(settings), digests=digests,
                         deadline=settings.command_deadline, **context_kwargs)
    handler = build_command_handler(context)
    slack_app = None
    if token:  # over HTTP only with the signing secret (bot/server.py); else Socket Mode
        secret = settings.slack_signing_secret
        slack_app = build_slack_app(
            handler=handler,
            bot_token=token,
            signing_secret=secret.get_secret_value() if secret else None,
            api_url=settings.slack_api_url,
            profiles=SlackProfiles(settings.slack_api_url, users=slack_users),
        )
    teams = None
    if settings.teams_app_id:  # Teams admins: KPIBOT_ADMINS only (no Teams admin look-up)
        from bot.teams.app import build_teams_bot
        from bot.teams.config import TeamsConfig
        from bot.teams.references import DatabaseReferenceStore

        references = DatabaseReferenceStore(database, timezone=settings.timezone,
                                            currency=settings.currency,
                                            fiscal_year_start=settings.fiscal_year_start)
        teams = build_teams_bot(handler=handler, config=TeamsConfig.from_settings(settings),
                                references=references)
    return Bot(settings=settings, database=database, context=context, handler=handler,
               slack_app=slack_app, teams=teams, digests=digests, api=_events_api(
                   settings, database, context.clock))


def _events_api(settings: Settings, database: Database, clock) -> EventsApi | EventsApiOff:
    """The events API; without KPIBOT_TOKEN_KEY the light one that answers 503 (its modules
    are imported only when it is on)."""
    key = settings.token_key.get_secret_value().strip().encode() if settings.token_key else None
    if not key:
        from bot.api.off import EventsApiOff

        return EventsApiOff()
    from bot.api.ratelimit import RateLimiter
    from bot.api.routes import API_LOCK_TIMEOUT_MS, EventsApi

    return EventsApi(database=database.with_lock_timeout(API_LOCK_TIMEOUT_MS), token_key=key,
                     limiter=RateLimiter(rate=settings.api_rate, burst=settings.api_burst),
                     clock=clock)

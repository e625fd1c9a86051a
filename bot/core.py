"""The platform-neutral core: one internal request in, one Reply out.

Adapters (Slack, Teams, console) turn their platform's request into a `CommandRequest` and the
returned `Reply` into their own format. Nothing here imports a web framework or a chat SDK.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot import grammar
from bot.grammar_words import Person
from bot.replies import Reply, error_reply
from storage.engine import Database
from storage.events import ensure_user, ensure_workspace
from storage.models import User, Workspace
from storage.reps import NAMED_REP_PREFIX
from storage.users import known_people

log = logging.getLogger(__name__)

_TYPED_NAME = re.compile(r"(?:^|\s)@\w")  # `@alice` typed as text (a mention is `<@U1>`)


@dataclass(frozen=True)
class CommandRequest:
    platform: str  # "slack" | "teams" | "console"
    workspace_id: str
    user_id: str
    text: str
    channel_id: str | None = None
    user_name: str | None = None
    workspace_name: str | None = None
    idempotency_key: str | None = None  # same key twice stores once (Slack trigger_id)


class AdminDirectory(Protocol):
    def is_admin(self, workspace_id: str, user_id: str) -> bool: ...


class DigestControl(Protocol):
    """What digest commands may ask of the running scheduler (thread-safe)."""

    def schedules_changed(self) -> None: ...

    def send_now(self, schedule: object) -> bool: ...


@dataclass(frozen=True)
class WorkspaceDefaults:
    timezone: str = "UTC"
    currency: str = "USD"
    fiscal_year_start: int = 1


@dataclass(frozen=True)
class BotContext:
    """What handlers need from the outside world; built once by the CLI."""

    database: Database
    admins: AdminDirectory
    defaults: WorkspaceDefaults = WorkspaceDefaults()
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    digests: DigestControl | None = None  # the running scheduler (kpibot serve), if any

    def now(self) -> datetime:
        return self.clock()


@dataclass(frozen=True)
class Invocation:
    """A parsed request with its workspace resolved: the argument of every command handler."""

    request: CommandRequest
    workspace: Workspace
    now: datetime
    context: BotContext

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.workspace.timezone)).date()

    def is_admin(self) -> bool:
        return self.context.admins.is_admin(self.workspace.id, self.request.user_id)


Handler = Callable[[object, Invocation], Reply]


class CommandHandler:
    """Parses `/kpi ...` text and dispatches to the handler registered for the command type."""

    def __init__(self, context: BotContext, handlers: dict[type, Handler], kpi_names=()) -> None:
        self.context = context
        self.handlers = handlers
        self.kpi_names = tuple(kpi_names)

    def handle(self, request: CommandRequest) -> Reply:
        """Answer one request. A database failure is reported, never half-applied."""
        try:
            return self._handle(request)
        except DBAPIError as error:
            log.error("database error while handling a %s command: %s", request.platform,
                      type(error.orig).__name__ if error.orig else type(error).__name__)
            if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
                return error_reply(
                    "The database is busy or not reachable right now, so nothing was stored "
                    "or read. "
                    "Please try again in a minute."
                )
            return error_reply(  # a constraint or a value the database refused: not an outage
                "The database refused this request, so nothing was stored or changed. "
                "If it happens again, please tell your kpibot admin."
            )

    def _handle(self, request: CommandRequest) -> Reply:
        now = self.context.now()
        workspace = self._workspace(request, now)
        invocation = Invocation(request=request, workspace=workspace, now=now,
                                context=self.context)
        try:
            command = grammar.parse_command(
                request.text,
                today=invocation.today,
                currency=workspace.currency,
                kpi_names=self.kpi_names,
                people=self._people(request) if _TYPED_NAME.search(request.text) else (),
            )
        except grammar.UsageError as problem:
            return error_reply(problem.problem, usage=problem.usage, example=problem.example)
        handler = self.handlers.get(type(command))
        if handler is None:
            return error_reply(f"/kpi {request.text.split()[0]} is not available in this version.")
        reply = handler(command, invocation)
        if getattr(command, "public", False) and reply.ok:
            reply = dataclasses.replace(reply, public=True)
        return reply

    def _people(self, request: CommandRequest) -> tuple[Person, ...]:
        """The workspace's chat users, read only when a name is typed as `@name`. Named reps
        from an import (`rep:jane-doe`) are no chat users: a typed @name never means one."""
        with self.context.database.read() as session:
            rows = known_people(session=session, workspace_id=request.workspace_id)
        return tuple(Person(user_id, name, email) for user_id, name, email in rows
                     if not user_id.startswith(NAMED_REP_PREFIX))

    def _workspace(self, request: CommandRequest, now: datetime) -> Workspace:
        """The caller's workspace, created (with the caller's user row) on first contact."""
        with self.context.database.read() as session:
            workspace = session.get(Workspace, request.workspace_id)
            user = session.get(User, (request.workspace_id, request.user_id))
            if workspace is not None and user is not None and (
                not request.user_name or user.display_name == request.user_name
            ):
                return workspace
        defaults = self.context.defaults
        with self.context.database.write() as session:
            workspace = ensure_workspace(
                session=session,
                workspace_id=request.workspace_id,
                platform=request.platform,
                timezone=defaults.timezone,
                currency=defaults.currency,
                fiscal_year_start=defaults.fiscal_year_start,
                name=request.workspace_name,
                now=now,
            )
            ensure_user(session=session, workspace_id=workspace.id, user_id=request.user_id,
                        display_name=request.user_name, now=now)
            return workspace

"""The platform-neutral core: one internal request in, one Reply out.

Adapters (Slack, Teams, console) turn their platform's request into a `CommandRequest` and the
returned `Reply` into their own format. Nothing here imports a web framework or a chat SDK.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.digests.outbound import OutboundPolicy
from bot.grammar import CommandSpec, Grammar, UsageError
from bot.grammar.words import Person
from bot.replies import Reply, Section, error_reply
from reports.format import format_number
from reports.i18n import N_, Translator, translator
from storage import commit_watch, workspace_guess
from storage.commit_unknown import CommitOutcomeUnknown
from storage.engine import Database, DeadlinePassed
from storage.models import Workspace
from storage.reps import NAMED_REP_PREFIX, is_named_rep, link_by_email
from storage.users import known_people
from storage.workspaces import (
    ensure_user,
    ensure_workspace,
    guessed_workspace_and_user,
    workspace_and_user,
)

log = logging.getLogger(__name__)

_TYPED_NAME = re.compile(r"(?:^|\s)@\w")  # `@alice` typed as text (a mention is `<@U1>`)


@dataclass(frozen=True)
class CommandRequest:
    platform: str  # "slack" | "teams" | "console"
    workspace_id: str
    user_id: str
    text: str
    channel_id: str | None = None
    channel_name: str | None = None  # "sales", when the platform tells
    user_name: str | None = None  # the name people know the user by
    user_email: str | None = None  # from the platform's profile, when it tells
    user_language: str | None = None  # en, nb, sv, ro or zh: the user's locale, when known
    workspace_name: str | None = None
    idempotency_key: str | None = None  # same key twice stores once (Slack trigger_id)


class AdminCheckFailed(Exception):
    """Whether the user is an admin could not be found out (the platform did not answer):
    the admin action is refused, nothing is changed."""


class AdminDirectory(Protocol):
    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        """True or False; raises AdminCheckFailed when it cannot tell."""


class DigestControl(Protocol):
    """What digest commands may ask of the running scheduler (thread-safe)."""

    def schedules_changed(self) -> None: ...

    def send_now(self, schedule: object) -> bool: ...


@dataclass(frozen=True)
class WorkspaceDefaults:
    timezone: str = "UTC"
    currency: str = "USD"
    fiscal_year_start: int = 1


# The deadline of every chat command. Slack shows the user a timeout after 3 s; by
# COMMAND_DEADLINE the command's transaction has committed or been rolled back (nothing commits
# later), and ANSWER_MARGIN after it the user has the answer, "nothing was stored" if the work
# is not done. Settings: KPIBOT_COMMAND_DEADLINE (tests of other behaviour give it more room,
# so that a busy test machine does not turn their commands into refusals).
COMMAND_DEADLINE = 2.0  # seconds after the request arrived (KPIBOT_COMMAND_DEADLINE)
ANSWER_MARGIN = 0.3  # the answer goes out by deadline + this, done or not


@dataclass(frozen=True)
class BotContext:
    """What handlers need from the outside world; built once by the CLI."""

    database: Database
    admins: AdminDirectory
    defaults: WorkspaceDefaults = WorkspaceDefaults()
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    digests: DigestControl | None = None  # the running scheduler (kpibot serve), if any
    outbound: OutboundPolicy = OutboundPolicy()  # where user-given URLs (webhooks) may point
    deadline: float = COMMAND_DEADLINE  # seconds a command's database work may take

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

    @property
    def t(self) -> Translator:
        """Translates the reply into the user's language (English when it is not known)."""
        return translator(self.request.user_language or "en")


Handler = Callable[[object, Invocation], Reply]

# English msgids, translated when replied (`refusal`)
DATABASE_DOWN_REPLY = N_("The database is busy or not reachable right now, so nothing was stored "
                         "or read. Please try again in a minute.")
DEADLINE_REPLY = N_("The database did not answer in time, so nothing was stored or changed. "
                    "Please try again in a minute.")
ADMIN_CHECK_REPLY = N_("kpibot could not check with Slack whether you are an admin (Slack did not "
                       "answer in time), so nothing was changed. Please try again in a minute.")
COMMIT_UNKNOWN_REPLY = N_("The database went away while saving this, so kpibot cannot tell whether "
                          "it was stored. Please check in a minute before sending it again.")
COMMIT_LATE_FOLLOWED_REPLY = N_("The database did not answer in time while saving this, so "
                                "kpibot cannot tell yet whether it was stored. kpibot will tell "
                                "you here when the database answers; please do not send it "
                                "again before then.")
COMMIT_LATE_REPLY = N_("The database did not answer in time while saving this, so kpibot cannot "
                       "tell whether it was stored. Please check in a minute before sending it "
                       "again.")
LATE_COMMAND_CHARS = 60  # of the command a late answer names
DATABASE_REFUSED_REPLY = N_("The database refused this request, so nothing was stored or "
                            "changed. If it happens again, please tell your kpibot admin.")


def database_away(error: DBAPIError) -> bool:
    """Whether `error` is the database gone or unreachable (not a statement it refused)."""
    return isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated


def request_translator(request: CommandRequest) -> Translator:
    """The translator of the language the request's user reads."""
    return translator(request.user_language or "en")


def refusal(message: str, request: CommandRequest, /, **fields: object) -> Reply:
    """An error reply of `message` (an English msgid) in the request's language."""
    t = request_translator(request)
    return dataclasses.replace(error_reply(t.gettext(message, **fields), t=t), language=t.language)


@functools.cache
def _command_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="kpibot-command")


FollowUp = Callable[[Reply], None]  # posts a later reply where the request came from, now


async def answer_in_time(handler: CommandHandler, request: CommandRequest, *,
                         arrived: float | None = None,
                         follow_up: FollowUp | None = None) -> Reply:
    """`handler.handle(request)` on a worker thread, answered by the context's deadline plus
    ANSWER_MARGIN after `arrived` (time.monotonic(), default now) whatever the database does.

    Without the command's result by then, "nothing was stored" is the truth unless its COMMIT
    was already out (storage/commit_watch.py): a thread still waiting on a frozen database
    cannot commit any more (its deadline has passed), but a COMMIT the server took before the
    deadline may have committed, its answer held up. Then the reply says kpibot cannot tell
    yet, and `follow_up` (the adapter's: Slack's response_url, a Teams message) gets the
    command's own reply once the database answers. Worker threads are kpibot's own, so threads
    stuck on a frozen database do not starve the event loop's default executor."""
    arrived = time.monotonic() if arrived is None else arrived
    loop = asyncio.get_running_loop()
    deadline = handler.context.deadline
    watch = commit_watch.CommitWatch()
    work = loop.run_in_executor(_command_threads(), commit_watch.watched, watch,
                                handler.handle, request, arrived + deadline)
    try:
        return await asyncio.wait_for(
            asyncio.shield(work), max(arrived + deadline + ANSWER_MARGIN - time.monotonic(), 0))
    except TimeoutError:
        if not watch.in_flight:
            work.cancel()  # (its thread runs on; whatever it ends with is not wanted)
            log.warning("a %s command got no answer from the database in time",
                        request.platform)
            return refusal(DEADLINE_REPLY, request)
    if follow_up is None:
        log.warning("a %s command's COMMIT got no answer in time; its outcome is not known",
                    request.platform)
        return refusal(COMMIT_LATE_REPLY, request)
    log.warning("a %s command's COMMIT got no answer in time; its outcome follows later",
                request.platform)
    work.add_done_callback(functools.partial(_follow_up_late, request, follow_up))
    _LATE.add(work)
    work.add_done_callback(_LATE.discard)
    return dataclasses.replace(refusal(COMMIT_LATE_FOLLOWED_REPLY, request), follows=True)


# The commands answered "cannot tell yet" whose threads still run: a stopping server waits
# for them (`drain_late_answers`), so that their outcome is still told.
_LATE: set[asyncio.Future] = set()


async def drain_late_answers(timeout: float) -> int:
    """Wait up to `timeout` seconds for the commands whose outcome follows later (each one's
    follow-up is started as its thread ends); how many were left."""
    return await drain(_LATE, timeout)


async def drain(running: set[asyncio.Future], timeout: float) -> int:
    """Wait up to `timeout` seconds for the futures of `running` (a set each one leaves when
    done: a stopping server's follow-ups); how many were left."""
    if running:
        await asyncio.wait(set(running), timeout=timeout)
    return len(running)


def _follow_up_late(request: CommandRequest, follow_up: FollowUp, work: asyncio.Future) -> None:
    """The reply of a command answered "cannot tell yet", now that its thread is done."""
    error = asyncio.CancelledError() if work.cancelled() else work.exception()
    if error is None:
        final = work.result()
    else:
        log.error("a %s command answered late failed: %s", request.platform,
                  type(error).__name__, exc_info=error)
        final = refusal(COMMIT_UNKNOWN_REPLY, request)
    follow_up(late_reply(final, request))


def late_reply(reply: Reply, request: CommandRequest) -> Reply:
    """`reply` told later, under a headline that names the command it answers."""
    t = request_translator(request)
    command = " ".join(request.text.split())
    if len(command) > LATE_COMMAND_CHARS:
        command = command[:LATE_COMMAND_CHARS - 1].rstrip() + "…"
    return dataclasses.replace(reply, text=t.gettext(
        "Update on “/kpi {command}”, which the database answered late: {answer}",
        command=command, answer=reply.text), public=False, language=t.language)


# A command that needs no database: answered from the command and the time alone, before any
# workspace lookup, so that it works while the database is down (`/kpi ping`); in the user's
# language (the Translator).
DatabaseFreeHandler = Callable[..., Reply]  # handle(command, now, t=Translator)


def _linked_notice(linked, t: Translator) -> str | None:
    """What an automatic link by email did, in words (the language of `t`), or None."""
    if not linked:
        return None
    names = t.gettext(" and ").join(rep.display_name or rep.id for rep, _ in linked)
    events = sum(result.events for _, result in linked)
    return t.ngettext("Linked the imported rep {names} to you by your email: {count} event now "
                      "counts for you.",
                      "Linked the imported rep {names} to you by your email: {count} events now "
                      "count for you.", events, names=names,
                      count=format_number(events, t.locale))


class CommandHandler:
    """Parses `/kpi ...` text with the grammar of `specs` and dispatches the command to the
    handler of the spec that declares its type."""

    def __init__(self, context: BotContext, specs: Iterable[CommandSpec], kpi_names=()) -> None:
        specs = tuple(specs)
        self.context = context
        self.grammar = Grammar(specs)
        self.handlers: dict[type, Handler] = {
            spec.command: spec.handle for spec in specs
            if spec.handle is not None and not spec.database_free}
        self.kpi_names = tuple(kpi_names)
        self.database_free: dict[str, DatabaseFreeHandler] = {  # first word -> handler
            spec.word: spec.handle for spec in specs
            if spec.handle is not None and spec.database_free}
        guessing = {spec.word for spec in specs  # first words (`_guessed`)
                    if spec.handle is not None and spec.guesses_workspace}
        if "show" in guessing:  # `/kpi win-rate` is `/kpi show win-rate`
            guessing.update(name.casefold() for name in self.kpi_names)
        self.guessing = frozenset(guessing)

    def handle(self, request: CommandRequest, deadline: float | None = None) -> Reply:
        """Answer one request. A database failure is reported, never half-applied.

        `deadline` (a time.monotonic() instant): the command's database work must be done by
        then; past it, it is rolled back and the reply says nothing was stored."""
        return dataclasses.replace(self._answer(request, deadline),
                                   language=request_translator(request).language)

    def _answer(self, request: CommandRequest, deadline: float | None) -> Reply:
        try:
            if deadline is None:
                return self._handle(request, self.context)
            database = self.context.database.until(deadline)
            return self._handle(request, dataclasses.replace(self.context, database=database))
        except DeadlinePassed:
            log.warning("a %s command ran out of time and was rolled back", request.platform)
            return refusal(DEADLINE_REPLY, request)
        except AdminCheckFailed:
            return refusal(ADMIN_CHECK_REPLY, request)
        except CommitOutcomeUnknown:  # (bot/handlers/log.py asks again first)
            log.error("a %s command's COMMIT got no answer and the database did not come back",
                      request.platform)
            return refusal(COMMIT_UNKNOWN_REPLY, request)
        except DBAPIError as error:
            log.error("database error while handling a %s command: %s", request.platform,
                      type(error.orig).__name__ if error.orig else type(error).__name__)
            if database_away(error):
                return refusal(DATABASE_DOWN_REPLY, request)
            # a constraint or a value the database refused: not an outage
            return refusal(DATABASE_REFUSED_REPLY, request)

    def _handle(self, request: CommandRequest, context: BotContext) -> Reply:
        now = context.now()
        words = request.text.split(maxsplit=1)
        database_free = self.database_free.get(words[0].casefold().rstrip("!") if words else "")
        if database_free is not None:
            return self._without_database(database_free, request, now)
        guessed = self._guessed(request, words, context)
        if guessed is not None:
            workspace, guessed_context = guessed
            check = guessed_context.database.workspace_check
            try:
                reply = self._invoke(request, workspace, None, now, guessed_context)
            except DBAPIError as error:
                if not workspace_guess.missed(error):
                    raise
                log.info("a %s command's guess of its workspace missed; answered again",
                         request.platform)  # (nothing stored: its transaction failed)
                workspace_guess.forget(context.database.engine, request.workspace_id,
                                       request.user_id)
            else:
                if check.sent:  # the check passed in the command's first transaction
                    return reply
                # no transaction checked the guess (a usage error, nothing read): answered
                # again from the rows read (nothing was written: every write sends the check)
        try:
            workspace, linked = self._workspace(request, now, context)
        except CommitOutcomeUnknown as lost:  # only the caller's own rows, kept again next
            # time: nothing the request asked for was stored
            raise OperationalError(lost.statement, lost.params, lost.orig,
                                   connection_invalidated=True) from lost
        return self._invoke(request, workspace, linked, now, context)

    def _guessed(self, request: CommandRequest, words: list[str],
                 context: BotContext) -> tuple[Workspace, BotContext] | None:
        """PostgreSQL, a command whose spec `guesses_workspace`, under a deadline (every write
        is then limited, and sends the check: storage/engine.py), from a caller this process
        has read before with the same name and email: the remembered workspace and a context
        whose database sends the check of the guess with the command's first transaction
        (storage/workspace_guess.py). None otherwise: the rows are read first."""
        database = context.database
        if (database.deadline is None or not words or database.dialect != "postgresql"
                or words[0].casefold().rstrip("!") not in self.guessing):
            return None
        guessed = guessed_workspace_and_user(database, request.workspace_id, request.user_id)
        if guessed is None:
            return None
        workspace, user, check = guessed
        if (request.user_name and user[0] != request.user_name) or (
                request.user_email and user[1] != request.user_email):
            return None  # the user row changes: today's path writes it
        checking = database.checking(check, workspace_guess.server_clock(database.engine))
        return workspace, dataclasses.replace(context, database=checking)

    def _invoke(self, request: CommandRequest, workspace: Workspace, linked: str | None,
                now: datetime, context: BotContext) -> Reply:
        """The command parsed for `workspace` and answered by its handler."""
        invocation = Invocation(request=request, workspace=workspace, now=now, context=context)
        try:
            command = self.grammar.parse(
                request.text,
                today=invocation.today,
                currency=workspace.currency,
                kpi_names=self.kpi_names,
                people=(self._people(request, context) if _TYPED_NAME.search(request.text)
                        else ()),
            )
        except UsageError as problem:
            return error_reply(problem.message(invocation.t), usage=problem.usage,
                               example=problem.example, t=invocation.t)
        handler = self.handlers.get(type(command))
        if handler is None:
            return refusal(N_("{command} is not available in this version."), request,
                           command=f"/kpi {request.text.split()[0]}")
        reply = handler(command, invocation)
        if getattr(command, "public", False) and reply.ok:
            reply = dataclasses.replace(reply, public=True)
        if linked:
            reply = dataclasses.replace(reply, sections=(*reply.sections, Section(context=linked)))
        return reply

    def _without_database(self, handler: DatabaseFreeHandler, request: CommandRequest,
                          now: datetime) -> Reply:
        defaults = self.context.defaults
        try:
            command = self.grammar.parse(
                request.text, today=now.astimezone(ZoneInfo(defaults.timezone)).date(),
                currency=defaults.currency, kpi_names=self.kpi_names)
        except UsageError as problem:
            t = translator(request.user_language or "en")
            return error_reply(problem.message(t), usage=problem.usage, example=problem.example,
                               t=t)
        reply = handler(command, now, t=translator(request.user_language or "en"))
        if getattr(command, "public", False) and reply.ok:
            reply = dataclasses.replace(reply, public=True)
        return reply

    def _people(self, request: CommandRequest, context: BotContext) -> tuple[Person, ...]:
        """The workspace's chat users, read only when a name is typed as `@name`. Named reps
        from an import (`rep:jane-doe`) are no chat users: a typed @name never means one."""
        with context.database.read() as session:
            rows = known_people(session=session, workspace_id=request.workspace_id)
        return tuple(Person(user_id, name, email) for user_id, name, email in rows
                     if not user_id.startswith(NAMED_REP_PREFIX))

    def _workspace(self, request: CommandRequest, now: datetime,
                   context: BotContext) -> tuple[Workspace, str | None]:
        """The caller's workspace, created (with the caller's user row) on first contact; the
        user's name and email kept current. A new email links the named rep an import made
        with it; the second value says so (None when nothing was linked)."""
        workspace, user = workspace_and_user(context.database, request.workspace_id,
                                             request.user_id)
        if workspace is not None and user is not None and (
            not request.user_name or user[0] == request.user_name
        ) and (not request.user_email or user[1] == request.user_email):
            return workspace, None
        defaults = context.defaults
        with context.database.write() as session:
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
                        display_name=request.user_name, email=request.user_email, now=now)
            linked = (link_by_email(session=session, workspace_id=workspace.id,
                                    user_id=request.user_id, email=request.user_email, now=now)
                      if request.user_email and not is_named_rep(request.user_id) else [])
            return workspace, _linked_notice(
                linked, translator(request.user_language or "en"))

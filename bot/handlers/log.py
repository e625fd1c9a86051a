"""`/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [@user] [source=S] [reason=R] [on DATE] [note...]`

Stores one event credited to you (or, for admins, to the @user named) and confirms it with an
undo hint and an Undo button. Sending the same Slack request twice stores it once. With nothing
after `log`, Slack and Teams open the logging form instead. A win for a deal already won
says what it was and what it is now ("acme was already won for $12,000 on Nov 28, 2026; now
$15,000"); undo brings the first back (reports/deal_state.py: wins in a row are one win).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from bot.core import Invocation, database_away
from bot.grammar import CommandSpec, LogCommand
from bot.grammar.log import parse_log
from bot.handlers.describe import describe_event
from bot.replies import Reply, Section, error_reply
from reports.format import format_amount
from storage.commit_unknown import CommitOutcomeUnknown
from storage.deals import find_deal
from storage.engine import DeadlinePassed
from storage.models import User
from storage.recording import NewEvent, record_event, store_event
from storage.workspaces import ensure_user

log = logging.getLogger(__name__)
_RETRY_PAUSE = 0.1  # seconds between writes again while the database comes back
_RETRIES = 50  # at most, within the command's deadline


def occurred_at_for(command: LogCommand, invocation: Invocation) -> datetime:
    """Now, or local noon of the backdated day (noon keeps DST edges out of the day)."""
    if command.on_date is None or command.on_date == invocation.today:
        return invocation.now
    zone = ZoneInfo(invocation.workspace.timezone)
    local = datetime.combine(command.on_date, clock_time(12), tzinfo=zone)
    return local.astimezone(invocation.now.tzinfo)


def handle_log(command: LogCommand, invocation: Invocation) -> Reply:
    request = invocation.request
    credited = command.on_behalf_of or request.user_id
    t = invocation.t
    if credited != request.user_id and not invocation.is_admin():
        return error_reply(
            t.gettext("Only admins can log for someone else; nothing was stored."),
            usage="/kpi log EVENT [DEAL] ... (for yourself)",
            example=f"/kpi log {command.kind}" + (f" {command.deal}" if command.deal else ""),
            t=t,
        )
    new = NewEvent(
        kind=command.kind,
        user_id=credited,
        logged_by=request.user_id,
        occurred_at=occurred_at_for(command, invocation),
        idempotency_key=_idempotency_key(request.platform, request.idempotency_key),
        count=command.count,
        amount_minor=command.amount_minor,
        currency=invocation.workspace.currency if command.amount_minor is not None else None,
        duration_seconds=command.duration_seconds,
        mrr_minor=command.mrr_minor,
        deal_key=command.deal_key,
        deal_name=command.deal,
        account_key=command.account.casefold() if command.account else None,
        channel_id=request.channel_id,
        source=command.source,
        source_raw=command.source_raw,
        reason=command.reason,
        competitor=command.competitor,
        note=command.note,
    )
    workspace = invocation.workspace
    recorded, before, after, credited_name = _stored(invocation, new, credited, command)
    event = recorded.event
    headline = t.gettext("Logged {event} (#{id})",
                         event=describe_event(event, workspace, credited_name, t), id=event.id)
    undo = f"/kpi undo {event.id}"
    context = t.gettext("Wrong? {command}", command=undo)
    if recorded.duplicate:
        context = t.gettext("This request was already stored as #{id}; nothing was added.",
                            id=event.id) + " " + context
    sections = []
    if not recorded.duplicate and command.kind == "deal-won" and before and after:
        sections.append(Section(lines=(_rewon(command.deal or command.deal_key, before, after,
                                              event.id, workspace),)))
    return Reply(text=headline, sections=(*sections, Section(context=context)),
                 undo_event=event.id)


def _stored(invocation: Invocation, new: NewEvent, credited: str, command: LogCommand):
    """Stores `new`: (recorded, win before, win after, the credited name). When the database
    went away after the write's COMMIT was sent (CommitOutcomeUnknown), the same event, same
    idempotency key, is written again until the command's deadline: the key stores it once,
    whichever way the first COMMIT went, so the reply can say what is stored. If no second
    write gets through, CommitOutcomeUnknown goes up and the reply says the outcome is not
    known (bot/core.py), never "nothing was stored"."""
    try:
        return _write(invocation, new, credited, command)
    except CommitOutcomeUnknown:
        log.warning("a log's COMMIT got no answer; writing it again with the same key")
    database = invocation.context.database
    for _attempt in range(_RETRIES):  # (a command without a deadline: the console's)
        try:
            database.remaining_ms()
            recorded, before, after, credited_name = _write(invocation, new, credited, command)
        except DeadlinePassed as passed:
            raise CommitOutcomeUnknown("COMMIT", None, passed) from passed
        except DBAPIError as error:
            if not database_away(error):
                raise CommitOutcomeUnknown("COMMIT", None, error.orig or error) from error
            time.sleep(_RETRY_PAUSE)
            continue
        if not recorded.duplicate:
            return recorded, before, after, credited_name
        # the first COMMIT went through: this request's own event, confirmed after all (the
        # win read around it is not the one before this request)
        return dataclasses.replace(recorded, duplicate=False), None, None, credited_name
    raise CommitOutcomeUnknown("COMMIT", None, TimeoutError("the database did not come back"))


def _write(invocation: Invocation, new: NewEvent, credited: str, command: LogCommand):
    """One transaction that stores `new` (and, for a win, reads the deal's win around it)."""
    request = invocation.request
    workspace = invocation.workspace
    rewin = command.kind == "deal-won" and command.deal_key is not None
    before = after = None
    if credited == request.user_id and request.user_name and not rewin:
        # the event is all the command writes (its reply names the caller as the request
        # does): a transaction of its own, one round trip on PostgreSQL without a deal
        recorded = store_event(database=invocation.context.database, workspace=workspace,
                               new=new, now=invocation.now)
        credited_name = request.user_name
    else:
        with invocation.context.database.write() as session:
            if credited != request.user_id:
                ensure_user(session=session, workspace_id=workspace.id, user_id=credited,
                            now=invocation.now)
            before = _win_of(session, workspace.id, command.deal_key) if rewin else None
            recorded = record_event(session=session, workspace=workspace, new=new,
                                    now=invocation.now)
            after = _win_of(session, workspace.id, command.deal_key) if before else None
            credited_name = _credited_name(session, invocation, credited)
    return recorded, before, after, credited_name


def _credited_name(session, invocation: Invocation, credited: str) -> str | None:
    """The credited user's display name: the caller's own name as the request gave it (the
    command has just stored it in the user row), else the row's."""
    request = invocation.request
    if credited == request.user_id and request.user_name:
        return request.user_name
    person = session.get(User, (invocation.workspace.id, credited))
    return person.display_name if person is not None else None


def _win_of(session, workspace_id: str, deal_key: str | None
            ) -> tuple[int | None, str | None, datetime] | None:
    """(amount, currency, won at) of the deal when it is won now, else None."""
    deal = find_deal(session=session, workspace_id=workspace_id, deal_key=deal_key) \
        if deal_key else None
    if deal is None or deal.outcome != "won" or deal.won_at is None:
        return None
    return deal.amount_minor, deal.currency, deal.won_at


def _rewon(deal: str, before: tuple, after: tuple, event_id: int, workspace) -> str:
    """A win logged for a deal already won (SPEC 5: never silently replaced): what it was,
    what it is now, and how to go back."""
    def money(win: tuple) -> str | None:
        minor, currency, _at = win
        return None if minor is None else format_amount(minor, currency or workspace.currency)

    def day(win: tuple) -> str:
        local = win[2].astimezone(ZoneInfo(workspace.timezone))
        return f"{local:%b} {local.day}, {local.year}"

    was = money(before)
    text = (f"{deal} was already won {f'for {was}' if was else 'without an amount'} "
            f"on {day(before)}; ")
    if (before[0], before[2]) == (after[0], after[2]):
        return text + f"it stays that way. /kpi undo {event_id} removes this second win."
    text += f"now {money(after) or 'without an amount'}"
    if day(after) != day(before):
        text += f", won on {day(after)}"
    return text + f". /kpi undo {event_id} restores {was or 'the win without an amount'}."


def _idempotency_key(platform: str, key: str | None) -> str:
    return f"{platform}:{key}" if key else f"{platform}:auto:{uuid.uuid4()}"


LOG = CommandSpec(
    word="log", command=LogCommand, parse=parse_log, handle=handle_log, help=__doc__,
    guesses_workspace=True,
    usage="/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [@user] [source=S] [reason=R] "
          "[on DATE] [note...]",
    example="/kpi log demo-booked acme",
    summary="store one event and confirm it with an undo hint and an Undo button; `/kpi log` "
            "alone opens the logging form (see \"Clicking instead of typing\")")

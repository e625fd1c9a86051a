"""`/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [@user] [source=S] [reason=R] [on DATE] [note...]`

Stores one event credited to you (or, for admins, to the @user named) and confirms it with an
undo hint. Sending the same Slack request twice stores it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.core import Invocation
from bot.grammar import LogCommand
from bot.handlers.describe import describe_event
from bot.replies import Reply, Section, error_reply
from storage.events import NewEvent, ensure_user, record_event
from storage.models import User


def occurred_at_for(command: LogCommand, invocation: Invocation) -> datetime:
    """Now, or local noon of the backdated day (noon keeps DST edges out of the day)."""
    if command.on_date is None or command.on_date == invocation.today:
        return invocation.now
    zone = ZoneInfo(invocation.workspace.timezone)
    local = datetime.combine(command.on_date, time(12), tzinfo=zone)
    return local.astimezone(invocation.now.tzinfo)


def handle_log(command: LogCommand, invocation: Invocation) -> Reply:
    request = invocation.request
    credited = command.on_behalf_of or request.user_id
    if credited != request.user_id and not invocation.is_admin():
        return error_reply(
            "Only admins can log for someone else; nothing was stored.",
            usage="/kpi log EVENT [DEAL] ... (for yourself)",
            example=f"/kpi log {command.kind}" + (f" {command.deal}" if command.deal else ""),
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
    with invocation.context.database.write() as session:
        if credited != request.user_id:
            ensure_user(session=session, workspace_id=invocation.workspace.id, user_id=credited,
                        now=invocation.now)
        recorded = record_event(session=session, workspace=invocation.workspace, new=new,
                                now=invocation.now)
        person = session.get(User, (invocation.workspace.id, credited))
        credited_name = person.display_name if person is not None else None
    event = recorded.event
    headline = (f"Logged {describe_event(event, invocation.workspace, credited_name)} "
                f"(#{event.id})")
    context = f"Wrong? /kpi undo {event.id}"
    if recorded.duplicate:
        context = f"This request was already stored as #{event.id}; nothing was added. {context}"
    return Reply(text=headline, sections=(Section(context=context),))


def _idempotency_key(platform: str, key: str | None) -> str:
    return f"{platform}:{key}" if key else f"{platform}:auto:{uuid.uuid4()}"

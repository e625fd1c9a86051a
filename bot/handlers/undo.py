"""`/kpi undo [ID]` — voids your last event, or event ID. The row is kept and marked void.
Undoing a win says how the deal stands after it (an earlier win of the deal comes back)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.core import Invocation
from bot.grammar import CommandSpec, UndoCommand
from bot.grammar.log import parse_undo
from bot.handlers.describe import describe_event
from bot.replies import Reply, Section, error_reply
from reports.format import format_amount
from reports.i18n import Translator
from storage.deals import find_deal
from storage.event_queries import EventNotFound, find_last_logged, get_event
from storage.recording import void_event


def handle_undo(command: UndoCommand, invocation: Invocation) -> Reply:
    request = invocation.request
    workspace = invocation.workspace
    t = invocation.t
    usage = {"usage": "/kpi undo [ID]", "example": "/kpi undo 42", "t": t}
    with invocation.context.database.write() as session:
        if command.event_id is None:
            event = find_last_logged(session=session, workspace_id=workspace.id,
                                     logged_by=request.user_id)
            if event is None:
                return error_reply(t.gettext(
                    "You have nothing to undo: no event logged by you is active."), **usage)
        else:
            try:
                event = get_event(session=session, workspace_id=workspace.id,
                                  event_id=command.event_id)
            except EventNotFound:
                return error_reply(t.gettext("There is no event #{id} in this workspace.",
                                             id=command.event_id), **usage)
            own = request.user_id in (event.logged_by, event.user_id)
            if not own and not invocation.is_admin():
                return error_reply(t.gettext(
                    "Event #{id} was logged by someone else; only they or an admin can "
                    "undo it.", id=event.id), **usage)
            if event.voided_at is not None:
                return error_reply(t.gettext("Event #{id} was already undone; nothing changed.",
                                             id=event.id), t=t)
        void_event(session=session, workspace=workspace, event_id=event.id,
                   voided_by=request.user_id, now=invocation.now)
        deal = find_deal(session=session, workspace_id=workspace.id, deal_key=event.deal_key) \
            if event.deal_key and event.kind == "deal-won" else None
        restored = _still_won(deal, workspace, t)
    sections = (Section(lines=(restored,)),) if restored else ()
    return Reply(
        text=t.gettext("Undone #{id}: {event}", id=event.id,
                       event=describe_event(event, workspace, t=t)),
        sections=(*sections, Section(context=t.gettext(
            "The event is kept, marked void, and no longer counts."))),
    )


def _still_won(deal, workspace, t: Translator) -> str | None:
    """After undoing a win: the deal's win that stands (an earlier one restored), if any."""
    if deal is None or deal.outcome != "won" or deal.won_at is None:
        return None
    local = deal.won_at.astimezone(ZoneInfo(workspace.timezone))
    day = (f"{local:%b} {local.day}, {local.year}" if t.language == "en"
           else format_date(local.date(), "medium", locale=t.locale))
    if deal.amount_minor is None:
        return t.gettext("{deal} is won without an amount (on {day}).", deal=deal.name, day=day)
    amount = format_amount(deal.amount_minor, deal.currency or workspace.currency, t.locale)
    return t.gettext("{deal} is won for {amount} (on {day}).", deal=deal.name, amount=amount,
                     day=day)


UNDO = CommandSpec(
    word="undo", command=UndoCommand, parse=parse_undo, handle=handle_undo, help=__doc__,
    usage="/kpi undo [ID]", example="/kpi undo 42",
    summary="void your last event, or event `ID` (yours, or anyone's if you are an admin)",
    guesses_workspace=True,  # its first statement is its write transaction's (the check's)
)

"""`/kpi undo [ID]` — voids your last event, or event ID. The row is kept and marked void.
Undoing a win says how the deal stands after it (an earlier win of the deal comes back)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core import Invocation
from bot.grammar import UndoCommand
from bot.handlers.describe import describe_event
from bot.replies import Reply, Section, error_reply
from reports.format import format_amount
from storage.deals import find_deal
from storage.event_queries import EventNotFound, find_last_logged, get_event
from storage.recording import void_event


def handle_undo(command: UndoCommand, invocation: Invocation) -> Reply:
    request = invocation.request
    workspace = invocation.workspace
    with invocation.context.database.write() as session:
        if command.event_id is None:
            event = find_last_logged(session=session, workspace_id=workspace.id,
                                     logged_by=request.user_id)
            if event is None:
                return error_reply("You have nothing to undo: no event logged by you is active.",
                                   usage="/kpi undo [ID]", example="/kpi undo 42")
        else:
            try:
                event = get_event(session=session, workspace_id=workspace.id,
                                  event_id=command.event_id)
            except EventNotFound:
                return error_reply(f"There is no event #{command.event_id} in this workspace.",
                                   usage="/kpi undo [ID]", example="/kpi undo 42")
            own = request.user_id in (event.logged_by, event.user_id)
            if not own and not invocation.is_admin():
                return error_reply(
                    f"Event #{event.id} was logged by someone else; only they or an admin can "
                    "undo it.",
                    usage="/kpi undo [ID]", example="/kpi undo 42")
            if event.voided_at is not None:
                return error_reply(f"Event #{event.id} was already undone; nothing changed.")
        void_event(session=session, workspace=workspace, event_id=event.id,
                   voided_by=request.user_id, now=invocation.now)
        deal = find_deal(session=session, workspace_id=workspace.id, deal_key=event.deal_key) \
            if event.deal_key and event.kind == "deal-won" else None
        restored = _still_won(deal, workspace)
    sections = (Section(lines=(restored,)),) if restored else ()
    return Reply(
        text=f"Undone #{event.id}: {describe_event(event, workspace)}",
        sections=(*sections,
                  Section(context="The event is kept, marked void, and no longer counts.")),
    )


def _still_won(deal, workspace) -> str | None:
    """After undoing a win: the deal's win that stands (an earlier one restored), if any."""
    if deal is None or deal.outcome != "won" or deal.won_at is None:
        return None
    local = deal.won_at.astimezone(ZoneInfo(workspace.timezone))
    amount = ("without an amount" if deal.amount_minor is None else
              f"for {format_amount(deal.amount_minor, deal.currency or workspace.currency)}")
    return f"{deal.name} is won {amount} (on {local:%b} {local.day}, {local.year})."

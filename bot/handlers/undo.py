"""`/kpi undo [ID]` — voids your last event, or event ID. The row is kept and marked void."""

from __future__ import annotations

from bot.core import Invocation
from bot.grammar import UndoCommand
from bot.handlers.describe import describe_event
from bot.replies import Reply, Section, error_reply
from storage.events import EventNotFound, find_last_logged, get_event, void_event


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
    return Reply(
        text=f"Undone #{event.id}: {describe_event(event, workspace)}",
        sections=(Section(context="The event is kept, marked void, and no longer counts."),),
    )

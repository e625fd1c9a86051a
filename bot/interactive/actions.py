"""What buttons, forms and card actions do, on every platform.

Each one runs the command a person could type, through the same `CommandHandler` (grammar,
deadline, workspace scoping, admin checks, idempotency): Undo runs `/kpi undo ID` for the
event its signed value names, a submitted logging form runs the `/kpi log ...` text that
bot/interactive/log_form.py reads out of its fields, a digest button runs `/kpi funnel`. So a
click is refused, stored or deduplicated exactly as the typed command would be.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from bot.core import (
    BotContext,
    CommandHandler,
    CommandRequest,
    FollowUp,
    answer_in_time,
    refusal,
)
from bot.interactive.log_form import FormResult, read_form
from bot.interactive.values import ActionValues
from bot.replies import Reply
from reports.i18n import N_, translator
from storage.engine import DeadlinePassed
from storage.models import Workspace

log = logging.getLogger(__name__)

UNDO = "undo"
NOT_THIS_BUTTON = N_("This Undo button does not belong to this workspace (or was changed), so "
                     "nothing was undone. /kpi undo ID undoes an event by its number.")


@dataclass(frozen=True)
class Actor:
    """Who clicked or submitted, where."""

    platform: str
    workspace_id: str
    user_id: str
    channel_id: str | None = None
    user_name: str | None = None
    workspace_name: str | None = None
    user_language: str | None = None  # en, nb, sv, ro or zh when the platform says

    def request(self, text: str, key: str | None = None,
                channel_id: str | None = None) -> CommandRequest:
        return CommandRequest(platform=self.platform, workspace_id=self.workspace_id,
                              user_id=self.user_id, text=text,
                              channel_id=channel_id or self.channel_id,
                              user_name=self.user_name, workspace_name=self.workspace_name,
                              user_language=self.user_language, idempotency_key=key)


async def run_text(handler: CommandHandler, actor: Actor, text: str, *, key: str | None = None,
                   channel_id: str | None = None, follow_up: FollowUp | None = None) -> Reply:
    """The reply to `/kpi TEXT` typed by `actor` (same path, deadline and answers; a late
    commit's outcome through `follow_up`, as a typed command's)."""
    return await answer_in_time(handler, actor.request(text, key, channel_id),
                                follow_up=follow_up)


async def undo_from_button(handler: CommandHandler, values: ActionValues, actor: Actor,
                           value: object, *, follow_up: FollowUp | None = None) -> Reply:
    """`/kpi undo ID` for the event the button's signed value names in the actor's workspace:
    only its author or an admin may; a second click answers that it was already undone."""
    event_id = values.read(UNDO, actor.workspace_id, value)
    if event_id is None:
        return refusal(NOT_THIS_BUTTON, actor.request("undo"))
    return await run_text(handler, actor, f"undo {event_id}", follow_up=follow_up)


READ_FAILURES = (DBAPIError, DeadlinePassed)  # a read behind a view: answered, not raised
VIEW_READ_SECONDS = 5.0  # the most a view's reads may take (a frozen database)


def bounded(context: BotContext) -> BotContext:
    """The context with reads that give up after VIEW_READ_SECONDS (DeadlinePassed)."""
    deadline = time.monotonic() + max(context.deadline, VIEW_READ_SECONDS)
    return dataclasses.replace(context, database=context.database.until(deadline))


def form_rules(handler: CommandHandler, workspace_id: str) -> tuple[date, str]:
    """(today in the workspace, its currency): what the form's fields are read against;
    the defaults' when the database cannot say."""
    context = handler.context
    try:
        with bounded(context).database.read() as session:
            workspace = session.get(Workspace, workspace_id)
    except READ_FAILURES as error:
        log.warning("workspace settings not read for a form: %s", type(error).__name__)
        workspace = None
    timezone = workspace.timezone if workspace else context.defaults.timezone
    currency = workspace.currency if workspace else context.defaults.currency
    return context.now().astimezone(ZoneInfo(timezone)).date(), currency


async def submit_log_form(handler: CommandHandler, actor: Actor,
                          values: Mapping[str, str | None], *, key: str,
                          follow_up: FollowUp | None = None
                          ) -> tuple[Reply | None, dict[str, str]]:
    """(the log reply, {}) or (None, one message per field). `key` is the form's identity
    (Slack's view id, the Teams card's id): the same form submitted twice stores once."""
    today, currency = await asyncio.to_thread(form_rules, handler, actor.workspace_id)
    result: FormResult = read_form(values, today=today, currency=currency,
                                   t=translator(actor.user_language or "en"))
    if result.text is None:
        return None, result.errors
    return await run_text(handler, actor, result.text, key=key, follow_up=follow_up), {}

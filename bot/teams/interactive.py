"""Teams card actions: the Undo button under a log confirmation and the logging card.

`kpi log` with nothing after it answers with the logging card (Adaptive Card 1.5 inputs: the
event, deal, count, amount and currency, response time, date, source/reason/competitor/MRR,
note). Its `Action.Submit` comes back as a message activity whose `value` holds the inputs;
they are read by bot/interactive/log_form.py and run as the `/kpi log` text, exactly as Slack's
modal, with the card's id as idempotency key (a card submitted twice stores once). A refused
field comes back as the same card, filled in, with the message under the field. Undo runs
`/kpi undo ID` for the event its signed value names (bot/interactive/values.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import date

from bot.core import CommandHandler, CommandRequest, FollowUp
from bot.interactive.actions import UNDO, Actor, form_rules, submit_log_form, undo_from_button
from bot.interactive.log_form import (
    AMOUNT,
    CURRENCY,
    DATE,
    DURATION,
    FIELD_LABELS,
    KIND,
    NOTE,
    OPTION_FIELDS,
    kind_choices,
)
from bot.interactive.values import ActionValues
from bot.replies import Reply, error_reply
from bot.teams.cards import CARD_SCHEMA, CARD_VERSION, rich_text
from reports.i18n import N_, Translator, translator

ACTION_KEY = "kpibot"  # marks kpibot's own Action.Submit data
LOG, UNDO_ACTION = "log", "undo"
_HINTS = {"deal": N_("Deal or account (most funnel events need one)"),
          "count": N_("How many (calls, emails…)"),
          AMOUNT: N_("Amount (deal-won, spend, proposal…)"),
          DURATION: N_("Response time, like 4m (inbound-responded)"),
          "source": N_("Source (lead, spend)"), "reason": N_("Reason (deal-lost, churned)"),
          "competitor": N_("Competitor (deal-lost)"), "mrr": N_("MRR (deal-won, churned)")}
_FORM_FIELDS = ("deal", "count", AMOUNT, CURRENCY, DURATION, DATE, *OPTION_FIELDS, NOTE)
CURRENCIES = ("USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "RON", "CNY", "JPY", "CAD", "AUD")


def is_bare_log(text: str) -> bool:
    return text.strip().casefold() == "log"


def undo_action(value: str, t: Translator | None = None) -> dict:
    """The Undo button under a logged event, labelled in the language of `t`."""
    return {"type": "Action.Submit", "title": (t or translator("en")).gettext("Undo"),
            "data": {ACTION_KEY: UNDO_ACTION, "value": value}}


def log_card(*, today: date, currency: str, values: Mapping[str, str] | None = None,
             errors: Mapping[str, str] | None = None, form_id: str | None = None,
             t: Translator | None = None) -> dict:
    """The logging card, filled with `values`, each error under its field, in the language
    of `t` (event kinds and typed values stay as they are)."""
    t = t or translator("en")
    values, errors = values or {}, errors or {}
    choices = [{"title": f"{t.gettext(group)} · {kind.name} — {t.gettext(kind.summary)}",
                "value": kind.name}
               for group, kinds in kind_choices() for kind in kinds]
    body: list[dict] = [rich_text(t.gettext("Log activity"), weight="Bolder", size="Medium")]

    def field(name: str, element: dict) -> None:
        body.append({**element, "id": name,
                     "label": t.gettext(_HINTS.get(name, FIELD_LABELS[name]))})
        if name in errors:
            body.append(rich_text(errors[name], color="Attention", spacing="None"))

    field(KIND, {"type": "Input.ChoiceSet", "choices": choices, "style": "compact",
                 "isRequired": True, "errorMessage": t.gettext("Choose the event."),
                 **({"value": values[KIND]} if values.get(KIND) else {})})
    for name in _FORM_FIELDS:
        value = values.get(name) or ""
        if name == CURRENCY:
            codes = (currency, *(c for c in CURRENCIES if c != currency))
            field(name, {"type": "Input.ChoiceSet", "style": "compact",
                         "choices": [{"title": c, "value": c} for c in codes],
                         "value": value if value in codes else currency})
        elif name == DATE:
            field(name, {"type": "Input.Date", "value": value or today.isoformat(),
                         "max": today.isoformat()})
        else:
            field(name, {"type": "Input.Text", "isMultiline": name == NOTE,
                         "maxLength": 500 if name == NOTE else 150,
                         **({"value": value[:500]} if value else {})})
    return {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
            "fallbackText": t.gettext("Log activity: choose the event and fill in what it "
                                      "needs."),
            "body": body,
            "actions": [{"type": "Action.Submit", "title": t.gettext("Log it"),
                         "data": {ACTION_KEY: LOG, "form": form_id or uuid.uuid4().hex}}]}


class TeamsInteractions:
    """Answers kpibot's card actions; a card or a Reply goes back to the conversation."""

    def __init__(self, handler: CommandHandler, values: ActionValues) -> None:
        self.handler = handler
        self.values = values

    def undo_value(self, workspace_id: str, event_id: int) -> str:
        return self.values.sign(UNDO, workspace_id, event_id)

    def new_log_card(self, request: CommandRequest) -> dict:
        today, currency = form_rules(self.handler, request.workspace_id)
        return log_card(today=today, currency=currency,
                        t=translator(request.user_language or "en"))

    async def answer(self, request: CommandRequest, data: Mapping, *,
                     follow_up: FollowUp | None = None) -> Reply | dict:
        """The answer to a card action: a Reply, or the logging card again with its errors;
        a late commit's outcome through `follow_up`."""
        actor = Actor(platform=request.platform, workspace_id=request.workspace_id,
                      user_id=request.user_id, channel_id=request.channel_id,
                      user_name=request.user_name, user_language=request.user_language)
        action = data.get(ACTION_KEY)
        if action == UNDO_ACTION:
            return await undo_from_button(self.handler, self.values, actor, data.get("value"),
                                          follow_up=follow_up)
        form_id = data.get("form")
        if action != LOG or not isinstance(form_id, str) or not form_id.isalnum() \
                or len(form_id) > 64:
            t = translator(request.user_language or "en")
            return error_reply(t.gettext("kpibot did not recognise that card action; nothing "
                                         "was stored."), t=t)
        fields = {name: value for name, value in data.items()
                  if name in (KIND, *_FORM_FIELDS) and isinstance(value, str)}
        reply, errors = await submit_log_form(self.handler, actor, fields, key=f"card:{form_id}",
                                              follow_up=follow_up)
        if reply is not None and (reply.ok or reply.follows):  # (not the card again: its
            return reply  # outcome is told in this conversation)
        if reply is not None:
            errors = {KIND: reply.text}
        today, currency = await asyncio.to_thread(form_rules, self.handler,
                                                  request.workspace_id)
        return log_card(today=today, currency=currency, values=fields, errors=errors,
                        form_id=form_id, t=translator(request.user_language or "en"))

"""Block Kit JSON of kpibot's Slack surfaces: the logging modal, the Home tab, the buttons
under digests. Pure functions of their inputs; every text a person typed goes into
`plain_text` objects (never mrkdwn), so it can neither mention nor link.
"""

from __future__ import annotations

import json
from datetime import date

from bot.handlers.home import Home
from bot.interactive.log_form import (
    AMOUNT,
    COUNT,
    CURRENCY,
    DATE,
    DEAL,
    DURATION,
    FIELD_LABELS,
    KIND,
    NOTE,
    fields_for,
    kind_choices,
    required,
)
from bot.slack.blocks import render_blocks
from reports.events import EventKind
from reports.format import format_number
from reports.i18n import N_, Translator, translator

LOG_VIEW = "kpi_log"  # callback_id of the logging modal
MAX_VIEW_BLOCKS = 100  # Slack's limit for a modal or the Home tab
MAX_METADATA = 3000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150

# action_ids, answered in bot/slack/interactive.py
OPEN_LOG = "kpi_open_log"
LOG_NEXT_STEP = "kpi_home_log_next"
DIGEST_NOW = "kpi_home_digest_now"
DIGEST_PREVIEW = "kpi_home_digest_preview"
CURRENCIES = ("USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "RON", "CNY", "JPY", "CAD", "AUD")
# A field's example: English msgids where there are words to translate (`or`, `who won it`)
_PLACEHOLDERS = {COUNT: "1", AMOUNT: N_("12k, 12,000 or $1.5m"), DURATION: N_("4m or 1h30m"),
                 "source": "referral, organic, paid-search…", "reason": "price, timing…",
                 "competitor": N_("who won it"), "mrr": "1k", NOTE: N_("what happened")}
_TRANSLATED = frozenset({AMOUNT, DURATION, "competitor", NOTE})


def plain(text: str, limit: int = 3000) -> dict:
    text = " ".join(text.split()) if limit <= MAX_OPTION_TEXT else text
    return {"type": "plain_text", "text": (text if len(text) <= limit
                                           else text[: limit - 1] + "…") or " ", "emoji": True}


def _option(text: str, value: str) -> dict:
    return {"text": plain(text, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}


def deal_option(name: str) -> dict:
    return _option(name, name)


def deal_options(found: list[tuple[str, str]], typed: str,
                 t: Translator | None = None) -> list[dict]:
    """The deals found for the typed text, then the typed text itself as a new deal."""
    t = t or translator("en")
    options = [deal_option(name) for _key, name in found][:99]
    typed = " ".join(typed.split())[:MAX_OPTION_VALUE]
    if typed and all(typed.casefold() != key for key, _name in found):
        options.append(_option(t.gettext("New: {name}", name=typed), typed))
    return options


def metadata(**fields: str | None) -> str:
    """Private metadata of a view: where the confirmation goes (kept small)."""
    text = json.dumps({k: v for k, v in fields.items() if v}, separators=(",", ":"))
    return text if len(text) <= MAX_METADATA else "{}"


def read_metadata(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def log_modal(*, kind: EventKind | None, values: dict[str, str], today: date, currency: str,
              private_metadata: str, t: Translator | None = None) -> dict:
    """The logging modal for `kind` (its fields only), prefilled with `values`, in the
    language of `t` (event kinds and the values typed stay as they are)."""
    t = t or translator("en")
    blocks = [_kind_block(kind, t)]
    for name in fields_for(kind)[1:]:
        blocks.append(_field_block(name, kind, values.get(name) or "", today, currency, t))
    return {"type": "modal", "callback_id": LOG_VIEW,
            "title": plain(t.gettext("Log activity"), 24),
            "submit": plain(t.gettext("Log it"), 24), "close": plain(t.gettext("Cancel"), 24),
            "private_metadata": private_metadata, "blocks": blocks}


def _kind_option(kind: EventKind, t: Translator) -> dict:
    return _option(f"{kind.name} — {t.gettext(kind.summary)}", kind.name)


def _kind_block(kind: EventKind | None, t: Translator) -> dict:
    groups = [{"label": plain(t.gettext(label), MAX_OPTION_TEXT),
               "options": [_kind_option(k, t) for k in kinds]}
              for label, kinds in kind_choices()]
    element = {"type": "static_select", "action_id": KIND, "option_groups": groups,
               "placeholder": plain(t.gettext("Choose an event"), 150)}
    if kind is not None:
        element["initial_option"] = _kind_option(kind, t)
    return {"type": "input", "block_id": KIND, "dispatch_action": True,
            "label": plain(t.gettext(FIELD_LABELS[KIND]), 2000), "element": element}


def _field_block(name: str, kind: EventKind | None, value: str, today: date,
                 currency: str, t: Translator) -> dict:
    if name == DEAL:
        element = {"type": "external_select", "action_id": DEAL, "min_query_length": 0,
                   "placeholder": plain(t.gettext("Type to find a deal, or a new name"), 150)}
        if value:
            element["initial_option"] = deal_option(value)
    elif name == CURRENCY:
        codes = (currency, *(c for c in CURRENCIES if c != currency))
        chosen = value if value in codes else currency
        element = {"type": "static_select", "action_id": CURRENCY,
                   "options": [_option(code, code) for code in codes],
                   "initial_option": _option(chosen, chosen)}
    elif name == DATE:
        element = {"type": "datepicker", "action_id": DATE,
                   "initial_date": value or today.isoformat()}
    else:
        element = {"type": "plain_text_input", "action_id": name,
                   "multiline": name == NOTE, "max_length": 500 if name == NOTE else 150,
                   "placeholder": plain(_placeholder(name, t), 150)}
        if value:
            element["initial_value"] = value[: element["max_length"]]
    optional = kind is None or not required(kind, name)
    return {"type": "input", "block_id": name, "optional": optional,
            "label": plain(t.gettext(FIELD_LABELS[name]), 2000), "element": element}


def _placeholder(name: str, t: Translator) -> str:
    example = _PLACEHOLDERS.get(name, "")
    return t.gettext(example) if name in _TRANSLATED else example


def state_values(view: dict) -> dict[str, str]:
    """The modal's current field values ({} for fields left empty)."""
    values: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        if not isinstance(actions, dict):
            continue
        for state in actions.values():
            if not isinstance(state, dict):
                continue
            option = state.get("selected_option")
            value = (option.get("value") if isinstance(option, dict) else None) \
                or state.get("selected_date") or state.get("value")
            if isinstance(value, str) and value.strip():
                values[str(block_id)] = value
    return values


def home_view(home: Home) -> dict:
    """The Home tab: the person's week first, the team's below it for admins (in the person's
    language, `home.t`)."""
    t = home.t
    blocks: list[dict] = [
        {"type": "header", "text": plain(t.gettext("Your week"), 150)},
        {"type": "actions", "block_id": "home_log", "elements": [{
            "type": "button", "action_id": OPEN_LOG, "style": "primary",
            "text": plain(t.gettext("Log activity"), 75), "value": "open"}]},
        *render_blocks(home.week),
        {"type": "section", "text": plain(t.gettext("Your logs this week") if home.logs else
                                          t.gettext("You have logged nothing this week."))},
    ]
    if home.logs:
        blocks.append({"type": "section", "text": plain(
            "\n".join(f"#{event_id} {text}" for event_id, text in home.logs))})
    if home.open_by_stage:
        blocks.append({"type": "section", "text": plain(t.gettext("Your open deals by stage")),
                       "fields": [plain(f"{stage}: {format_number(count, t.locale)}", 2000)
                                  for stage, count in home.open_by_stage][:10]})
    if home.stalled:
        blocks.append({"type": "section", "text": plain(t.gettext("Your stalled deals"))})
    for deal in home.stalled:
        days = format_number(deal.days, t.locale, digits=1)
        blocks.append({"type": "section",
                       "text": plain(t.ngettext("{deal} — {stage} for {days} day",
                                                "{deal} — {stage} for {days} days",
                                                int(deal.days), deal=deal.name,
                                                stage=deal.stage, days=days)),
                       "accessory": {"type": "button", "action_id": LOG_NEXT_STEP,
                                     "text": plain(t.gettext("Log next step"), 75),
                                     "value": deal.name[:MAX_OPTION_VALUE]}})
    if home.admin:
        blocks += [{"type": "divider"},
                   {"type": "header", "text": plain(t.gettext("Your team"), 150)}]
        for reply in home.team:
            blocks += render_blocks(reply)
        blocks.append({"type": "section", "text": plain(
            t.gettext("Digests") if home.digests else
            t.gettext("No digest is scheduled ({command}).", command="/kpi digest here"))})
        for row in home.digests:
            blocks.append({"type": "section", "text": plain(row.label)})
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "action_id": DIGEST_NOW,
                 "text": plain(t.gettext("Send now"), 75), "value": row.channel_id},
                {"type": "button", "action_id": DIGEST_PREVIEW,
                 "text": plain(t.gettext("Preview"), 75), "value": row.channel_id}]})
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = blocks[: MAX_VIEW_BLOCKS - 1] + [
            {"type": "context", "elements": [plain(t.gettext(
                "(shortened: more than fits the Home tab)"))]}]
    return {"type": "home", "blocks": blocks}

"""The logging form (Slack modal, Teams card) read by the same grammar as `/kpi log`.

A form is a set of raw field values. Each value becomes the fragment of a `/kpi log` command a
person could type (`deal="Acme Corp"`, `3x`, `12k USD`, `on 2026-11-16`, `note="..."`) and is
checked by `grammar.parse_command` on its own (with placeholders for the other required parts),
so a wrong value gets the grammar's own message on its own field. When every field reads,
the whole command is the text handed to the command handler: what is stored, refused or
deduplicated follows exactly the rules of the typed command. The messages are in the language
of the `Translator` given to `read_form` (English by default).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from bot import grammar
from bot.grammar.errors import MAX_COUNT
from reports.events import KINDS, EventKind, Group, option_problem, resolve_kind
from reports.i18n import N_, Translator, translator
from reports.text import Message, Text, quoted, render

# Field names; they are also the Slack block ids and the Teams input ids.
KIND, DEAL, COUNT, AMOUNT, CURRENCY, DURATION, DATE = (
    "kind", "deal", "count", "amount", "currency", "duration", "date")
SOURCE, REASON, COMPETITOR, MRR, NOTE = "source", "reason", "competitor", "mrr", "note"
OPTION_FIELDS = (SOURCE, REASON, COMPETITOR, MRR)
FIELD_LABELS = {  # English msgids: a form shows them through its reader's Translator
    KIND: N_("Event"), DEAL: N_("Deal or account"), COUNT: N_("How many"), AMOUNT: N_("Amount"),
    CURRENCY: N_("Currency"), DURATION: N_("Response time"), DATE: N_("Date"),
    SOURCE: N_("Source"), REASON: N_("Reason"), COMPETITOR: N_("Competitor"), MRR: "MRR",
    NOTE: N_("Note"),
}
GROUP_LABELS = {Group.OUTREACH: N_("Outreach"), Group.WEB: N_("Web"),
                Group.INBOUND: N_("Inbound"), Group.FUNNEL: N_("Funnel"),
                Group.CUSTOMERS: N_("Customers"), Group.MONEY: N_("Money")}

# What each field sets in the parsed LogCommand; a value that changes anything else (a count
# read as a deal name, an amount with a stray word read as the note) is not what was meant.
_SETS: dict[str, tuple[str, ...]] = {  # the first one is None when the field was not read
    DEAL: ("deal", "deal_key"), COUNT: ("count",), AMOUNT: ("amount_minor", "currency"),
    DURATION: ("duration_seconds",), DATE: ("on_date",), SOURCE: ("source_raw", "source"),
    REASON: ("reason",), COMPETITOR: ("competitor",), MRR: ("mrr_minor",), NOTE: ("note",),
}
_WHAT = {DEAL: Text("a deal name"), COUNT: Text("a count"), AMOUNT: Text("an amount"),
         CURRENCY: Text("a currency"), DURATION: Text("a response time like 4m or 1h30m"),
         DATE: Text("a day"), SOURCE: Text("a source"), REASON: Text("a reason"),
         COMPETITOR: Text("a competitor"), MRR: Text("an MRR amount like 1k"),
         NOTE: Text("a note")}
_SMART = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'", "‚": "'",
                        "‛": "'"})
_ONE_WORD = re.compile(r"\S+")
_DIGITS = re.compile(r"[0-9][0-9,]*")


@dataclass(frozen=True)
class FormResult:
    """The command text to run (when every field reads) or one message per field."""

    text: str | None
    errors: dict[str, str]
    kind: EventKind | None = None


def kind_choices() -> list[tuple[str, list[EventKind]]]:
    """The events by group, in the vocabulary's order (the form's grouped select)."""
    groups: dict[Group, list[EventKind]] = {}
    for kind in KINDS.values():
        groups.setdefault(kind.group, []).append(kind)
    return [(GROUP_LABELS[group], kinds) for group, kinds in groups.items()]


def fields_for(kind: EventKind | None) -> tuple[str, ...]:
    """The fields the form shows for `kind` (every option the vocabulary lets it carry)."""
    if kind is None:
        return (KIND, DEAL, DATE, NOTE)
    fields = [KIND, DEAL]
    if kind.duration:
        fields.append(DURATION)
    elif kind.amount != "none":
        fields += [AMOUNT, CURRENCY]
    elif not kind.needs_deal:
        fields.append(COUNT)
    fields.append(DATE)
    fields += [name for name in OPTION_FIELDS if option_problem(kind, name) is None]
    fields.append(NOTE)
    return tuple(fields)


def required(kind: EventKind, field: str) -> bool:
    if field == DEAL:
        return kind.needs_deal
    if field == AMOUNT:
        return kind.amount in ("required", "signed")
    return field in (KIND, DURATION)


def kind_of(value: str | None) -> EventKind | None:
    return resolve_kind(value.strip()) if value and value.strip() else None


def read_form(values: Mapping[str, str | None], *, today: date, currency: str,
              t: Translator | None = None) -> FormResult:
    """Check each field as the grammar reads it; the `/kpi log` text when all are good (the
    messages in the language of `t`)."""
    result, errors = _read(values, today=today, currency=currency)
    t = t or translator("en")
    return dataclasses.replace(result, errors={name: render(problem, t)
                                               for name, problem in errors.items()})


def _read(values: Mapping[str, str | None], *, today: date, currency: str
          ) -> tuple[FormResult, dict[str, Message]]:
    values = {name: (value or "").strip() for name, value in values.items()}
    kind = kind_of(values.get(KIND))
    if kind is None:
        problem = (Text("Choose the event.") if not values.get(KIND) else
                   Text("{word} is not an event.", word=quoted(values[KIND][:40])))
        return FormResult(None, {}), {KIND: problem}
    errors: dict[str, Message] = {}
    fragments: dict[str, str] = {}
    for name in fields_for(kind)[1:]:
        value = values.get(name) or ""
        if not value or name == CURRENCY:
            continue
        fragment = _fragment(name, value, values.get(CURRENCY) or "", currency)
        if fragment is None:
            errors[name] = _unreadable(name, value)
        else:
            fragments[name] = fragment
    extra = sorted(set(values) - set(fields_for(kind)) - {CURRENCY})
    for name in extra:
        if values[name] and name in _WHAT:
            errors[name] = Text("{kind} does not take {what}; leave it empty.",
                                kind=kind.name, what=_WHAT[name])
    base = _parse_or_none(_command(kind, {}, skip=None), today, currency)
    chosen = values.get(CURRENCY) or ""
    if AMOUNT in fragments and chosen.upper() != currency.upper() and chosen:
        alone = _check(kind, AMOUNT, values[AMOUNT], values[AMOUNT], base, today, currency)
        if alone:  # the amount itself is wrong; else the currency is what is refused
            errors[AMOUNT] = alone
        elif problem := _check(kind, AMOUNT, values[AMOUNT], fragments[AMOUNT], base, today,
                               currency):
            errors[CURRENCY] = problem
    for name, fragment in fragments.items():
        if name == AMOUNT and (AMOUNT in errors or CURRENCY in errors):
            continue  # read above, with and without the currency
        problem = _check(kind, name, values[name], fragment, base, today, currency)
        if problem:
            errors[name] = problem
    if errors:
        return FormResult(None, {}, kind), errors
    text = " ".join(["log", kind.name, *fragments.values()])
    try:
        _parse(text, today, currency)
    except grammar.UsageError as error:
        return FormResult(None, {}, kind), {_missing(kind, fragments): error.text}
    return FormResult(text, {}, kind), {}


def _missing(kind: EventKind, fragments: Mapping[str, str]) -> str:
    """The field a whole-command refusal is about: a required part left empty, else the event."""
    for name in (DEAL, AMOUNT, DURATION):
        if name in fields_for(kind) and required(kind, name) and name not in fragments:
            return name
    return KIND


def _check(kind: EventKind, name: str, value: str, fragment: str, base, today: date,
           currency: str) -> Message | str | None:
    text = _command(kind, {name: fragment}, skip=name)
    try:
        parsed = _parse(text, today, currency)
    except grammar.UsageError as error:
        return error.text
    if base is None:
        return None
    wanted = _SETS[name]
    if getattr(parsed, wanted[0]) is None or any(
            getattr(parsed, f.name) != getattr(base, f.name)
            for f in dataclasses.fields(parsed) if f.name not in wanted):
        return _unreadable(name, value)
    return None


def _command(kind: EventKind, fragments: Mapping[str, str], *, skip: str | None) -> str:
    return " ".join(["log", kind.name, *_placeholders(kind, skip=skip or ""),
                     *fragments.values()])


def _placeholders(kind: EventKind, *, skip: str) -> list[str]:
    """Stand-ins for the parts the event needs, so one field can be read on its own."""
    parts = []
    if kind.needs_deal and skip != DEAL:
        parts.append('deal="placeholder"')
    if kind.amount in ("required", "signed") and skip not in (AMOUNT, CURRENCY):
        parts.append("1")
    if kind.duration and skip != DURATION:
        parts.append("1m")
    return parts


def _parse(text: str, today: date, currency: str) -> grammar.LogCommand:
    command = grammar.parse_command(text, today=today, currency=currency)
    if not isinstance(command, grammar.LogCommand):  # the fragments are all log parts
        raise grammar.UsageError(Text("That is not something to log."))
    return command


def _parse_or_none(text: str, today: date, currency: str) -> grammar.LogCommand | None:
    try:
        return _parse(text, today, currency)
    except grammar.UsageError:
        return None


def _fragment(name: str, value: str, chosen_currency: str, currency: str) -> str | None:
    """The words a person would type for this field, or None when it cannot be one."""
    if name == COUNT:
        return value if _DIGITS.fullmatch(value) else None
    if name in (AMOUNT, DURATION, MRR):
        if not _ONE_WORD.fullmatch(value):
            return None
        if name == AMOUNT:
            code = chosen_currency.upper()
            return f"{value} {code}" if code and code != currency.upper() else value
        return f"mrr={value}" if name == MRR else value
    if name == DATE:
        return f"on {value}" if _ONE_WORD.fullmatch(value) else None
    quoted = _quoted(value)
    if quoted is None:
        return None
    return f"{name}={quoted}"


def _quoted(value: str) -> str | None:
    """`value` as one quoted word of a command (Slack's &amp; &lt; &gt; encoding inside)."""
    value = " ".join(value.translate(_SMART).split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if '"' not in value:
        return f'"{value}"'
    if not re.search(r"'(\s|!|$)", value):
        return f"'{value}'"
    return None


def _unreadable(name: str, value: str) -> Text:
    shown = " ".join(value.split())
    shown = f'"{shown if len(shown) <= 40 else shown[:39] + "…"}"'
    if name == COUNT:
        return Text("A count is a whole number from 1 to {limit}; {word} was given.",
                    limit=MAX_COUNT, word=shown)
    if name in (DEAL, SOURCE, REASON, COMPETITOR, NOTE):
        return Text("The {field} can hold either \" or ' quotes, not both; nothing was stored.",
                    field=_FIELD_NAMES[name])
    return Text("{word} is not {what}.", word=shown, what=_WHAT[name])


_FIELD_NAMES = {DEAL: Text("deal or account"), SOURCE: Text("source"), REASON: Text("reason"),
                COMPETITOR: Text("competitor"), NOTE: Text("note")}

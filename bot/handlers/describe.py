"""One-line descriptions of stored events, shared by the log, undo and history replies."""

from __future__ import annotations

import functools
from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date

from reports.format import format_amount, format_duration
from reports.i18n import Translator, translator
from storage.models import Event, Workspace


def describe_event(event: Event, workspace: Workspace, credited_name: str | None = None,
                   t: Translator | None = None) -> str:
    """`3 × call`, `deal-won Acme Corp $12,000.00 for Sara Nilsen on Mon, Nov 23` and so on;
    `credited_name` names the person credited when someone else logged it. In the language of
    `t` (English by default); the event kind and `key=value` options stay as typed."""
    t = t or translator("en")
    locale = t.locale
    parts = [f"{event.count} × {event.kind}" if event.count != 1 else event.kind]
    if event.deal_name:
        parts.append(f'"{event.deal_name}"')
    if event.amount_minor is not None and event.currency:
        parts.append(format_amount(event.amount_minor, event.currency, locale))
    if event.duration_seconds is not None:
        parts.append(t.gettext("in {duration}",
                               duration=format_duration(event.duration_seconds, locale)))
    if event.mrr_minor is not None and event.currency:
        parts.append(f"MRR {format_amount(event.mrr_minor, event.currency, locale)}")
    if event.source_raw:
        parts.append(f"source={event.source_raw}")
    if event.reason:
        parts.append(f"reason={event.reason}")
    if event.competitor:
        parts.append(f"competitor={event.competitor}")
    if event.user_id != event.logged_by:
        parts.append(t.gettext("for {name}", name=credited_name or event.user_id))
    local = event.occurred_at.astimezone(ZoneInfo(workspace.timezone))
    parts.append(t.gettext("on {day}", day=day_words(local.date(), t.language, locale)))
    if event.note:
        parts.append(f"— {event.note}")
    return " ".join(parts)


@functools.lru_cache(maxsize=512)
def day_words(day: date, language: str, locale: str) -> str:
    """`Wed 18 Nov 2026` in English, the locale's full date otherwise; a day's words are the
    same every time, and Babel took a fifth of a `/kpi log`'s handler CPU to find them."""
    return (format_date(day, "EEE d MMM yyyy", locale="en") if language == "en"
            else format_date(day, "full", locale=locale))

"""One-line descriptions of stored events, shared by the log, undo and history replies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from reports.format import format_amount, format_duration
from storage.models import Event, Workspace


def describe_event(event: Event, workspace: Workspace, credited_name: str | None = None) -> str:
    """`3 × call`, `deal-won Acme Corp $12,000.00 for Sara Nilsen on Mon, Nov 23` and so on;
    `credited_name` names the person credited when someone else logged it."""
    parts = [f"{event.count} × {event.kind}" if event.count != 1 else event.kind]
    if event.deal_name:
        parts.append(f'"{event.deal_name}"')
    if event.amount_minor is not None and event.currency:
        parts.append(format_amount(event.amount_minor, event.currency))
    if event.duration_seconds is not None:
        parts.append(f"in {format_duration(event.duration_seconds)}")
    if event.mrr_minor is not None and event.currency:
        parts.append(f"MRR {format_amount(event.mrr_minor, event.currency)}")
    if event.source_raw:
        parts.append(f"source={event.source_raw}")
    if event.reason:
        parts.append(f"reason={event.reason}")
    if event.competitor:
        parts.append(f"competitor={event.competitor}")
    if event.user_id != event.logged_by:
        parts.append(f"for {credited_name or event.user_id}")
    local = event.occurred_at.astimezone(ZoneInfo(workspace.timezone))
    parts.append(f"on {format_datetime(local, 'EEE d MMM yyyy', locale='en')}")
    if event.note:
        parts.append(f"— {event.note}")
    return " ".join(parts)

"""How digests are described (`kpibot digest status`, `/kpi digest list|status`): a schedule's
slot rule, a delivery's detail and the rule behind an interrupted one."""

from __future__ import annotations

from reports.digest.slots import SlotRule
from reports.i18n import N_
from storage.models import DigestDelivery, DigestSchedule

INTERRUPTED_RULE = N_(
    "After a crash mid-post, a Slack digest is looked up in its channel (by the slot key in "
    "the message metadata) and posted only if it is not there: exactly once. Teams cannot be "
    "read back, so an interrupted Teams digest is posted again: at least once (the note says "
    "when).")


def delivery_detail(delivery: DigestDelivery) -> str:
    """`found in channel after an interrupted attempt; message 1764921600.000100`, the error
    of a failed one, or nothing."""
    parts = [delivery.note, delivery.error]
    if delivery.message_id:
        parts.append(f"message {delivery.message_id}")
    return "; ".join(part for part in parts if part)


def rule_of(schedule: DigestSchedule) -> SlotRule:
    """When `schedule` is due (its cadence, day and time in its time zone)."""
    return SlotRule(schedule.cadence, schedule.day, schedule.hour, schedule.minute,
                    schedule.timezone)

"""Storing one batch of the events API in one transaction.

Each item is read by the CSV import's own reader (bot.transfer.rows.event_reader: the same
checks, messages and idempotency keys as a row of an events CSV). Default: the valid items are
stored and the others reported; `atomic`: nothing is stored unless every item is valid. Items
whose key is already stored (or repeats an earlier item of the batch) are duplicates: stored
once, never twice. The rollups, deals and accounts are brought up to date as after an import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from bot.api.models import BatchResult, EventItem, ItemResult
from bot.transfer.presets import EXPORT_COLUMNS
from bot.transfer.problems import RowError
from bot.transfer.rows import event_reader
from storage.engine import Database
from storage.event_queries import stored_keys
from storage.models import Workspace
from storage.recording import record_events
from storage.reps import prune_unused_named_reps
from storage.upkeep import Deferred, apply_deferred
from storage.workspaces import lock_derived_rows

_ITEM_FIELDS = tuple(EventItem.model_fields)
# A reason names its field: the first field word in it outside quotes ("count "x" must be...",
# "deal-won needs an amount", "the user is empty"); event kinds (deal-won) are not fields.
_WORD = re.compile(r"[a-z_]+(?:-[a-z]+)*")
_QUOTED = re.compile(r'"[^"]*"')
_FIELD_WORDS = {**{name: name for name in _ITEM_FIELDS}, "users": "user",
                "duration": "duration_seconds", "kind": "event"}


class BatchRaced(RuntimeError):
    """Another transaction stored some of the batch's keys while it was being written (the
    batch is rolled back; sent again, those items are duplicates)."""


@dataclass(frozen=True)
class Invalid:
    """An item the request models refused (wrong type, unknown field...)."""

    field: str | None
    reason: str


def check_item(raw: object) -> EventItem | Invalid:
    """The item as an EventItem, or why it is not one."""
    if not isinstance(raw, dict):
        return Invalid(None, f"an event must be a JSON object, not {_json_type(raw)}")
    try:
        return EventItem.model_validate(raw)
    except ValidationError as error:
        return _invalid(error, raw)


def ingest(*, database: Database, workspace_id: str, items: Sequence[EventItem | Invalid],
           atomic: bool, now: datetime) -> BatchResult:
    """Validate and store a batch for the workspace; see the module doc."""
    if not items:
        return BatchResult(stored=0, duplicates=0, errors=0, atomic=atomic, results=[])
    try:
        return _store(database, workspace_id, items, atomic, now)
    except _Refused as refused:  # raised inside the transaction: it rolled back
        return refused.result


class _Refused(Exception):
    def __init__(self, result: BatchResult) -> None:
        super().__init__("atomic batch refused")
        self.result = result


def _store(database: Database, workspace_id: str, items: Sequence[EventItem | Invalid],
           atomic: bool, now: datetime) -> BatchResult:
    results: list[ItemResult | None] = [None] * len(items)
    with database.write() as session:
        # PostgreSQL: one batch at a time per workspace, from its first read of stored keys
        # to commit (SQLite: BEGIN IMMEDIATE already serializes writers).
        lock_derived_rows(session, workspace_id)
        workspace = session.get(Workspace, workspace_id)
        reader = event_reader(session, workspace, now=now)
        valid = []
        for index, item in enumerate(items):
            if isinstance(item, Invalid):
                results[index] = ItemResult(index=index, status="error", field=item.field,
                                            reason=item.reason)
                continue
            try:
                event = reader.read(item.csv_values())
            except RowError as error:
                results[index] = ItemResult(index=index, status="error",
                                            field=field_of(str(error)), reason=str(error),
                                            key=item.key)
                continue
            valid.append((index, event))
        errors = sum(r is not None for r in results)
        if atomic and errors:
            for index, event in valid:
                results[index] = ItemResult(
                    index=index, status="not_stored", key=event.idempotency_key,
                    reason="atomic=true and other items have errors: nothing was stored")
            raise _Refused(BatchResult(stored=0, duplicates=0, errors=errors, atomic=True,
                                       results=results))
        seen = stored_keys(session=session, workspace_id=workspace_id,
                           keys=[e.idempotency_key for _, e in valid])
        fresh = []
        for index, event in valid:
            duplicate = event.idempotency_key in seen
            seen.add(event.idempotency_key)
            if not duplicate:
                fresh.append(event)
            results[index] = ItemResult(index=index, key=event.idempotency_key,
                                        status="duplicate" if duplicate else "stored")
        reader.directory.create_pending(session, now=now)
        deferred = Deferred()
        added = record_events(session=session, workspace=workspace, new_events=fresh,
                              now=now, defer=deferred)
        if added != len(fresh):  # another writer stored some keys meanwhile: never misreport
            raise BatchRaced(f"stored {added} of {len(fresh)} new events")
        apply_deferred(session=session, workspace=workspace, deferred=deferred)
        prune_unused_named_reps(session=session, workspace_id=workspace_id,
                                ids=[uid for uid, _ in reader.directory.created])
    return BatchResult(stored=added, duplicates=len(valid) - added, errors=errors,
                       atomic=atomic, results=results)


def field_of(reason: str) -> str | None:
    """The item field an error reason is about, or None when it names none."""
    for word in _WORD.findall(_QUOTED.sub(" ", reason.lower())):
        if word in _FIELD_WORDS:
            return _FIELD_WORDS[word]
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a number"


_EXPECTED = {"count": "a whole number or a string", "duration_seconds":
             "a whole number or a string", "amount": "a number or a string",
             "mrr": "a number or a string"}


def _invalid(error: ValidationError, raw: dict) -> Invalid:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else None
    if first["type"] == "extra_forbidden":
        hint = ", ".join(f for f in EXPORT_COLUMNS if f in _ITEM_FIELDS)
        return Invalid(name, f"unknown field {name} (fields: {hint})")
    if first["type"] == "missing":
        return Invalid(name, f"{name} is missing")
    if first["type"] == "value_error":
        return Invalid(name, f"{name} {first['msg'].removeprefix('Value error, ')}")
    expected = _EXPECTED.get(name or "", "a string")
    return Invalid(name, f"{name} must be {expected}, not {_json_type(raw.get(name))}")

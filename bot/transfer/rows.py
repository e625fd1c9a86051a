"""An events-format row → one event (and its void instant, if any): the checks and messages of
every field, the rep it is credited to, and its idempotency key. `EventReader` reads the events
API's items the same way (bot/api)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.transfer.dates import DateReader
from bot.transfer.export import unescape_cell
from bot.transfer.numbers import MoneyReader, read_count, read_duration
from bot.transfer.presets import EXPORT_COLUMNS
from bot.transfer.problems import RowError, suggest
from reports.events import (
    ALIASES,
    KINDS,
    MAX_KEY,
    MAX_NAME,
    MAX_NOTE,
    UNASSIGNED_NAME,
    UNASSIGNED_USER,
    EventKind,
    normalize_source,
    option_problem,
    record_problem,
    resolve_kind,
    text_length,
)
from storage.models import Workspace
from storage.recording import NewEvent
from storage.reps import RepDirectory, RepError

IMPORT_USER = "kpibot:import"  # logged_by of imported events


def text_cell(value: str, what: str, limit: int = MAX_NAME) -> str | None:
    """A text cell with its spaces collapsed (None when empty); longer than `limit` (as written
    or case-folded: reports.events.text_length) is a RowError."""
    if not value:
        return None
    cleaned = " ".join(unescape_cell(value).split())
    if not cleaned:
        return None
    length = text_length(cleaned)
    if length > limit:
        raise RowError(f"{what} is {length} characters long; the limit is {limit}")
    return cleaned


def _unknown_event(word: str) -> RowError:
    hint = suggest(word, [*KINDS, *ALIASES])
    return RowError(f'unknown event "{word}"' + (f" (did you mean {hint}?)" if hint else ""))


@dataclass
class RowContext:
    """What reading the rows of one file (or one API batch) shares: the workspace, its date and
    money readers, the people it knows, and the clock."""

    workspace: Workspace
    dates: DateReader
    money: MoneyReader
    directory: RepDirectory
    now: datetime
    today: date
    grouping: str
    unassigned: int = 0  # rows credited to the team (no rep)
    # Before this, an instant's local day is before today (UTC offsets differ by under a day).
    past: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.past = self.now - timedelta(days=2)

    def instant(self, text: str, what: str) -> datetime:
        at, has_time = self.dates.read(text, what)
        if at < self.past:
            return at
        local_day = at.astimezone(self.dates.tz).date()
        if (has_time and at > self.now + timedelta(minutes=5)) or local_day > self.today:
            raise RowError(f'{what} "{text.strip()}" is in the future')
        return at

    def check_currency(self, text: str) -> None:
        if text and text.upper() != self.money.currency:
            raise RowError(f'currency "{text}" is not this workspace\'s currency '
                           f"({self.money.currency})")


@dataclass
class _Texts:
    """The free-text cells of an events row, collapsed and within their limits."""

    deal: str | None
    deal_key: str | None
    account: str | None
    source_raw: str | None
    reason: str | None
    competitor: str | None
    note: str | None


class EventRows:
    """The events format: one row → one event (plus its void instant, if any)."""

    def __init__(self, columns: dict[str, int], ctx: RowContext) -> None:
        # Column index per field; -1 reads the "" appended to every row (field not in file).
        self.i = {name: columns.get(name, -1) for name in EXPORT_COLUMNS}
        self.ctx = ctx
        self.kinds: dict[str, EventKind | None] = {}
        self.seen: dict[bytes, int] = {}

    def parse(self, fields: list[str]) -> tuple[NewEvent, datetime | None]:
        """The row's event and void instant; the first bad field is a RowError."""
        fields.append("")
        i = self.i
        ctx = self.ctx
        kind = self._kind(fields[i["event"]].strip())
        occurred_text = fields[i["occurred_at"]]
        if not occurred_text.strip():
            raise RowError("occurred_at is empty")
        occurred_at = ctx.instant(occurred_text, "occurred_at")
        count = self._count(fields[i["count"]])
        ctx.check_currency(fields[i["currency"]].strip())
        amount, mrr = self._amounts(kind, fields[i["amount"]], fields[i["mrr"]])
        duration = self._duration(kind, fields[i["duration_seconds"]].strip())
        texts = self._texts(kind, fields, mrr)
        user_id, user_text = self._user(kind, fields, has_amount=amount is not None)
        voided_text = fields[i["voided_at"]].strip()
        voided_at = ctx.dates.read(voided_text, "voided_at")[0] if voided_text else None
        key = self._given_key(fields[i["key"]])
        if not key:
            # The person as written (not the id it resolves to today): a later link, or a new
            # chat user with that name, must not turn the same row into a new event.
            user_ref = "name:" + user_text.casefold() if user_text else "id:" + user_id
            key = self._content_key((
                kind.name, occurred_at.isoformat(), count, amount, duration, mrr,
                texts.deal_key, texts.deal, texts.account.casefold() if texts.account else None,
                user_ref, texts.source_raw, texts.reason, texts.competitor, texts.note))
        new = NewEvent.of(
            kind=kind.name, user_id=user_id, logged_by=IMPORT_USER, occurred_at=occurred_at,
            idempotency_key=key, count=count, amount_minor=amount,
            currency=ctx.money.currency if amount is not None else None,
            duration_seconds=duration, mrr_minor=mrr, deal_key=texts.deal_key,
            deal_name=texts.deal,
            account_key=texts.account.casefold() if texts.account else None,
            source=normalize_source(texts.source_raw) if texts.source_raw is not None else None,
            source_raw=texts.source_raw, reason=texts.reason, competitor=texts.competitor,
            note=texts.note,
        )
        return new, voided_at

    def _kind(self, word: str) -> EventKind:
        if not word:
            raise RowError("event is empty")
        kind = self.kinds.get(word, ...)
        if kind is ...:
            kind = resolve_kind(word)
            self.kinds[word] = kind
        if kind is None:
            raise _unknown_event(word)
        return kind

    def _count(self, text: str) -> int:
        if text.isascii() and text.isdigit() and len(text) < 10:  # the common case, fast
            count = int(text)
            if count < 1:
                raise RowError(f'count "{text}" must be a positive whole number')
            return count
        return read_count(text, self.ctx.grouping)

    def _amounts(self, kind: EventKind, amount_text: str,
                 mrr_text: str) -> tuple[int | None, int | None]:
        money = self.ctx.money
        amount = money.read(amount_text, "amount", signed=kind.amount == "signed") \
            if amount_text else None
        if amount is not None and kind.amount == "none":
            raise RowError(f'{kind.name} takes no amount (amount "{amount_text}")')
        mrr = money.read(mrr_text, "mrr") if mrr_text else None
        return amount, mrr

    @staticmethod
    def _duration(kind: EventKind, text: str) -> int | None:
        duration = read_duration(text) if text else None
        if duration is not None and not kind.duration:
            raise RowError(f"{kind.name} takes no duration (only inbound-responded does)")
        if duration is None and kind.duration:
            raise RowError(f"{kind.name} needs the response time (duration_seconds)")
        return duration

    def _texts(self, kind: EventKind, fields: list[str], mrr: int | None) -> _Texts:
        i = self.i
        deal = text_cell(fields[i["deal"]], "deal")
        deal_id = text_cell(fields[i["deal_id"]], "deal_id")
        deal_key = deal_id.casefold() if deal_id else (deal.casefold() if deal else None)
        if kind.needs_deal and not deal_key:
            raise RowError(f"{kind.name} needs a deal (the deal column is empty)")
        texts = _Texts(
            deal=deal, deal_key=deal_key, account=text_cell(fields[i["account"]], "account"),
            source_raw=text_cell(fields[i["source"]], "source"),
            reason=text_cell(fields[i["reason"]], "reason"),
            competitor=text_cell(fields[i["competitor"]], "competitor"),
            note=text_cell(fields[i["note"]], "note", MAX_NOTE))
        if texts.source_raw is None and texts.reason is None and texts.competitor is None \
                and mrr is None:
            return texts  # the common case, fast
        for name, value in (("source", texts.source_raw), ("reason", texts.reason),
                            ("competitor", texts.competitor), ("mrr", mrr)):
            problem = option_problem(kind, name) if value is not None else None
            if problem:
                raise RowError(problem)
        return texts

    def _user(self, kind: EventKind, fields: list[str], *, has_amount: bool) -> tuple[str, str]:
        """(the user id the event is credited to, the user as written)."""
        ctx = self.ctx
        user_text = fields[self.i["user"]]
        if user_text:
            user_text = " ".join(unescape_cell(user_text).split())
        user_id_text = fields[self.i["user_id"]]
        if user_id_text:
            user_id_text = unescape_cell(user_id_text).strip()
        problem = record_problem(kind, has_user=bool(user_text or user_id_text),
                                 has_amount=has_amount)
        if problem:
            raise RowError(problem)
        try:
            if user_id_text:
                user_id = ctx.directory.ensure_id(
                    user_id_text, user_text if user_text != user_id_text else None)
            elif user_text:
                user_id = ctx.directory.resolve(user_text)
            else:  # a marketing event without a rep: the team's
                user_id = ctx.directory.ensure_id(UNASSIGNED_USER, UNASSIGNED_NAME)
                ctx.unassigned += 1
        except RepError as error:
            raise RowError(str(error)) from None
        return user_id, user_text

    @staticmethod
    def _given_key(key: str) -> str:
        if key:
            key = unescape_cell(key).strip()
            if len(key) > MAX_KEY:
                raise RowError(f"key is {len(key)} characters long; the limit is {MAX_KEY}")
        return key

    def _content_key(self, parts: tuple) -> str:
        """`import:` + a digest of the row's parsed fields + `:` + how many identical rows came
        before it (so a repeated row is a second event, and a re-import adds nothing)."""
        material = "\x1f".join(str(part) if part is not None else "" for part in parts)
        digest = hashlib.sha256(material.encode()).digest()[:20]
        index = self.seen.get(digest, 0)
        self.seen[digest] = index + 1
        return f"import:{digest.hex()}:{index}"


# ---------------------------------------------------------------------------------------------
# Canonical events given field by field (the events API)
# ---------------------------------------------------------------------------------------------


@dataclass
class EventReader:
    """Canonical events given as {field: text} (the events API, bot/api), read exactly as rows
    of an events CSV: the same checks, messages and idempotency keys, with ISO dates (a date
    without a time is noon workspace-local) and a decimal point. `read` raises RowError; the
    people it meets wait in `directory` (written by its create_pending)."""

    rows: EventRows
    directory: RepDirectory

    def read(self, values: Mapping[str, str]) -> NewEvent:
        event, _voided_at = self.rows.parse([values.get(name, "") for name in EXPORT_COLUMNS])
        return event


def event_reader(session: Session, workspace: Workspace, *, now: datetime) -> EventReader:
    """An EventReader for one batch of `workspace` (repeats are told apart as within a file)."""
    tz = ZoneInfo(workspace.timezone)
    ctx = RowContext(workspace=workspace, dates=DateReader(tz=tz),
                     money=MoneyReader.for_currency(workspace.currency, "."),
                     directory=RepDirectory.load(session, workspace.id), now=now,
                     today=now.astimezone(tz).date(), grouping=",")
    columns = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    return EventReader(EventRows(columns, ctx), ctx.directory)


__all__ = ["IMPORT_USER", "EventReader", "EventRows", "RowContext", "event_reader", "text_cell"]

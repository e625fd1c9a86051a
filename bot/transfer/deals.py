"""A CRM deals-format row → the events it implies: created → `opportunity` (open deals in an
earlier stage: `lead`/`mql`/`sql` instead; deals in a demo stage also get `demo-booked`),
won → `deal-won` (amount) at the close date, lost → `deal-lost` (reason, competitor) at the
close date. A deal without an owner is credited to "Unassigned". Each event's idempotency key is
`import:deal:` + sha256 of (deal key, event kind), so a later export of the same CRM only adds
what happened since."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.transfer.presets import (
    PRESETS,
    STAGE_TARGETS,
    STATUS_NAMES,
    known_stages,
    map_stage,
    stage_key,
)
from bot.transfer.problems import RowError
from bot.transfer.rows import IMPORT_USER, RowContext, text_cell
from reports.events import LEAD_SOURCES, UNASSIGNED_NAME, source_group, source_key
from storage.recording import NewEvent
from storage.reps import RepError


@dataclass
class _Deal:
    """What a deal row says once read: its key and name, stage, outcome and instants."""

    key: str
    name: str
    stage: str  # lead | mql | sql | opportunity | demo
    outcome: str  # open | won | lost
    created: datetime
    closed: datetime | None = None
    stage_at: datetime | None = None


class DealRows:
    """The deals format: one row → the events it implies."""

    def __init__(self, columns: dict[str, int], ctx: RowContext, stage_map: dict[str, str],
                 preset: str | None = None, source_map: dict[str, str] | None = None,
                 header: Sequence[str] = ()) -> None:
        self.c = columns
        self.ctx = ctx
        self.stage_map = stage_map
        self.preset = preset
        self.source_map = source_map or {}
        self.header = list(header)
        self.lines: dict[str, int] = {}
        self.unknown: dict[tuple[str, str], int] = {}  # (what, label) → first line
        self.deleted = 0

    def _unknown(self, what: str, label: str, line: int) -> RowError:
        """An unknown CRM stage or source: the first time with the known values and the way
        to map it, then a pointer to that line."""
        first = self.unknown.setdefault((what, stage_key(label)), line)
        if first != line:
            return RowError(f'unknown {what} "{label}" (see line {first})')
        crm = f"{PRESETS[self.preset].title} " if self.preset else ""
        if what == "deal stage":
            known = ", ".join(known_stages(self.preset))
            return RowError(
                f'unknown deal stage "{label}": the {crm}stages kpibot knows are {known}; '
                f'map it with --stage "{label}=STAGE" (STAGE one of '
                f"{', '.join(STAGE_TARGETS)})")
        known = ", ".join(PRESETS[self.preset].sources) if self.preset else ""
        column = self.header[self.c["source"]] if self.header else "source"
        return RowError(
            f'unknown lead source "{label}": the {crm}sources kpibot knows are {known} and '
            f"kpibot's groups {', '.join(LEAD_SOURCES)}; map it with --source "
            f'"{label}=GROUP" (GROUP one of those groups), or leave the column out with '
            f'--map "{column}=-"')

    def _source(self, raw: str | None, line: int) -> str | None:
        """The lead-source group of a deal's source; a preset's unknown labels are refused
        (a file without a preset keeps free text, grouped as `other`)."""
        if raw is None:
            return None
        group = self.source_map.get(source_key(raw)) or source_group(raw)
        if group is None:
            if self.preset:
                raise self._unknown("lead source", raw, line)
            group = "other"
        return group

    def _get(self, fields: list[str], name: str) -> str:
        i = self.c.get(name)
        return fields[i].strip() if i is not None else ""

    def parse(self, fields: list[str], line: int) -> list[NewEvent]:
        """The events the row implies (none for a deleted deal); the first bad field is a
        RowError."""
        get = self._get
        ctx = self.ctx
        key, name = self._identity(fields)
        stage, outcome = self._stage(fields, line)
        if outcome == "deleted":
            self.deleted += 1
            self.lines[key] = line
            return []
        deal = _Deal(key, name, stage, outcome, *self._dates(fields, outcome))
        ctx.check_currency(get(fields, "currency"))
        amount = ctx.money.read(get(fields, "amount"), "amount")
        deal.stage_at = self._stage_at(fields, deal)
        account = text_cell(get(fields, "account"), "account")
        source_raw = text_cell(get(fields, "source"), "source")
        source = self._source(source_raw, line)
        reason = text_cell(get(fields, "reason"), "lost reason") if outcome == "lost" else None
        competitor = (text_cell(get(fields, "competitor"), "competitor")
                      if outcome == "lost" else None)
        owner_text = " ".join(get(fields, "owner").split()) or UNASSIGNED_NAME
        try:
            owner = ctx.directory.resolve(owner_text)
        except RepError as error:
            raise RowError(f"owner: {error}") from None
        self.lines[key] = line
        common = {"user_id": owner, "logged_by": IMPORT_USER, "deal_key": key,
                  "deal_name": name, "account_key": account.casefold() if account else None}
        events = self._opened(deal, common, amount, source, source_raw)
        events += self._closed(deal, common, amount, reason, competitor)
        return events

    def _identity(self, fields: list[str]) -> tuple[str, str]:
        """(deal key, deal name) of a deal that no earlier row of the file named."""
        deal_id = text_cell(self._get(fields, "id"), "deal id")
        name = text_cell(self._get(fields, "name"), "deal name")
        if not deal_id and not name:
            raise RowError("the deal has no id and no name")
        key = (deal_id or name).casefold()
        if key in self.lines:
            raise RowError(f'deal "{deal_id or name}" repeats line {self.lines[key]}')
        return key, name or deal_id

    def _stage(self, fields: list[str], line: int) -> tuple[str, str]:
        """(the kpibot stage the deal reached, its outcome: open, won, lost or deleted)."""
        status_text = self._get(fields, "status")
        stage_text = self._get(fields, "stage")
        stage = map_stage(stage_text, self.stage_map, self.preset) if stage_text \
            else "opportunity"
        if stage is None:
            raise self._unknown("deal stage", stage_text, line)
        if status_text:
            outcome = STATUS_NAMES.get(stage_key(status_text))
            if outcome is None:
                raise RowError(f'status "{status_text}" is not open, won or lost')
        elif not stage_text:
            raise RowError("the deal has no stage and no status")
        else:
            outcome = stage if stage in ("won", "lost") else "open"
        if stage in ("won", "lost"):
            stage = "opportunity"
        return stage, outcome

    def _dates(self, fields: list[str], outcome: str) -> tuple[datetime, datetime | None]:
        """(created, closed): a won or lost deal needs a close date, not before it was created."""
        get = self._get
        created_text = get(fields, "created")
        if not created_text:
            raise RowError("the created date is empty")
        created = self.ctx.instant(created_text, "created date")
        if outcome == "open":
            return created, None
        specific = "won_date" if outcome == "won" else "lost_date"
        close_text = get(fields, specific) or get(fields, "close_date")
        if not close_text:
            raise RowError(f"{outcome} deal has no close date")
        closed = self.ctx.instant(close_text, "close date")
        if closed < created:
            raise RowError(f'close date "{close_text}" is before the created date '
                           f'"{created_text}"')
        return created, closed

    def _stage_at(self, fields: list[str], deal: _Deal) -> datetime:
        """When a demo-stage deal reached its stage: the stage date, within created..closed."""
        stage_at = deal.created
        stage_date_text = self._get(fields, "stage_date")
        if deal.stage == "demo" and stage_date_text:
            stage_at = max(deal.created, self.ctx.instant(stage_date_text, "stage date"))
            if deal.closed is not None:
                stage_at = min(stage_at, deal.closed)
        return stage_at

    def _opened(self, deal: _Deal, common: dict, amount: int | None, source: str | None,
                source_raw: str | None) -> list[NewEvent]:
        """The deal's start: its early stage (lead, mql, sql) if still open there, else
        `opportunity` (and `demo-booked` in a demo stage)."""
        key = deal.key
        if deal.outcome == "open" and deal.stage in ("lead", "mql", "sql"):
            return [NewEvent(kind=deal.stage, occurred_at=deal.created, source=source,
                             source_raw=source_raw, idempotency_key=_deal_key(key, deal.stage),
                             **common)]
        currency = self.ctx.money.currency
        events = [NewEvent(
            kind="opportunity", occurred_at=deal.created, source=source, source_raw=source_raw,
            amount_minor=amount, currency=currency if amount is not None else None,
            idempotency_key=_deal_key(key, "opportunity"), **common)]
        if deal.stage == "demo":
            events.append(NewEvent(kind="demo-booked", occurred_at=deal.stage_at,
                                   idempotency_key=_deal_key(key, "demo-booked"), **common))
        return events

    def _closed(self, deal: _Deal, common: dict, amount: int | None, reason: str | None,
                competitor: str | None) -> list[NewEvent]:
        """The deal's end, if it has one: `deal-won` or `deal-lost` at the close date."""
        currency = self.ctx.money.currency
        if deal.outcome == "won":
            return [NewEvent(kind="deal-won", occurred_at=deal.closed, amount_minor=amount,
                             currency=currency if amount is not None else None,
                             idempotency_key=_deal_key(deal.key, "deal-won"), **common)]
        if deal.outcome == "lost":
            return [NewEvent(kind="deal-lost", occurred_at=deal.closed, reason=reason,
                             competitor=competitor,
                             idempotency_key=_deal_key(deal.key, "deal-lost"), **common)]
        return []


def _deal_key(deal_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{deal_key}\x1f{kind}".encode()).hexdigest()[:40]
    return f"import:deal:{digest}"


# ---------------------------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------------------------


__all__ = ["DealRows"]

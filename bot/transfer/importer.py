"""Running `kpibot import`: the file is read twice (evidence of its date order and decimal mark,
then its rows), every row is checked, and the events are stored in chunks in one transaction:
a bad row refuses the whole file (nothing stored) unless `skip_bad`; `dry_run` only validates
and counts what would be added. Deals, accounts and rollups are brought up to date once, after
the last chunk; named reps the file created but no stored event uses are dropped again."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.transfer.columns import deal_columns, event_columns
from bot.transfer.dates import DateReader
from bot.transfer.deals import DealRows
from bot.transfer.evidence import date_order, decimal_mark, scan
from bot.transfer.numbers import MoneyReader
from bot.transfer.presets import PRESETS
from bot.transfer.problems import ImportRefused, Problem, RowError
from bot.transfer.reading import CsvSource, width_problem
from bot.transfer.rows import IMPORT_USER, EventRows, RowContext
from storage.deals import deal_outcomes
from storage.engine import Database
from storage.event_queries import stored_keys
from storage.models import Event, Workspace
from storage.recording import NewEvent, record_events, void_event
from storage.reps import RepDirectory, prune_unused_named_reps
from storage.upkeep import Deferred, apply_deferred
from storage.workspaces import ensure_workspace

PROGRESS_EVERY = 50_000
CHUNK_SIZE = 20_000  # events handed to record_events at a time (one transaction for all)
_DATE_FIELDS = {"events": ("occurred_at", "voided_at"),
                "deals": ("created", "close_date", "won_date", "lost_date", "stage_date")}
_MONEY_FIELDS = {"events": ("amount", "mrr"), "deals": ("amount",)}


@dataclass
class ImportOptions:
    workspace_id: str
    format: str = "events"  # "events" | "deals"
    mapping: dict[str, str] = field(default_factory=dict)  # CSV column → field ("-": ignore)
    preset: str | None = None  # hubspot | salesforce | pipedrive (implies deals)
    stage_map: dict[str, str] = field(default_factory=dict)  # CRM stage → kpibot stage
    source_map: dict[str, str] = field(default_factory=dict)  # CRM source → lead-source group
    dry_run: bool = False
    skip_bad: bool = False
    date_format: str | None = None  # dmy | mdy | ymd | a strptime pattern
    decimal: str | None = None  # "." | ","
    delimiter: str | None = None  # "," | ";" | "\t"
    encoding: str = "utf-8-sig"
    # Used only when the workspace does not exist yet and is created by the import.
    timezone: str = "UTC"
    currency: str = "USD"
    fiscal_year_start: int = 1


@dataclass
class ImportResult:
    format: str
    workspace_id: str
    rows: int = 0  # data rows read
    events: int = 0  # events implied by the good rows
    added: int = 0  # events stored now
    already_stored: int = 0  # events whose key was stored before (or repeated in the file)
    problems: list[Problem] = field(default_factory=list)
    stored: bool = False
    dry_run: bool = False
    new_users: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    notes: list[str] = field(default_factory=list)
    delimiter: str = ","
    seconds: float = 0.0
    unassigned: int = 0  # events without a rep, credited to the team ("Unassigned")
    # The deals the file touches, after the import: how many are won, lost and open, and
    # those whose outcome the import changed: (name, before, after).
    deal_outcomes: dict[str, int] = field(default_factory=dict)
    changed_outcomes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.problems) and not self.stored and not self.dry_run

    @property
    def skipped_lines(self) -> list[int]:
        return [p.line for p in self.problems]


def _platform(workspace_id: str) -> str:
    prefix = workspace_id.partition(":")[0]
    return prefix if prefix in ("slack", "teams") else "import"


def _workspace(session: Session, options: ImportOptions, *, create: bool,
               now: datetime) -> tuple[Workspace, bool]:
    existing = session.get(Workspace, options.workspace_id)
    if existing is not None:
        return existing, False
    if create:
        return ensure_workspace(
            session=session, workspace_id=options.workspace_id,
            platform=_platform(options.workspace_id), timezone=options.timezone,
            currency=options.currency.upper(), fiscal_year_start=options.fiscal_year_start,
            now=now), True
    return Workspace(id=options.workspace_id, platform=_platform(options.workspace_id),
                     timezone=options.timezone, currency=options.currency.upper(),
                     fiscal_year_start=options.fiscal_year_start, created_at=now), True


class _Rollback(Exception):
    pass


def import_csv(
    *,
    database: Database,
    path: str | Path,
    options: ImportOptions,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportResult:
    """Validate and (unless dry-run or refused) store a CSV file. Raises ImportRefused."""
    started = _time.perf_counter()
    now = now or datetime.now(UTC)
    plan = _plan(path, options)
    fmt, source, columns = plan.format, plan.source, plan.columns
    result = ImportResult(format=fmt, workspace_id=options.workspace_id,
                          dry_run=options.dry_run, delimiter=source.delimiter)
    store = not options.dry_run
    opener = database.write if store else database.read
    new_workspace = None
    try:
        with opener() as session:
            workspace, created = _workspace(session, options, create=store, now=now)
            if created:  # read now: a rolled-back workspace's row cannot be read later
                new_workspace = (workspace.id, workspace.timezone, workspace.currency)
            ctx = plan.context(session, workspace, now)
            _Run(session, source, fmt, columns, options, ctx, result, progress, chunk_size,
                 workspace_missing=created and not store, new_workspace=created
                 ).run(plan.rows)
            if result.problems and not options.skip_bad:
                raise _Rollback
            result.stored = store
    except _Rollback:
        result.stored = False
    if new_workspace is not None:  # said once the outcome is known: a refused file creates none
        verb = ("created" if result.stored else "does not exist yet; it would be created"
                if options.dry_run else "was not created (nothing was stored)")
        workspace_id, timezone, currency = new_workspace
        result.notes.insert(0, f"workspace {workspace_id} {verb} (time zone {timezone}, "
                               f"currency {currency})")
    result.seconds = _time.perf_counter() - started
    return result


@dataclass
class _Plan:
    """How to read a file, learnt before any row is imported: its format, columns, row count,
    day/month order (or strptime pattern) and decimal mark."""

    format: str
    source: CsvSource
    columns: dict[str, int]
    rows: int
    order: str | None
    pattern: str | None
    decimal: str

    def context(self, session: Session, workspace: Workspace, now: datetime) -> RowContext:
        tz = ZoneInfo(workspace.timezone)
        return RowContext(
            workspace=workspace,
            dates=DateReader(tz=tz, order=self.order, pattern=self.pattern),
            money=MoneyReader.for_currency(workspace.currency, self.decimal),
            directory=RepDirectory.load(session, workspace.id),
            now=now, today=now.astimezone(tz).date(),
            grouping="," if self.decimal == "." else ".",
        )


def _plan(path: str | Path, options: ImportOptions) -> _Plan:
    """Opens the file, finds its columns and reads it once for the evidence of its date order
    and decimal mark (refusing a file that cannot tell them, or misses a column)."""
    fmt = _format(options)
    source = CsvSource(path, encoding=options.encoding, delimiter=options.delimiter)
    if fmt == "events":
        columns = event_columns(source.header, options.mapping)
    else:
        columns = deal_columns(source.header, options.mapping, options.preset)
    date_indexes = [columns[f] for f in _DATE_FIELDS[fmt] if f in columns]
    money_indexes = [columns[f] for f in _MONEY_FIELDS[fmt] if f in columns]
    need_dates = not (options.date_format and "%" in options.date_format)
    evidence = scan(source, date_indexes, money_indexes, need_dates, options.decimal is None)
    order, pattern = date_order(options.date_format, evidence)
    decimal = decimal_mark(options.decimal, evidence)
    return _Plan(fmt, source, columns, evidence.rows, order, pattern, decimal)


def _format(options: ImportOptions) -> str:
    """events | deals (a preset implies deals); an unknown one is refused."""
    fmt = "deals" if options.preset else options.format
    if options.preset and options.preset not in PRESETS:
        raise ImportRefused(f"unknown preset {options.preset}; presets: "
                            + ", ".join(sorted(PRESETS)))
    if fmt not in ("events", "deals"):
        raise ImportRefused(f"unknown format {fmt}; use events or deals")
    return fmt


class _Run:
    """One pass over the rows of a file: parse each, collect the problems, and store (or, in a
    dry run, count) the events chunk by chunk."""

    def __init__(self, session: Session, source: CsvSource, fmt: str, columns: dict[str, int],
                 options: ImportOptions, ctx: RowContext, result: ImportResult,
                 progress: Callable[[int, int], None] | None, chunk_size: int, *,
                 workspace_missing: bool, new_workspace: bool) -> None:
        self.session = session
        self.source = source
        self.fmt = fmt
        self.options = options
        self.ctx = ctx
        self.result = result
        self.progress = progress
        self.chunk_size = chunk_size
        self.workspace_missing = workspace_missing
        self.new_workspace = new_workspace
        self.store = not options.dry_run
        self.parser: EventRows | DealRows
        self.parser = EventRows(columns, ctx) if fmt == "events" else DealRows(
            columns, ctx, options.stage_map, options.preset, options.source_map, source.header)
        self.chunk: list[NewEvent] = []
        self.voids: list[tuple[str, datetime]] = []
        self.keys_in_chunk: set[str] = set()
        # Rollups, deals and accounts are brought up to date once, after the last chunk.
        self.deferred = Deferred()

    @property
    def refusing(self) -> bool:
        """Whether the file will be refused (a bad row without skip_bad): only validate."""
        return bool(self.result.problems) and not self.options.skip_bad

    def run(self, total: int) -> None:
        result, ctx, progress = self.result, self.ctx, self.progress
        rows = 0
        for line, fields in self.source.rows():
            rows += 1
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(rows, total)
            self._row(line, fields)
        if not self.refusing:
            self._flush()
            if self.store:
                self._finish()
        result.rows = rows
        result.unassigned = ctx.unassigned
        if progress is not None and rows >= PROGRESS_EVERY and rows % PROGRESS_EVERY:
            progress(rows, total)
        result.new_users = ctx.directory.created + [
            (uid, name) for uid, (name, _) in ctx.directory.pending.items()]
        if isinstance(self.parser, DealRows) and self.parser.deleted:
            result.notes.append(f"{self.parser.deleted} deleted deal(s) left out")

    def _row(self, line: int, fields: list[str]) -> None:
        """Parse one row; note its problem, or add its events to the chunk."""
        width = len(self.source.header)
        if len(fields) != width:
            other = {",": ";", ";": ",", "\t": ","}[self.source.delimiter]
            self.result.problems.append(
                Problem(line, width_problem(fields, width, self.source.delimiter, other)))
            return
        try:
            if self.fmt == "events":
                event, voided_at = self.parser.parse(fields)
                events = [event]
                if voided_at is not None:
                    self.voids.append((event.idempotency_key, voided_at))
            else:
                events = self.parser.parse(fields, line)
        except RowError as error:
            self.result.problems.append(Problem(line, str(error)))
            return
        self.result.events += len(events)
        if self.refusing:
            return
        if not self.store:
            # a dry run counts repeats within the file as already stored, like a real import
            for e in events:
                if e.idempotency_key in self.keys_in_chunk:
                    self.result.already_stored += 1
                else:
                    self.keys_in_chunk.add(e.idempotency_key)
                    self.chunk.append(e)
        else:
            self.chunk.extend(events)
        if len(self.chunk) >= self.chunk_size:
            self._flush()
            self.keys_in_chunk.clear()

    def _flush(self) -> None:
        """Store the chunk (or, in a dry run, count which of its keys are stored already)."""
        chunk, session, ctx, result = self.chunk, self.session, self.ctx, self.result
        if not chunk:
            return
        if self.store:
            ctx.directory.create_pending(session, now=ctx.now)
            new_void_keys = _new_keys(session, ctx.workspace.id, [k for k, _ in self.voids])
            added = record_events(session=session, workspace=ctx.workspace, new_events=chunk,
                                  now=ctx.now, defer=self.deferred)
            result.added += added
            result.already_stored += len(chunk) - added
            _apply_voids(session, ctx.workspace, [(k, at) for k, at in self.voids
                                                  if k in new_void_keys], self.deferred)
            session.expunge_all()
        elif not self.workspace_missing:
            known = stored_keys(session=session, workspace_id=ctx.workspace.id,
                                keys=[e.idempotency_key for e in chunk])
            result.already_stored += len(known)
        chunk.clear()
        self.voids.clear()

    def _finish(self) -> None:
        """After the last chunk: deals, accounts and rollups up to date, the deal outcomes the
        file changed, and the named reps no stored event uses dropped again."""
        session, ctx = self.session, self.ctx
        touched = set(self.deferred.deal_keys)
        before = {} if self.new_workspace else deal_outcomes(
            session=session, workspace_id=ctx.workspace.id, keys=touched)
        apply_deferred(session=session, workspace=ctx.workspace, deferred=self.deferred)
        _outcome_summary(self.result, before, deal_outcomes(
            session=session, workspace_id=ctx.workspace.id, keys=touched))
        unused = prune_unused_named_reps(
            session=session, workspace_id=ctx.workspace.id,
            ids=[uid for uid, _ in ctx.directory.created])
        ctx.directory.created = [c for c in ctx.directory.created if c[0] not in unused]


def _outcome_summary(result: ImportResult, before: dict[str, tuple[str, str]],
                     after: dict[str, tuple[str, str]]) -> None:
    counts = dict.fromkeys(("won", "lost", "open"), 0)
    for key, (name, outcome) in sorted(after.items()):
        counts[outcome] += 1
        old = before.get(key)
        if old is not None and old[1] != outcome:
            result.changed_outcomes.append((name, old[1], outcome))
    for key, (name, outcome) in sorted(before.items()):
        if key not in after:  # every event of the deal voided by the file
            result.changed_outcomes.append((name, outcome, "gone"))
    result.deal_outcomes = counts


def _new_keys(session: Session, workspace_id: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(keys) - stored_keys(session=session, workspace_id=workspace_id, keys=keys)


def _apply_voids(session: Session, workspace: Workspace,
                 voids: list[tuple[str, datetime]], deferred: Deferred) -> None:
    for key, voided_at in voids:
        event = session.scalars(select(Event).where(Event.workspace_id == workspace.id,
                                                 Event.idempotency_key == key)).first()
        if event is not None:
            void_event(session=session, workspace=workspace, event_id=event.id,
                       voided_by=IMPORT_USER, now=voided_at, defer=deferred)


# ---------------------------------------------------------------------------------------------
# Canonical events given field by field (the events API)
# ---------------------------------------------------------------------------------------------


__all__ = ["CHUNK_SIZE", "ImportOptions", "ImportResult", "import_csv"]

"""`kpibot import`: events CSV and CRM deals CSV into a workspace, in one transaction.

Formats (headers in `bot.csv_presets`):

* events: the canonical events CSV that `kpibot export` writes (only `occurred_at` and `event`
  are required; export → import round-trips exactly). A row without a user is credited to the
  team ("Unassigned") when its kind may be (leads, web events, social engagement, spend) and
  refused otherwise; a `deal-won` without an amount is a win whose amount is unknown
  (`reports.events.record_problem`, the rule the events API shares).
* deals: one row per deal as CRMs export them; a row becomes the events it implies:
  created → `opportunity` (open deals in an earlier stage: `lead`/`mql`/`sql` instead; open
  or closed deals in a demo stage also get `demo-booked`), won → `deal-won` (amount) at the close
  date, lost → `deal-lost` (reason, competitor) at the close date. A deal without an owner is
  credited to "Unassigned"; a won deal without an amount is a win of unknown amount.

Reading: UTF-8 with or without BOM; CRLF or LF; `,` `;` or tab delimiter, sniffed from the
header (a file that mixes them is refused). Dates: ISO 8601 with or without time and offset,
`10/05/2026` (month or day first: detected from the file, refused when the file cannot tell,
`--date-format dmy|mdy|PATTERN` decides), `05.10.2026` (day first), `5 Oct 2026`,
`Oct 5, 2026`, Excel serial numbers. A time without an offset is workspace-local; a date
without a time is noon workspace-local (like backdated `/kpi log ... on DATE`), and a deal's
events on one day count in funnel order (reports.deal_state), so a date-only lead never comes
after a timed win of the same day. Money:
`12000`, `12,000.50`, `12.000,50`, `12 000`, `$12,000`, `12000 USD`, `(200)`; another
currency than the workspace's is refused. Decimal comma or point is detected per file.

Validation: every bad row is reported with its line number and reason. By default the whole
file is refused when any row is bad (nothing stored); `skip_bad` stores the good rows;
`dry_run` only validates. Idempotency keys:

* the `key` column when present (exports carry it);
* events format otherwise: `import:` + sha256 of the row's parsed fields (kind, instant, count,
  amounts, deal, account, the user as written, source, reason, competitor, note) + `:` +
  the occurrence index among identical rows — formatting (delimiter, BOM, date or number
  style) does not change it, and neither do the file name or line numbers;
* deals format: `import:deal:` + sha256 of (deal key, event kind): one event of each kind per
  CRM deal, so importing a later export of the same CRM only adds what happened since.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
import re
import time as _time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_symbol
from sqlmodel import Session, select

from bot.csv_export import currency_precision, unescape_cell
from bot.csv_presets import (
    DEAL_ALIASES,
    DEAL_FIELD_SET,
    DEAL_FIELDS,
    EVENT_ALIASES,
    EVENT_FIELDS,
    EVENT_REQUIRED,
    EXPORT_COLUMNS,
    PRESETS,
    STAGE_TARGETS,
    STATUS_NAMES,
    header_key,
    known_stages,
    map_stage,
    stage_key,
)
from reports.events import (
    ALIASES,
    KINDS,
    LEAD_SOURCES,
    MAX_DURATION,
    MAX_NAME,
    MAX_NOTE,
    UNASSIGNED_NAME,
    UNASSIGNED_USER,
    EventKind,
    normalize_source,
    option_problem,
    record_problem,
    resolve_kind,
    source_group,
    source_key,
)
from reports.units import parse_duration
from storage.engine import Database
from storage.events import (
    Deferred,
    NewEvent,
    apply_deferred,
    deal_outcomes,
    ensure_workspace,
    record_events,
    void_event,
)
from storage.models import Event, Workspace
from storage.reps import RepDirectory, RepError, prune_unused_named_reps

IMPORT_USER = "kpibot:import"  # logged_by of imported events
MAX_COUNT = 1_000_000_000
MAX_MAJOR = 10**12  # largest amount in major units, as the chat grammar (reports.units)
MAX_KEY = 200
PROGRESS_EVERY = 50_000
CHUNK_SIZE = 20_000  # events handed to record_events at a time (one transaction for all)



class ImportRefused(Exception):
    """The file as a whole cannot be read; str(error) says why and what to do."""


class RowError(ValueError):
    """One row cannot be read; str(error) is the reason (without the line number)."""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


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


# ---------------------------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------------------------


def _delimiter_label(d: str) -> str:
    return "tab" if d == "\t" else d


class CsvSource:
    """A CSV file that can be read more than once: delimiter, header and numbered rows."""

    def __init__(self, path: str | Path, *, encoding: str = "utf-8-sig",
                 delimiter: str | None = None) -> None:
        self.path = Path(path)
        self.encoding = encoding
        if not self.path.is_file():
            raise ImportRefused(f"no such file: {self.path}")
        first, second = self._first_lines()
        if not first.strip():
            raise ImportRefused(f"{self.path.name} is empty (no header row)")
        self.delimiter = _sniff(first, second, delimiter)
        self.header = [cell.replace("\ufeff", "").strip()
                       for cell in next(csv.reader([first], delimiter=self.delimiter))]

    def _open(self):
        return open(self.path, encoding=self.encoding, newline="")  # noqa: SIM115

    def _first_lines(self) -> tuple[str, str]:
        with self._open() as handle, _decoding(0):
            first = handle.readline()
            while first and not first.strip():
                first = handle.readline()
            second = handle.readline()
            while second and not second.strip():
                second = handle.readline()
        return first.rstrip("\r\n"), second.rstrip("\r\n")

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number where the row starts, fields) for every data row; blank rows skipped."""
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter, strict=False)
            header_seen = False
            start = 1
            try:
                for fields in reader:
                    line, start = start, reader.line_num + 1
                    if not "".join(fields).strip():
                        continue
                    if not header_seen:
                        header_seen = True
                        continue
                    yield line, fields
            except csv.Error as error:
                raise ImportRefused(f"line {start}: {error}") from None
            except UnicodeDecodeError as error:
                raise _not_utf8(error, start) from None


@contextlib.contextmanager
def _decoding(line: int):
    try:
        yield
    except UnicodeDecodeError as error:
        raise _not_utf8(error, line) from None


def _not_utf8(error: UnicodeDecodeError, line: int) -> ImportRefused:
    where = f" near line {line}" if line else ""
    return ImportRefused(
        f"the file is not UTF-8 text{where} (byte 0x{error.object[error.start]:02x}); "
        'save it as "CSV UTF-8" or pass --encoding cp1252 (or the encoding it uses)')


def _sniff(first: str, second: str, forced: str | None) -> str:
    """The delimiter: the one that splits the header into the most columns."""
    counts = {d: len(next(csv.reader([first], delimiter=d))) for d in (",", ";", "\t")}
    best = max(counts.values())
    if forced is not None:
        if counts[forced] == 1 and best > 1:
            other = max(counts, key=counts.get)
            raise ImportRefused(
                f"the file looks {_delimiter_label(other)}-separated but with --delimiter "
                f"{_delimiter_label(forced)!r} the header has 1 column: use --delimiter "
                f"'{_delimiter_label(other)}'"
            )
        return forced
    if best == 1:
        shown = first if len(first) <= 60 else first[:57] + "..."
        raise ImportRefused(
            f'the header has 1 column ("{shown}"): the file must be separated by commas, '
            "semicolons or tabs (pass --delimiter if it is, or check the first line)"
        )
    winners = [d for d, n in counts.items() if n == best]
    if len(winners) > 1 and second:
        winners = [d for d in winners
                   if len(next(csv.reader([second], delimiter=d))) == best] or winners
    if len(winners) > 1:
        raise ImportRefused(
            "cannot tell whether the file is "
            + " or ".join(f"{_delimiter_label(d)}-separated" for d in winners)
            + ": pass --delimiter"
        )
    return winners[0]


# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """`["Deal Ref=id", "Junk=-"]` → {"Deal Ref": "id", "Junk": "-"}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise ImportRefused(f'--map "{pair}" must look like COLUMN=FIELD, e.g. '
                                '--map "Deal Ref=id" (or COLUMN=- to ignore a column)')
        mapping[column.strip()] = target.strip()
    return mapping


def parse_stage_map(pairs: Sequence[str]) -> dict[str, str]:
    """`["Contract Sent=demo"]` → {"contract sent": "demo"}."""
    stages: dict[str, str] = {}
    for pair in pairs:
        name, sep, target = pair.rpartition("=")
        target = target.strip().lower()
        target = {"demo-booked": "demo", "deal-won": "won", "deal-lost": "lost"}.get(target,
                                                                                     target)
        if not sep or not name.strip() or target not in STAGE_TARGETS:
            raise ImportRefused(f'--stage "{pair}" must look like "CRM STAGE=STAGE" with STAGE '
                                f"one of {', '.join(STAGE_TARGETS)}")
        stages[stage_key(name)] = target
    return stages


def parse_source_map(pairs: Sequence[str]) -> dict[str, str]:
    """`["Trade Show=other"]` → {"trade-show": "other"} (keys compared like source_key)."""
    sources: dict[str, str] = {}
    for pair in pairs:
        name, sep, target = pair.rpartition("=")
        group = source_group(target) if target.strip() else None
        if not sep or not name.strip() or group is None or source_key(target) != group:
            raise ImportRefused(f'--source "{pair}" must look like "CRM SOURCE=GROUP" with '
                                f"GROUP one of {', '.join(LEAD_SOURCES)}")
        sources[source_key(name)] = group
    return sources


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _apply_mapping(header: list[str], mapping: dict[str, str], fields: frozenset[str],
                   format_name: str) -> dict[int, str]:
    """Column index → field (or "-") for the columns named in --map."""
    by_key = {header_key(name): i for i, name in enumerate(header)}
    chosen: dict[int, str] = {}
    for column, target in mapping.items():
        target_field = target.strip().lower().replace(" ", "_")
        if target_field in ("-", "ignore", "skip"):
            target_field = "-"
        elif target_field not in fields:
            hint = _suggest(target_field, sorted(fields))
            raise ImportRefused(
                f'--map "{column}={target}": {target} is not a field of the {format_name} '
                f"format" + (f" (did you mean {hint}?)" if hint else "")
                + f"; fields: {', '.join(sorted(fields))}")
        index = by_key.get(header_key(column))
        if index is None:
            raise ImportRefused(f'--map "{column}={target}": the file has no column "{column}" '
                                f"(columns: {', '.join(header)})")
        chosen[index] = target_field
    return chosen


def _check_duplicates(columns: dict[str, int], header: list[str], index: int,
                      name: str) -> None:
    if name in columns and columns[name] != index:
        raise ImportRefused(f'columns "{header[columns[name]]}" and "{header[index]}" both '
                            f"mean {name}; map one of them elsewhere (--map \"COLUMN=-\")")


def event_columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """field → column index for the events format; unknown columns are refused."""
    mapped = _apply_mapping(header, mapping, EVENT_FIELDS, "events")
    field_keys = {header_key(f): f for f in EVENT_FIELDS}
    field_keys.update({header_key(a): f for a, f in EVENT_ALIASES.items()})
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for i, name in enumerate(header):
        target = mapped.get(i) or field_keys.get(header_key(name))
        if target == "-":
            continue
        if target is None:
            if name:
                unknown.append(name)
            continue
        _check_duplicates(columns, header, i, target)
        columns[target] = i
    missing = [f for f in EVENT_REQUIRED if f not in columns]
    if missing:
        message = "missing required column " + ", ".join(missing)
        hints = []
        for name in unknown:
            hint = _suggest(header_key(name).replace(" ", "_"), missing)
            if hint:
                hints.append(f'"{name}" → {hint}?')
        if hints:
            message += " (the header has " + ", ".join(hints) + ")"
        if _looks_like_deals(header):
            message += ("; this looks like a CRM deals export: use --format deals "
                        "(or --preset hubspot|salesforce|pipedrive)")
        else:
            message += f"; the events header is {','.join(EXPORT_COLUMNS[:11])}"
        raise ImportRefused(message)
    if unknown:
        parts = []
        for name in unknown:
            hint = _suggest(header_key(name).replace(" ", "_"), sorted(EVENT_FIELDS))
            parts.append(f'"{name}"' + (f" (did you mean {hint}?)" if hint else ""))
        raise ImportRefused(
            "unknown column " + ", ".join(parts) + ": rename it, map it with "
            f'--map "{unknown[0]}=FIELD", or ignore it with --map "{unknown[0]}=-"')
    return columns


def _looks_like_deals(header: list[str]) -> bool:
    keys = {header_key(h) for h in header}
    generic = {header_key(a) for aliases in DEAL_ALIASES.values() for a in aliases}
    preset = {header_key(c) for p in PRESETS.values() for cs in p.columns.values() for c in cs}
    return len(keys & (generic | preset)) >= 3 and "event" not in keys


def deal_columns(header: list[str], mapping: dict[str, str],
                 preset: str | None) -> dict[str, int]:
    """field → column index for the deals format: --map, then the preset, then common names."""
    mapped = _apply_mapping(header, mapping, DEAL_FIELD_SET, "deals")
    by_key: dict[str, int] = {}
    for i, name in enumerate(header):
        by_key.setdefault(header_key(name), i)
    columns: dict[str, int] = {}
    for i, target in mapped.items():
        if target != "-":
            _check_duplicates(columns, header, i, target)
            columns[target] = i
    taken = set(mapped)
    spec = PRESETS[preset] if preset else None
    for field_name in DEAL_FIELDS:
        if field_name in columns:
            continue
        candidates = list(spec.columns.get(field_name, ())) if spec else []
        candidates += list(DEAL_ALIASES.get(field_name, ()))
        for candidate in candidates:
            i = by_key.get(header_key(candidate))
            if i is not None and i not in taken:
                columns[field_name] = i
                taken.add(i)
                break
    problems = []
    if "created" not in columns:
        problems.append(_missing_deal_field("created", spec))
    if "id" not in columns and "name" not in columns:
        problems.append(_missing_deal_field("id", spec))
    if "stage" not in columns and "status" not in columns:
        problems.append(_missing_deal_field("stage", spec))
    if problems:
        hint = ""
        if {"occurred_at", "event"} <= {header_key(h).replace(" ", "_") for h in header}:
            hint = "; this looks like a kpibot events file: leave out --format deals / --preset"
        raise ImportRefused("; ".join(problems) + f" (columns: {', '.join(header)}){hint}")
    return columns


def _missing_deal_field(name: str, spec) -> str:
    what = {"created": "created (the created date)", "id": "id or name (the deal)",
            "stage": "stage or status"}[name]
    expected = ""
    if spec is not None:
        names = spec.columns.get(name, ())
        if names:
            expected = f' ("{names[0]}" in a {spec.title})'
    return (f"missing required column {what}{expected}: map it with "
            f'--map "YOUR COLUMN={name}"')


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, names in enumerate((
        ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
        ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
        ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
        ("dec", "december"),
    ))
    for name in names
}
_REST = r"(?:(?:\s*T\s*|\s*,\s*|\s+(?:at\s+)?)(?P<time>.+))?"
_NUMERIC_DATE = re.compile(r"(?a)^(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)"
                           r"(?P<y>\d{4}|\d{2})" + _REST + "$")
_YMD_DATE = re.compile(r"(?a)^(?P<y>\d{4})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                       + _REST + "$")
_NAMED_DMY = re.compile(r"(?a)^(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]+(?P<mon>[A-Za-z]{3,9})\.?"
                        r"[\s,-]+(?P<y>\d{4}|\d{2})" + _REST + "$")
_NAMED_MDY = re.compile(r"(?a)^(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+"
                        r"(?P<y>\d{4})" + _REST + "$")
_TIME = re.compile(r"(?a)^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,6})\d*)?)?"
                   r"\s*(?P<ampm>[AaPp])?\.?(?:[Mm]\.?)?"
                   r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?$")
_EXCEL_SERIAL = re.compile(r"(?a)^\d{5}(?:\.\d+)?$")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_TZ_SUFFIX = re.compile(r"\s*(?:UTC|GMT)$")


@dataclass(frozen=True)
class DateReader:
    """Reads the date/time cells of one file: its day/month order and workspace zone."""

    tz: ZoneInfo
    order: str | None = None  # "dmy" | "mdy" | None (unknown: refuse day/month forms)
    pattern: str | None = None  # an explicit strptime pattern

    def read(self, text: str, what: str) -> tuple[datetime, bool]:
        """(UTC instant, had a time of day). Raises RowError naming `what` and the value."""
        s = text.strip()
        try:
            local, has_time = self._parse(s)
        except (ValueError, OverflowError):
            raise RowError(f'{what} "{text}" is not a date') from None
        if local is None:
            raise RowError(f'{what} "{text}" is not a date (write it like 2026-10-05 or '
                           "2026-10-05 14:30)")
        if not has_time:
            local = datetime.combine(local.date(), time(12), tzinfo=self.tz)
        elif local.tzinfo is None:
            local = local.replace(tzinfo=self.tz)
        return local.astimezone(UTC), has_time

    def _parse(self, s: str) -> tuple[datetime | None, bool]:
        if self.pattern:
            parsed = datetime.strptime(s, self.pattern)
            has_time = any(d in self.pattern for d in ("%H", "%I", "%M", "%X", "%c"))
            return parsed, has_time
        if len(s) >= 10 and s[4] == "-" and s[:4].isdigit():
            core = _TZ_SUFFIX.sub("", s) if s[-1] in "CT" else s  # ends in UTC or GMT?
            try:
                parsed = datetime.fromisoformat(core)
            except ValueError:
                pass
            else:
                if len(core) != len(s) and parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
                return parsed, len(core) > 10
        m = _YMD_DATE.match(s)
        if m:
            return self._with_time(date(int(m["y"]), int(m["m"]), int(m["d"])), m["time"])
        m = _NUMERIC_DATE.match(s)
        if m:
            a, b, year = int(m["a"]), int(m["b"]), _year(m["y"])
            if m["sep"] == ".":
                day, month = a, b
            elif a == b or a > 12 or b > 12:
                day, month = (a, b) if a > 12 else (b, a)
                if self.order == "mdy" and a > 12:
                    raise ValueError("day first in a month-first file")
                if self.order == "dmy" and b > 12:
                    raise ValueError("month first in a day-first file")
            elif self.order == "dmy":
                day, month = a, b
            elif self.order == "mdy":
                day, month = b, a
            else:
                return None, False
            return self._with_time(date(year, month, day), m["time"])
        m = _NAMED_DMY.match(s) or _NAMED_MDY.match(s)
        if m:
            month = _MONTHS.get(m["mon"].lower())
            if month is None:
                return None, False
            return self._with_time(date(_year(m["y"]), month, int(m["d"])), m["time"])
        if _EXCEL_SERIAL.match(s):
            days = float(s)
            parsed = _EXCEL_EPOCH + timedelta(days=days)
            return parsed, days != int(days)
        return None, False

    @staticmethod
    def _with_time(day: date, text: str | None) -> tuple[datetime, bool]:
        if not text:
            return datetime.combine(day, time(0)), False
        m = _TIME.match(text.strip())
        if not m:
            raise ValueError("bad time")
        hour, minute = int(m["h"]), int(m["m"])
        if m["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError("bad 12-hour time")
            hour = hour % 12 + (12 if m["ampm"].lower() == "p" else 0)
        second = int(m["s"] or 0)
        micro = int((m["f"] or "0").ljust(6, "0"))
        tzinfo = None
        if m["tz"]:
            tzinfo = UTC if m["tz"] in ("Z", "UTC", "GMT") else _offset(m["tz"])
        return datetime.combine(day, time(hour, minute, second, micro), tzinfo=tzinfo), True


def _offset(text: str):
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    from datetime import timezone

    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def classify_date(text: str) -> str | None:
    """Evidence a date cell gives about day/month order: "dmy", "mdy", "ambiguous" or None."""
    s = text.strip()
    if not s or s[:4].isdigit():
        return None
    m = _NUMERIC_DATE.match(s)
    if not m or m["sep"] == ".":
        return None
    a, b = int(m["a"]), int(m["b"])
    if a == b:
        return None
    if a > 12 >= b:
        return "dmy"
    if b > 12 >= a:
        return "mdy"
    if a <= 12 and b <= 12:
        return "ambiguous"
    return None


# ---------------------------------------------------------------------------------------------
# Money and numbers
# ---------------------------------------------------------------------------------------------

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'’")
_NUMBER_AREA = re.compile(r"(?a)\d[\d.,\s\u00a0\u202f\u2009'’]*\d|\d")
_PLAIN = re.compile(r"(?a)^\d+(?:\.\d+)?$")
# Symbols → the currencies they may stand for (to tell "another currency" from "not a number").
_SYMBOLS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP"}),
    "us$": frozenset({"USD"}), "ca$": frozenset({"CAD"}), "c$": frozenset({"CAD"}),
    "a$": frozenset({"AUD"}), "au$": frozenset({"AUD"}), "nz$": frozenset({"NZD"}),
    "hk$": frozenset({"HKD"}), "s$": frozenset({"SGD"}), "r$": frozenset({"BRL"}),
    "mx$": frozenset({"MXN"}), "€": frozenset({"EUR"}), "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}), "￥": frozenset({"JPY", "CNY"}), "元": frozenset({"CNY"}),
    "cn¥": frozenset({"CNY"}), "kr": frozenset({"NOK", "SEK", "DKK", "ISK"}),
    "kr.": frozenset({"DKK", "NOK", "SEK"}), ",-": frozenset({"NOK", "SEK", "DKK"}),
    "zł": frozenset({"PLN"}), "lei": frozenset({"RON"}), "₹": frozenset({"INR"}),
    "₩": frozenset({"KRW"}), "₽": frozenset({"RUB"}), "₺": frozenset({"TRY"}),
    "₪": frozenset({"ILS"}), "kč": frozenset({"CZK"}), "ft": frozenset({"HUF"}),
    "fr.": frozenset({"CHF"}), "r": frozenset({"ZAR"}),
}
_LOCALES = ("en", "en_US", "en_GB", "nb", "sv", "da", "ro", "zh", "de", "fr", "ja")


@dataclass(frozen=True)
class MoneyReader:
    currency: str
    precision: int
    decimal: str = "."  # the decimal mark of the file
    symbols: frozenset[str] = frozenset()

    @classmethod
    def for_currency(cls, currency: str, decimal: str = ".") -> MoneyReader:
        code = currency.upper()
        symbols = {code.lower()}
        for locale in _LOCALES:
            with contextlib.suppress(Exception):
                symbols.add(get_currency_symbol(code, locale=locale).lower())
        symbols.update(s for s, codes in _SYMBOLS.items() if code in codes)
        return cls(code, currency_precision(code), decimal, frozenset(symbols))

    def read(self, text: str, what: str, *, signed: bool = False) -> int | None:
        """Minor units, or None for an empty cell. Raises RowError naming `what`."""
        s = text.strip()
        if not s:
            return None
        if self.decimal == "." and _PLAIN.match(s):  # fast path: 12000 or 12000.00
            whole, _, part = s.partition(".")
            return self._minor(whole, part, Decimal(1), negative=False, text=text, what=what,
                               signed=signed)
        area = _NUMBER_AREA.search(s)
        if area is None:
            raise RowError(f'{what} "{text}" is not a number')
        prefix, number, suffix = s[: area.start()], area.group(), s[area.end():]
        negative = False
        prefix = prefix.replace(" ", "").replace("\u00a0", "")
        suffix = suffix.replace(" ", "").replace("\u00a0", "")
        if prefix.startswith("(") and suffix.endswith(")"):
            negative, prefix, suffix = True, prefix[1:], suffix[:-1]
        for sign in ("-", "−"):
            if prefix.startswith(sign) or prefix.endswith(sign):
                negative, prefix = True, prefix.replace(sign, "", 1)
            if suffix.endswith(sign) and suffix != ",-":
                negative, suffix = True, suffix[:-1]
        prefix = prefix.removeprefix("+")
        multiplier = Decimal(1)
        low = suffix.lower()
        if low and low not in self.symbols and low not in _SYMBOLS and low[0] in "km" and (
            len(low) == 1 or low[1:] in self.symbols or low[1:] in _SYMBOLS
            or re.fullmatch(r"[a-z]{3}", low[1:])
        ):
            multiplier = Decimal(1000) if low[0] == "k" else Decimal(1_000_000)
            suffix = suffix[1:]
        for marker in (prefix, suffix):
            if marker:
                self._check_marker(marker, text, what)
        whole, part = self._split(number.translate(_SPACES), text, what)
        return self._minor(whole, part, multiplier, negative=negative, text=text, what=what,
                           signed=signed)

    def _check_marker(self, marker: str, text: str, what: str) -> None:
        low = marker.lower()
        if low in self.symbols:
            return
        if re.fullmatch(r"[a-z]{3}", low):
            raise RowError(f'{what} "{text}" is in {low.upper()}; this workspace counts in '
                           f"{self.currency} (convert it first)")
        if low in _SYMBOLS:
            codes = "/".join(sorted(_SYMBOLS[low]))
            raise RowError(f'{what} "{text}" is in {marker} ({codes}); this workspace counts in '
                           f"{self.currency} (convert it first)")
        raise RowError(f'{what} "{text}" is not a number')

    def _split(self, number: str, text: str, what: str) -> tuple[str, str]:
        d = self.decimal
        g = "," if d == "." else "."
        if re.fullmatch(rf"[0-9]+(?:{re.escape(d)}[0-9]+)?", number):
            whole, _, part = number.partition(d)
            return whole, part
        if re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(g)}[0-9]{{3}})+(?:{re.escape(d)}[0-9]+)?",
                        number):
            whole, _, part = number.partition(d)
            return whole.replace(g, ""), part
        raise RowError(f'{what} "{text}" is not a number')

    def _minor(self, whole: str, part: str, multiplier: Decimal, *, negative: bool, text: str,
               what: str, signed: bool) -> int:
        if multiplier == 1:
            extra = part[self.precision:]
            if extra.strip("0"):
                raise RowError(f'{what} "{text}" has more decimals than {self.currency} has '
                               f"({self.precision})")
            minor = int(whole) * 10**self.precision + int(
                (part[: self.precision]).ljust(self.precision, "0") or "0")
        else:
            try:
                value = Decimal(f"{whole}.{part or '0'}") * multiplier * 10**self.precision
            except InvalidOperation:
                raise RowError(f'{what} "{text}" is not a number') from None
            if value != value.to_integral_value():
                raise RowError(f'{what} "{text}" has more decimals than {self.currency} has '
                               f"({self.precision})")
            minor = int(value)
        if negative:
            if not signed:
                raise RowError(f'{what} "{text}" must not be negative')
            minor = -minor
        if abs(minor) > MAX_MAJOR * 10**self.precision:
            raise RowError(f'{what} "{text}" is too large')
        return minor


def classify_decimal(text: str) -> str | None:
    """Evidence an amount cell gives about the decimal mark: "dot", "comma",
    "ambiguous-dot" (12.000), "ambiguous-comma" (12,000) or None."""
    if "," not in text and "." not in text:
        return None
    area = _NUMBER_AREA.search(text)
    if area is None:
        return None
    core = area.group().translate(_SPACES)
    dot, comma = core.rfind("."), core.rfind(",")
    if dot >= 0 and comma >= 0:
        return "dot" if dot > comma else "comma"
    mark = "." if dot >= 0 else ","
    parts = core.split(mark)
    if len(parts) > 2:
        return "comma" if mark == "." else "dot"
    if len(parts[1]) == 3:
        return "ambiguous-dot" if mark == "." else "ambiguous-comma"
    return "dot" if mark == "." else "comma"


def read_count(text: str, grouping: str) -> int:
    s = text.strip()
    if not s:
        return 1
    digits = s
    if not (s.isascii() and s.isdigit()):
        candidate = s.translate(_SPACES)
        if re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(grouping)}[0-9]{{3}})+", candidate):
            digits = candidate.replace(grouping, "")
        elif candidate.isascii() and candidate.isdigit():
            digits = candidate
        else:
            raise RowError(f'count "{text}" must be a positive whole number')
    value = int(digits)
    if value < 1:
        raise RowError(f'count "{text}" must be a positive whole number')
    if value > MAX_COUNT:
        raise RowError(f'count "{text}" is too large (at most {MAX_COUNT:,})')
    return value


def read_duration(text: str) -> int:
    """Seconds: a whole number of seconds, or a duration like 4m, 45s, 1h30m."""
    s = text.strip()
    seconds = int(s) if s.isdigit() else parse_duration(s.replace(" ", ""))
    if seconds is None:
        raise RowError(f'duration "{text}" is not a duration (seconds, or like 4m, 1h30m)')
    if seconds > MAX_DURATION:
        raise RowError(f'duration "{text}" is longer than 365 days')
    return seconds


# ---------------------------------------------------------------------------------------------
# Rows → events
# ---------------------------------------------------------------------------------------------


def _text(value: str, what: str, limit: int = MAX_NAME) -> str | None:
    if not value:
        return None
    cleaned = " ".join(unescape_cell(value).split())
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise RowError(f"{what} is {len(cleaned)} characters long; the limit is {limit}")
    return cleaned


def _unknown_event(word: str) -> RowError:
    hint = _suggest(word, [*KINDS, *ALIASES])
    return RowError(f'unknown event "{word}"' + (f" (did you mean {hint}?)" if hint else ""))


@dataclass
class _Context:
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


class EventRows:
    """The events format: one row → one event (plus its void instant, if any)."""

    def __init__(self, columns: dict[str, int], ctx: _Context) -> None:
        # Column index per field; -1 reads the "" appended to every row (field not in file).
        self.i = {name: columns.get(name, -1) for name in EXPORT_COLUMNS}
        self.ctx = ctx
        self.kinds: dict[str, EventKind | None] = {}
        self.seen: dict[bytes, int] = {}

    def parse(self, fields: list[str]) -> tuple[NewEvent, datetime | None]:
        fields.append("")
        i = self.i
        ctx = self.ctx
        word = fields[i["event"]].strip()
        if not word:
            raise RowError("event is empty")
        kind = self.kinds.get(word, ...)
        if kind is ...:
            kind = resolve_kind(word)
            self.kinds[word] = kind
        if kind is None:
            raise _unknown_event(word)
        occurred_text = fields[i["occurred_at"]]
        if not occurred_text.strip():
            raise RowError("occurred_at is empty")
        occurred_at = ctx.instant(occurred_text, "occurred_at")
        count_text = fields[i["count"]]
        if count_text.isascii() and count_text.isdigit() and len(count_text) < 10:
            count = int(count_text)
            if count < 1:
                raise RowError(f'count "{count_text}" must be a positive whole number')
        else:
            count = read_count(count_text, ctx.grouping)

        currency_text = fields[i["currency"]].strip()
        if currency_text and currency_text.upper() != ctx.money.currency:
            raise RowError(f'currency "{currency_text}" is not this workspace\'s currency '
                           f"({ctx.money.currency})")
        amount_text = fields[i["amount"]]
        amount = ctx.money.read(amount_text, "amount", signed=kind.amount == "signed") \
            if amount_text else None
        if amount is not None and kind.amount == "none":
            raise RowError(f'{kind.name} takes no amount (amount "{amount_text}")')
        mrr_text = fields[i["mrr"]]
        mrr = ctx.money.read(mrr_text, "mrr") if mrr_text else None
        duration_text = fields[i["duration_seconds"]].strip()
        duration = read_duration(duration_text) if duration_text else None
        if duration is not None and not kind.duration:
            raise RowError(f"{kind.name} takes no duration (only inbound-responded does)")
        if duration is None and kind.duration:
            raise RowError(f"{kind.name} needs the response time (duration_seconds)")

        text = _text
        deal = text(fields[i["deal"]], "deal")
        deal_id = text(fields[i["deal_id"]], "deal_id")
        deal_key = deal_id.casefold() if deal_id else (deal.casefold() if deal else None)
        if kind.needs_deal and not deal_key:
            raise RowError(f"{kind.name} needs a deal (the deal column is empty)")
        account = text(fields[i["account"]], "account")
        source_raw = text(fields[i["source"]], "source")
        reason = text(fields[i["reason"]], "reason")
        competitor = text(fields[i["competitor"]], "competitor")
        note = text(fields[i["note"]], "note", MAX_NOTE)
        if source_raw is not None or reason is not None or competitor is not None \
                or mrr is not None:
            for name, value in (("source", source_raw), ("reason", reason),
                                ("competitor", competitor), ("mrr", mrr)):
                problem = option_problem(kind, name) if value is not None else None
                if problem:
                    raise RowError(problem)

        user_text = fields[i["user"]]
        if user_text:
            user_text = " ".join(unescape_cell(user_text).split())
        user_id_text = fields[i["user_id"]]
        if user_id_text:
            user_id_text = unescape_cell(user_id_text).strip()
        problem = record_problem(kind, has_user=bool(user_text or user_id_text),
                                 has_amount=amount is not None)
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

        voided_text = fields[i["voided_at"]].strip()
        voided_at = ctx.dates.read(voided_text, "voided_at")[0] if voided_text else None

        key = fields[i["key"]]
        if key:
            key = unescape_cell(key).strip()
            if len(key) > MAX_KEY:
                raise RowError(f"key is {len(key)} characters long; the limit is {MAX_KEY}")
        if not key:
            # The person as written (not the id it resolves to today): a later link, or a new
            # chat user with that name, must not turn the same row into a new event.
            user_ref = "name:" + user_text.casefold() if user_text else "id:" + user_id
            material = "\x1f".join(str(part) if part is not None else "" for part in (
                kind.name, occurred_at.isoformat(), count, amount, duration, mrr, deal_key,
                deal, account.casefold() if account else None, user_ref, source_raw, reason,
                competitor, note))
            digest = hashlib.sha256(material.encode()).digest()[:20]
            index = self.seen.get(digest, 0)
            self.seen[digest] = index + 1
            key = f"import:{digest.hex()}:{index}"
        new = NewEvent.of(
            kind=kind.name, user_id=user_id, logged_by=IMPORT_USER, occurred_at=occurred_at,
            idempotency_key=key, count=count, amount_minor=amount,
            currency=ctx.money.currency if amount is not None else None,
            duration_seconds=duration, mrr_minor=mrr, deal_key=deal_key, deal_name=deal,
            account_key=account.casefold() if account else None,
            source=normalize_source(source_raw) if source_raw is not None else None,
            source_raw=source_raw, reason=reason, competitor=competitor, note=note,
        )
        return new, voided_at


class DealRows:
    """The deals format: one row → the events it implies."""

    def __init__(self, columns: dict[str, int], ctx: _Context, stage_map: dict[str, str],
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
        get = self._get
        ctx = self.ctx
        deal_id = _text(get(fields, "id"), "deal id")
        name = _text(get(fields, "name"), "deal name")
        if not deal_id and not name:
            raise RowError("the deal has no id and no name")
        key = (deal_id or name).casefold()
        if key in self.lines:
            raise RowError(f'deal "{deal_id or name}" repeats line {self.lines[key]}')
        name = name or deal_id

        status_text = get(fields, "status")
        stage_text = get(fields, "stage")
        stage = map_stage(stage_text, self.stage_map, self.preset) if stage_text \
            else "opportunity"
        if stage is None:
            raise self._unknown("deal stage", stage_text, line)
        if status_text:
            outcome = STATUS_NAMES.get(stage_key(status_text))
            if outcome is None:
                raise RowError(f'status "{status_text}" is not open, won or lost')
            if outcome == "deleted":
                self.deleted += 1
                self.lines[key] = line
                return []
        elif not stage_text:
            raise RowError("the deal has no stage and no status")
        else:
            outcome = stage if stage in ("won", "lost") else "open"
        if stage in ("won", "lost"):
            stage = "opportunity"

        created_text = get(fields, "created")
        if not created_text:
            raise RowError("the created date is empty")
        created = ctx.instant(created_text, "created date")
        closed = None
        if outcome != "open":
            specific = "won_date" if outcome == "won" else "lost_date"
            close_text = get(fields, specific) or get(fields, "close_date")
            if not close_text:
                raise RowError(f"{outcome} deal has no close date")
            closed = ctx.instant(close_text, "close date")
            if closed < created:
                raise RowError(f'close date "{close_text}" is before the created date '
                               f'"{created_text}"')
        currency_text = get(fields, "currency")
        if currency_text and currency_text.upper() != ctx.money.currency:
            raise RowError(f'currency "{currency_text}" is not this workspace\'s currency '
                           f"({ctx.money.currency})")
        amount = ctx.money.read(get(fields, "amount"), "amount")
        stage_at = created
        stage_date_text = get(fields, "stage_date")
        if stage == "demo" and stage_date_text:
            stage_at = max(created, ctx.instant(stage_date_text, "stage date"))
            if closed is not None:
                stage_at = min(stage_at, closed)

        account = _text(get(fields, "account"), "account")
        source_raw = _text(get(fields, "source"), "source")
        source = self._source(source_raw, line)
        reason = _text(get(fields, "reason"), "lost reason") if outcome == "lost" else None
        competitor = (_text(get(fields, "competitor"), "competitor")
                      if outcome == "lost" else None)
        owner_text = " ".join(get(fields, "owner").split()) or UNASSIGNED_NAME
        try:
            owner = ctx.directory.resolve(owner_text)
        except RepError as error:
            raise RowError(f"owner: {error}") from None
        self.lines[key] = line

        common = {"user_id": owner, "logged_by": IMPORT_USER, "deal_key": key,
                  "deal_name": name, "account_key": account.casefold() if account else None}
        currency = ctx.money.currency
        events: list[NewEvent] = []
        if outcome == "open" and stage in ("lead", "mql", "sql"):
            events.append(NewEvent(kind=stage, occurred_at=created, source=source,
                                   source_raw=source_raw, idempotency_key=_deal_key(key, stage),
                                   **common))
        else:
            events.append(NewEvent(
                kind="opportunity", occurred_at=created, source=source, source_raw=source_raw,
                amount_minor=amount, currency=currency if amount is not None else None,
                idempotency_key=_deal_key(key, "opportunity"), **common))
            if stage == "demo":
                events.append(NewEvent(kind="demo-booked", occurred_at=stage_at,
                                       idempotency_key=_deal_key(key, "demo-booked"), **common))
        if outcome == "won":
            events.append(NewEvent(kind="deal-won", occurred_at=closed, amount_minor=amount,
                                   currency=currency if amount is not None else None,
                                   idempotency_key=_deal_key(key, "deal-won"), **common))
        elif outcome == "lost":
            events.append(NewEvent(kind="deal-lost", occurred_at=closed, reason=reason,
                                   competitor=competitor,
                                   idempotency_key=_deal_key(key, "deal-lost"), **common))
        return events


def _deal_key(deal_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{deal_key}\x1f{kind}".encode()).hexdigest()[:40]
    return f"import:deal:{digest}"


# ---------------------------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------------------------


@dataclass
class _Evidence:
    rows: int = 0
    dates: dict[str, tuple[int, str]] = field(default_factory=dict)
    decimals: dict[str, tuple[int, str]] = field(default_factory=dict)


def _scan(source: CsvSource, date_indexes: list[int], money_indexes: list[int],
          need_dates: bool, need_decimal: bool) -> _Evidence:
    evidence = _Evidence()
    for line, fields in source.rows():
        evidence.rows += 1
        if need_dates:
            for i in date_indexes:
                if i < len(fields):
                    found = classify_date(fields[i])
                    if found and found not in evidence.dates:
                        evidence.dates[found] = (line, fields[i].strip())
        if need_decimal:
            for i in money_indexes:
                if i < len(fields):
                    found = classify_decimal(fields[i])
                    if found and found not in evidence.decimals:
                        evidence.decimals[found] = (line, fields[i].strip())
    return evidence


def _date_order(options: ImportOptions, evidence: _Evidence) -> tuple[str | None, str | None]:
    """(order, strptime pattern) for the file."""
    given = options.date_format
    if given:
        if "%" in given:
            return None, given
        order = given.strip().lower().replace("-", "").replace("/", "")
        order = {"iso": "ymd", "us": "mdy", "eu": "dmy"}.get(order, order)
        if order not in ("dmy", "mdy", "ymd"):
            raise ImportRefused(f"--date-format {given}: use dmy (day first), mdy (month "
                                "first), ymd, or a pattern such as %d/%m/%Y")
        return order, None
    dmy, mdy = evidence.dates.get("dmy"), evidence.dates.get("mdy")
    if dmy and mdy:
        raise ImportRefused(
            f'dates disagree on the day/month order: line {dmy[0]} has "{dmy[1]}" (day first) '
            f'but line {mdy[0]} has "{mdy[1]}" (month first); fix the file or pass '
            "--date-format with a pattern")
    if dmy:
        return "dmy", None
    if mdy:
        return "mdy", None
    ambiguous = evidence.dates.get("ambiguous")
    if ambiguous:
        raise ImportRefused(
            f'dates like "{ambiguous[1]}" (line {ambiguous[0]}) can be read day first or month '
            "first, and no date in the file tells which: pass --date-format mdy (US, month "
            "first) or --date-format dmy (day first)")
    return None, None


def _decimal_mark(options: ImportOptions, evidence: _Evidence) -> str:
    if options.decimal:
        if options.decimal not in (".", ","):
            raise ImportRefused("--decimal must be . or ,")
        return options.decimal
    dot, comma = evidence.decimals.get("dot"), evidence.decimals.get("comma")
    if dot and comma:
        raise ImportRefused(
            f'amounts disagree on the decimal mark: line {dot[0]} has "{dot[1]}" (decimal '
            f'point) but line {comma[0]} has "{comma[1]}" (decimal comma); pass --decimal')
    if comma:
        return ","
    if dot:
        return "."
    ambiguous = evidence.decimals.get("ambiguous-dot")
    if ambiguous:
        raise ImportRefused(
            f'amounts like "{ambiguous[1]}" (line {ambiguous[0]}) can mean {ambiguous[1]} or '
            f"{ambiguous[1].replace('.', '')}, and no amount in the file tells which: pass "
            "--decimal . (decimal point) or --decimal , (decimal comma)")
    return "."


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
    fmt = "deals" if options.preset else options.format
    if options.preset and options.preset not in PRESETS:
        raise ImportRefused(f"unknown preset {options.preset}; presets: "
                            + ", ".join(sorted(PRESETS)))
    if fmt not in ("events", "deals"):
        raise ImportRefused(f"unknown format {fmt}; use events or deals")
    source = CsvSource(path, encoding=options.encoding, delimiter=options.delimiter)
    if fmt == "events":
        columns = event_columns(source.header, options.mapping)
        date_fields, money_fields = ("occurred_at", "voided_at"), ("amount", "mrr")
    else:
        columns = deal_columns(source.header, options.mapping, options.preset)
        date_fields = ("created", "close_date", "won_date", "lost_date", "stage_date")
        money_fields = ("amount",)
    date_indexes = [columns[f] for f in date_fields if f in columns]
    money_indexes = [columns[f] for f in money_fields if f in columns]
    need_dates = not (options.date_format and "%" in options.date_format)
    evidence = _scan(source, date_indexes, money_indexes, need_dates, options.decimal is None)
    order, pattern = _date_order(options, evidence)
    decimal = _decimal_mark(options, evidence)

    result = ImportResult(format=fmt, workspace_id=options.workspace_id,
                          dry_run=options.dry_run, delimiter=source.delimiter)
    store = not options.dry_run
    opener = database.write if store else database.read
    try:
        with opener() as session:
            workspace, created = _workspace(session, options, create=store, now=now)
            if created:
                verb = "created" if store else "does not exist yet; it would be created"
                result.notes.append(
                    f"workspace {workspace.id} {verb} (time zone {workspace.timezone}, "
                    f"currency {workspace.currency})")
            tz = ZoneInfo(workspace.timezone)
            ctx = _Context(
                workspace=workspace,
                dates=DateReader(tz=tz, order=order, pattern=pattern),
                money=MoneyReader.for_currency(workspace.currency, decimal),
                directory=RepDirectory.load(session, workspace.id),
                now=now, today=now.astimezone(tz).date(),
                grouping="," if decimal == "." else ".",
            )
            _run(session, source, fmt, columns, options, ctx, result, evidence.rows, progress,
                 chunk_size, created and not store, new_workspace=created)
            if result.problems and not options.skip_bad:
                raise _Rollback
            result.stored = store
    except _Rollback:
        result.stored = False
    result.seconds = _time.perf_counter() - started
    return result


def _run(session: Session, source: CsvSource, fmt: str, columns: dict[str, int],
         options: ImportOptions, ctx: _Context, result: ImportResult, total: int,
         progress: Callable[[int, int], None] | None, chunk_size: int,
         workspace_missing: bool, new_workspace: bool = False) -> None:
    width = len(source.header)
    other = {",": ";", ";": ",", "\t": ","}[source.delimiter]
    parser: EventRows | DealRows
    parser = EventRows(columns, ctx) if fmt == "events" else DealRows(
        columns, ctx, options.stage_map, options.preset, options.source_map, source.header)
    chunk: list[NewEvent] = []
    voids: list[tuple[str, datetime]] = []
    store = not options.dry_run
    # Rollups, deals and accounts are brought up to date once, after the last chunk.
    deferred = Deferred()

    def flush() -> None:
        if not chunk:
            return
        if store:
            ctx.directory.create_pending(session, now=ctx.now)
            new_void_keys = _new_keys(session, ctx.workspace.id, [k for k, _ in voids])
            added = record_events(session=session, workspace=ctx.workspace, new_events=chunk,
                                  now=ctx.now, defer=deferred)
            result.added += added
            result.already_stored += len(chunk) - added
            _apply_voids(session, ctx.workspace, [(k, at) for k, at in voids
                                                  if k in new_void_keys], deferred)
            session.expunge_all()
        elif not workspace_missing:
            known = _known_keys(session, ctx.workspace.id, [e.idempotency_key for e in chunk])
            result.already_stored += len(known)
        chunk.clear()
        voids.clear()

    rows = 0
    keys_in_chunk: set[str] = set()
    for line, fields in source.rows():
        rows += 1
        if progress is not None and rows % PROGRESS_EVERY == 0:
            progress(rows, total)
        if len(fields) != width:
            result.problems.append(Problem(line, _width_problem(fields, width, source.delimiter,
                                                                other)))
            continue
        try:
            if fmt == "events":
                event, voided_at = parser.parse(fields)
                events = [event]
                if voided_at is not None:
                    voids.append((event.idempotency_key, voided_at))
            else:
                events = parser.parse(fields, line)
        except RowError as error:
            result.problems.append(Problem(line, str(error)))
            continue
        result.events += len(events)
        if result.problems and not options.skip_bad:
            continue  # the file will be refused: only validate the rest
        if not store:
            # a dry run counts repeats within the file as already stored, like a real import
            for e in events:
                if e.idempotency_key in keys_in_chunk:
                    result.already_stored += 1
                else:
                    keys_in_chunk.add(e.idempotency_key)
                    chunk.append(e)
        else:
            chunk.extend(events)
        if len(chunk) >= chunk_size:
            flush()
            keys_in_chunk.clear()
    if not (result.problems and not options.skip_bad):
        flush()
        if store:
            touched = set(deferred.deal_keys)
            before = {} if new_workspace else deal_outcomes(
                session=session, workspace_id=ctx.workspace.id, keys=touched)
            apply_deferred(session=session, workspace=ctx.workspace, deferred=deferred)
            _outcome_summary(result, before, deal_outcomes(
                session=session, workspace_id=ctx.workspace.id, keys=touched))
            unused = prune_unused_named_reps(
                session=session, workspace_id=ctx.workspace.id,
                ids=[uid for uid, _ in ctx.directory.created])
            ctx.directory.created = [c for c in ctx.directory.created if c[0] not in unused]
    result.rows = rows
    result.unassigned = ctx.unassigned
    if progress is not None and rows >= PROGRESS_EVERY and rows % PROGRESS_EVERY:
        progress(rows, total)
    result.new_users = ctx.directory.created + [
        (uid, name) for uid, (name, _) in ctx.directory.pending.items()]
    if isinstance(parser, DealRows) and parser.deleted:
        result.notes.append(f"{parser.deleted} deleted deal(s) left out")


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


def _width_problem(fields: list[str], width: int, delimiter: str, other: str) -> str:
    joined = delimiter.join(fields)
    if len(fields) == 1 and len(next(csv.reader([joined], delimiter=other))) == width:
        return (f"the row is {_delimiter_label(other)}-separated but the header is "
                f"{_delimiter_label(delimiter)}-separated (the file mixes delimiters)")
    if len(fields) > width:
        return (f"{len(fields)} fields but the header has {width} (a value with an unquoted "
                f'"{_delimiter_label(delimiter)}"? quote values that contain it)')
    return f"{len(fields)} field{'s' if len(fields) != 1 else ''} but the header has {width}"


def _known_keys(session: Session, workspace_id: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(session.exec(
            select(Event.idempotency_key).where(
                Event.workspace_id == workspace_id,
                Event.idempotency_key.in_(keys[start : start + 500]))
        ).all())
    return found


def _new_keys(session: Session, workspace_id: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(keys) - _known_keys(session, workspace_id, keys)


def _apply_voids(session: Session, workspace: Workspace,
                 voids: list[tuple[str, datetime]], deferred: Deferred) -> None:
    for key, voided_at in voids:
        event = session.exec(select(Event).where(Event.workspace_id == workspace.id,
                                                 Event.idempotency_key == key)).first()
        if event is not None:
            void_event(session=session, workspace=workspace, event_id=event.id,
                       voided_by=IMPORT_USER, now=voided_at, defer=deferred)


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
    ctx = _Context(workspace=workspace, dates=DateReader(tz=tz),
                   money=MoneyReader.for_currency(workspace.currency, "."),
                   directory=RepDirectory.load(session, workspace.id), now=now,
                   today=now.astimezone(tz).date(), grouping=",")
    columns = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    return EventReader(EventRows(columns, ctx), ctx.directory)


__all__ = [
    "CsvSource",
    "DateReader",
    "EventReader",
    "ImportOptions",
    "ImportRefused",
    "ImportResult",
    "MoneyReader",
    "Problem",
    "RowError",
    "classify_date",
    "classify_decimal",
    "event_reader",
    "import_csv",
    "parse_mapping",
    "parse_source_map",
    "parse_stage_map",
]

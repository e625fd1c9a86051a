"""SQLite statements compiled once and remembered on disk, like Python's bytecode.

The facts' SQL is written once, as SQLAlchemy Core statements (storage/facts.py and the modules
it reads through). Importing SQLAlchemy costs more than a `kpibot kpi NAME --json` answer
(~0.25 s of its ~0.4 s), so the light SQLite reader (storage/lite.py) runs the compiled TEXT of
those same statements: each statement is named by a stable key (its module and shape, the
tuple its builder is given), and its SQLite compilation (`Text`: the SQL, the order of its
parameters, each one's conversion by name, the values the statement carries itself, the
returned columns' conversions by name) is kept in one JSON file per fingerprint.

The fingerprint covers everything the compiled text depends on: the size and modification
time of every file of the `storage` package and of reports/events.py (the stage names), and
the SQLAlchemy and SQLite versions. A changed source or library means another file name, so a
stale compilation is never read; a file that does not parse, fails its checksum or holds an
entry of the wrong shape is ignored whole. A key that is missing is compiled (importing
SQLAlchemy) and the file rewritten atomically (a temporary file renamed over it), merged with
what another process may have written meanwhile; a cache that cannot be written is only
slower.

Where: `KPIBOT_CACHE_DIR` (the setting), else `$XDG_CACHE_HOME/kpibot`, else
`~/.cache/kpibot`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1  # the file's layout; part of the fingerprint


# ----------------------------------------------------------------------- conversions by name

def sqlite_utc_text(value: datetime | None) -> str | None:
    """UTCDateTime's SQLite bind processor, ten times faster (checked against it in use)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a tz-aware UTC instant is required")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def utc_instant(text: str) -> datetime:
    """UTCDateTime's result processor on SQLite (naive UTC text in, tz-aware UTC out), five
    times faster; checked against SQLAlchemy's when first used."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def date_text(value: date | None) -> str | None:
    """SQLAlchemy's SQLite DATE bind processor (YYYY-MM-DD)."""
    if value is None:
        return None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def date_value(text: str) -> date:
    """SQLAlchemy's SQLite DATE result processor."""
    return date.fromisoformat(text)


# name -> (the conversion, values it must agree with SQLAlchemy's own on to stand for it)
CONVERSIONS: dict[str, tuple[Callable[[Any], Any], tuple]] = {
    "utc_text": (sqlite_utc_text, (datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC),
                                   datetime(1, 1, 1, tzinfo=UTC))),
    "utc_instant": (utc_instant, ("2026-03-04 05:06:07.000089", "0001-01-01 00:00:00.000000")),
    "date_text": (date_text, (date(2026, 3, 4), date(1, 1, 1), date(9999, 12, 31))),
    "date_value": (date_value, ("2026-03-04", "0001-01-01", "9999-12-31")),
}


def conversion_name(convert: Callable[[Any], Any] | None) -> str | None:
    """The name of the conversion that does what `convert` (SQLAlchemy's) does; ValueError
    when none of `CONVERSIONS` does."""
    if convert is None:
        return None
    for name, (mine, _samples) in CONVERSIONS.items():
        if convert is mine:
            return name
    for name, (mine, samples) in CONVERSIONS.items():
        try:
            if all(type(convert(s)) is type(mine(s)) and convert(s) == mine(s) for s in samples):
                return name
        except (TypeError, ValueError, AttributeError):
            continue
    raise ValueError(f"storage.compiled: no named conversion does what {convert!r} does")


def converted_rows(rows: list[tuple], results: tuple[tuple[int, Callable[[Any], Any]], ...]
                   ) -> list[tuple]:
    """`rows` with each `(column, conversion)` of `results` applied to its non-NULL values
    (every runner of compiled statements: storage/driver.py, pg_driver.py, prepared.py)."""
    if not results or not rows:
        return rows
    converted = []
    for row in rows:
        row = list(row)
        for i, convert in results:
            if row[i] is not None:
                row[i] = convert(row[i])
        converted.append(tuple(row))
    return converted


# --------------------------------------------------------------------------- compiled text

@dataclass(frozen=True)
class Text:
    """A statement compiled for SQLite: run with `request(params)`'s SQL and values, its rows
    made what SQLAlchemy would return with `converted`."""

    sql: str
    names: tuple[str, ...]  # the parameters in the order of the SQL's `?`
    binds: tuple[str | None, ...]  # each position's conversion (CONVERSIONS' name; None: as is)
    expanding: str | None  # the one IN-list parameter, if any (a `?` per value)
    constants: Mapping[str, Any]  # values the statement carries itself (`col == "won"`)
    results: tuple[tuple[int, str], ...]  # (column, conversion name)

    def request(self, params: Mapping[str, Any]) -> tuple[str, tuple]:
        """The SQL and the values it is sent with for `params` (by name; extra keys are
        ignored)."""
        values: list[Any] = []
        sql = self.sql
        for name, convert in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else self.constants[name]
            function = None if convert is None else CONVERSIONS[convert][0]
            if name == self.expanding:
                values.extend(value if function is None else map(function, value))
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * len(value)))
            else:
                values.append(value if function is None or value is None else function(value))
        return sql, tuple(values)

    def converted(self, rows: list[tuple]) -> list[tuple]:
        """`rows` with the returned columns' conversions applied to their non-NULL values."""
        return converted_rows(rows, tuple((i, CONVERSIONS[name][0]) for i, name in self.results))

    def to_json(self) -> list:
        return [self.sql, list(self.names), list(self.binds), self.expanding,
                dict(self.constants), [list(pair) for pair in self.results]]

    @classmethod
    def from_json(cls, data: Any) -> Text:
        """The `Text` of `to_json`'s list; ValueError for anything of another shape."""
        sql, names, binds, expanding, constants, results = data
        text = cls(sql, tuple(names), tuple(binds), expanding, dict(constants),
                   tuple((int(i), name) for i, name in results))
        if not (isinstance(sql, str) and all(isinstance(n, str) for n in text.names)
                and len(text.names) == len(text.binds)
                and all(b is None or b in CONVERSIONS for b in text.binds)
                and (expanding is None or expanding in text.names)
                and all(name in CONVERSIONS for _i, name in text.results)
                and all(_plain(v) for v in text.constants.values())):
            raise ValueError("storage.compiled: an entry of the wrong shape")
        return text


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def compile_text(statement: Any, dialect: Any) -> Text:
    """`statement` (a Core statement) compiled for SQLite `dialect`, as storage/prepared.py
    runs it there (imports SQLAlchemy's own conversions: only on a miss)."""
    from storage import driver

    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params:
        raise ValueError("storage.compiled: literal-rendered parameters change the text")
    names = tuple(compiled.positiontup or ())
    expanding = sorted({name for name in names if compiled.binds[name].expanding})
    if len(expanding) > 1:
        raise ValueError(f"storage.compiled: one IN list at most: {compiled.string}")
    constants = {name: bind.effective_value for name, bind in compiled.binds.items()
                 if bind.value is not None or bind.callable is not None}
    if not all(_plain(v) for v in constants.values()):
        raise ValueError(f"storage.compiled: a constant of another type: {constants}")
    results = []
    for i, column in enumerate(driver.returned_columns(statement) or ()):
        name = conversion_name(driver.result_converter(column.type, dialect))
        if name is not None:
            results.append((i, name))
    return Text(compiled.string, names,
                tuple(conversion_name(driver.bind_conversion(compiled.binds[n].type, dialect))
                      for n in names),
                expanding[0] if expanding else None, constants, tuple(results))


# ------------------------------------------------------------------------------- the file

def key_text(key: Sequence) -> str:
    """A statement's key as the file names it (its repr: tuples of strings, numbers, flags
    and the stages' StrEnum members)."""
    return repr(tuple(key))


def cache_dir(setting: str | os.PathLike | None = None) -> Path:
    """`setting` (KPIBOT_CACHE_DIR), else $XDG_CACHE_HOME/kpibot, else ~/.cache/kpibot."""
    if setting:
        return Path(setting).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kpibot"


_VERSION = re.compile(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", re.M)


def fingerprint(package: Path | None = None, *, sqlalchemy: str | None = None) -> str:
    """What the compiled text depends on, hashed: the `storage` package's files and
    reports/events.py beside it (name, size, modification time), the SQLAlchemy version
    (read from its __init__.py, not imported) and SQLite's."""
    package = package or Path(__file__).parent
    version = sqlalchemy or _sqlalchemy_version()
    parts = [f"format {FORMAT}", f"sqlite {sqlite3.sqlite_version}", f"sqlalchemy {version}"]
    files = sorted(package.glob("*.py")) + [package.parent / "reports" / "events.py"]
    for path in files:
        stat = path.stat()
        parts.append(f"{path.name} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _sqlalchemy_version() -> str:
    """SQLAlchemy's `__version__`, read from its file without importing it."""
    spec = find_spec("sqlalchemy")
    if spec is None or not spec.origin:
        return "none"
    found = _VERSION.search(Path(spec.origin).read_text(encoding="utf-8"))
    return found.group(1) if found else spec.origin


class Cache:
    """The compiled statements of one fingerprint in `directory` (read once, lazily)."""

    def __init__(self, directory: Path, print_: str | None = None) -> None:
        self.directory = Path(directory)
        self.fingerprint = print_ or fingerprint()
        self.path = self.directory / f"statements-{self.fingerprint}.json"
        self._texts: dict[str, Text] | None = None
        self._new: dict[str, Text] = {}
        self._lock = threading.Lock()

    def get(self, key: Sequence) -> Text | None:
        if self._texts is None:
            self._texts = _load(self.path)
        return self._texts.get(key_text(key))

    def put(self, key: Sequence, text: Text) -> None:
        """Remember `text` for `key`; written by `save`."""
        if self._texts is None:
            self._texts = _load(self.path)
        with self._lock:
            self._texts[key_text(key)] = self._new[key_text(key)] = text

    def save(self) -> bool:
        """Write the statements compiled since the file was read, merged with the file's
        current entries, atomically; False when nothing was new or it could not be written
        (then the next run compiles them again)."""
        with self._lock:
            if not self._new:
                return False
            new, self._new = self._new, {}
        merged = {**_load(self.path), **new}
        entries = {key: text.to_json() for key, text in sorted(merged.items())}
        body = json.dumps(entries, sort_keys=True, separators=(",", ":"))
        document = json.dumps({"fingerprint": self.fingerprint, "sha256": _digest(body),
                               "statements": entries}, separators=(",", ":"))
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".statements-",
                                                 suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(document)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:  # a read-only home: the answer stands, only uncached
            log.debug("compiled statements not written to %s: %s", self.directory, error)
            return False
        self._forget_others()
        return True

    def _forget_others(self) -> None:
        """Remove the files of other fingerprints (stale: sources or libraries changed)."""
        for path in self.directory.glob("statements-*.json"):
            if path != self.path:
                try:
                    path.unlink()
                except FileNotFoundError:  # another process removed it first
                    continue
                except OSError as error:
                    log.debug("stale compiled statements %s not removed: %s", path, error)


def _trusted(stat: os.stat_result) -> bool:
    """The file is SQL that will run: only one that this user owns and nobody else may write
    (a cache directory shared with others must not lend them the bot's reads)."""
    return stat.st_uid == os.getuid() and not stat.st_mode & 0o022


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _load(path: Path) -> dict[str, Text]:
    """The entries of the file at `path`; none when it is missing, unreadable, or not a whole
    file of this layout (its checksum, every entry's shape)."""
    try:
        with path.open(encoding="utf-8") as handle:
            if not _trusted(os.fstat(handle.fileno())):
                log.warning("compiled statements %s ignored: not the user's own, or writable "
                            "by others", path)
                return {}
            raw = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as error:
        log.debug("compiled statements %s not read: %s", path, error)
        return {}
    try:
        document = json.loads(raw)
        entries = document["statements"]
        body = json.dumps(entries, sort_keys=True, separators=(",", ":"))
        if document["sha256"] != _digest(body):
            raise ValueError("checksum")
        return {key: Text.from_json(data) for key, data in entries.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        log.debug("compiled statements %s ignored: %s", path, error)
        return {}

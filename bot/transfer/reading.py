"""Reading a CSV file: its encoding, its delimiter (sniffed from the header) and its numbered
rows, which can be read more than once (a first pass gathers evidence, the second imports)."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

from bot.transfer.problems import ImportRefused


def delimiter_label(d: str) -> str:
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
                f"the file looks {delimiter_label(other)}-separated but with --delimiter "
                f"{delimiter_label(forced)!r} the header has 1 column: use --delimiter "
                f"'{delimiter_label(other)}'"
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
            + " or ".join(f"{delimiter_label(d)}-separated" for d in winners)
            + ": pass --delimiter"
        )
    return winners[0]


# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------


def width_problem(fields: list[str], width: int, delimiter: str, other: str) -> str:
    """Why a row has not as many fields as the header (`other`: the delimiter it may use)."""
    joined = delimiter.join(fields)
    if len(fields) == 1 and len(next(csv.reader([joined], delimiter=other))) == width:
        return (f"the row is {delimiter_label(other)}-separated but the header is "
                f"{delimiter_label(delimiter)}-separated (the file mixes delimiters)")
    if len(fields) > width:
        return (f"{len(fields)} fields but the header has {width} (a value with an unquoted "
                f'"{delimiter_label(delimiter)}"? quote values that contain it)')
    return f"{len(fields)} field{'s' if len(fields) != 1 else ''} but the header has {width}"


__all__ = ["CsvSource", "delimiter_label", "width_problem"]

"""What a whole file tells about how to read it: the day/month order of its dates (`10/05/2026`)
and the decimal mark of its amounts (`12.000`), from the first cells that decide; a file whose
cells disagree, or that cannot tell, is refused unless --date-format / --decimal say."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.transfer.dates import classify_date
from bot.transfer.numbers import classify_decimal
from bot.transfer.problems import ImportRefused
from bot.transfer.reading import CsvSource


@dataclass
class Evidence:
    """What the cells of a file say about its day/month order and decimal mark: the first
    line and cell of each kind of evidence (bot.transfer.dates.classify_date,
    bot.transfer.numbers.classify_decimal)."""

    rows: int = 0
    dates: dict[str, tuple[int, str]] = field(default_factory=dict)
    decimals: dict[str, tuple[int, str]] = field(default_factory=dict)


def scan(source: CsvSource, date_indexes: list[int], money_indexes: list[int],
         need_dates: bool, need_decimal: bool) -> Evidence:
    """Reads the whole file once: its rows and the evidence of its date and amount cells."""
    evidence = Evidence()
    for line, fields in source.rows():
        evidence.rows += 1
        if need_dates:
            _first_of_each(evidence.dates, classify_date, date_indexes, line, fields)
        if need_decimal:
            _first_of_each(evidence.decimals, classify_decimal, money_indexes, line, fields)
    return evidence


def _first_of_each(found: dict[str, tuple[int, str]], classify, indexes: list[int], line: int,
                   fields: list[str]) -> None:
    """Notes (line, cell) for each kind of evidence the row's cells give for the first time."""
    for i in indexes:
        if i < len(fields):
            kind = classify(fields[i])
            if kind and kind not in found:
                found[kind] = (line, fields[i].strip())


def date_order(given: str | None, evidence: Evidence) -> tuple[str | None, str | None]:
    """(order, strptime pattern) for the file, as --date-format (`given`) says or the dates tell."""
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


def decimal_mark(given: str | None, evidence: Evidence) -> str:
    """The decimal mark of the file, as --decimal (`given`) says or the amounts tell."""
    if given:
        if given not in (".", ","):
            raise ImportRefused("--decimal must be . or ,")
        return given
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


__all__ = ["Evidence", "date_order", "decimal_mark", "scan"]

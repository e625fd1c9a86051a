"""`kpibot export`: a workspace's events as the canonical events CSV (SPEC section 10).

Header (`bot.transfer.presets.EXPORT_COLUMNS`): the eleven canonical columns, then the extras an
exact round trip needs:

    occurred_at,event,count,amount,currency,deal,account,user,source,reason,note,
    mrr,duration_seconds,competitor,deal_id,user_id,key,voided_at

* `occurred_at`: ISO 8601 in UTC with its offset (`2026-10-05T14:30:00+00:00`).
* `amount`, `mrr`: major units, plain decimal with the currency's precision (`12000.00`,
  `-200.00`, `1500` for JPY); `currency` is set where an amount is.
* `deal`: the deal name; `deal_id`: the deal key, only when it is not the name case-folded.
* `user`: the user's display name (or email, or id); `user_id`: the id itself.
* `source`: the lead source as typed (`webinar`), which import groups again (`other`).
* `key`: the idempotency key, so importing an export into the same workspace adds nothing.
* `voided_at`: only with `--include-void`; empty otherwise.

Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
CR) get a leading `'`; import takes it off again. Rows are streamed from the database in
chunks, ordered by occurred_at then id, so a million events never sit in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.transfer.presets import EXPORT_COLUMNS
from reports.units import currency_exponent
from storage.engine import Database
from storage.event_queries import in_window
from storage.models import Event
from storage.reps import user_names

_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")


def escape_cell(text: str) -> str:
    """Neutralise a text cell a spreadsheet would evaluate (`=HYPERLINK(...)`)."""
    return "'" + text if _FORMULA.match(text) else text


def unescape_cell(text: str) -> str:
    """The inverse of `escape_cell` (a hand-written `=x` stays `=x`)."""
    return text[1:] if _ESCAPED.match(text) else text


def format_minor(minor: int, currency: str, *, precision: int | None = None) -> str:
    """Integer minor units as a plain decimal string in major units: 1200000 USD → 12000.00."""
    digits = currency_exponent(currency) if precision is None else precision
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}" if digits else f"{sign}{whole}"


def format_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def deal_id_column(deal_key: str | None, deal_name: str | None) -> str:
    """The deal key, unless import would derive the same key from the deal name."""
    if not deal_key:
        return ""
    if deal_name and " ".join(deal_name.split()).casefold() == deal_key:
        return ""
    return deal_key


_COLUMNS = (
    Event.id, Event.occurred_at, Event.kind, Event.count, Event.amount_minor, Event.currency,
    Event.deal_name, Event.deal_key, Event.account_key, Event.user_id, Event.source,
    Event.source_raw, Event.reason, Event.note, Event.mrr_minor, Event.duration_seconds,
    Event.competitor, Event.idempotency_key, Event.voided_at,
)


def export_events(
    *,
    database: Database,
    out: TextIO,
    workspace_id: str,
    currency: str,
    start: datetime | None = None,
    end: datetime | None = None,
    include_void: bool = False,
    chunk_size: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the canonical CSV of the workspace's events to `out`; returns the rows written."""
    writer = csv.writer(out)  # RFC 4180: comma, double quotes, CRLF line ends
    writer.writerow(EXPORT_COLUMNS)
    precision = currency_exponent(currency)
    query = in_window(sa.select(*_COLUMNS), workspace_id=workspace_id, start=start, end=end,
                      include_void=include_void).execution_options(yield_per=chunk_size)
    written = 0
    with database.read() as session:
        names = user_names(session=session, workspace_id=workspace_id)
        for partition in _stream(session, query):
            writer.writerows(_row(r, names, currency, precision) for r in partition)
            written += len(partition)
            if progress is not None:
                progress(written)
    return written


def _stream(session: Session, query: sa.Select):
    result = session.execute(query)
    yield from result.partitions()


def _money(minor: int | None, event_currency: str | None, currency: str, precision: int) -> str:
    if minor is None:
        return ""
    if event_currency and event_currency.upper() != currency.upper():
        return format_minor(minor, event_currency)
    return format_minor(minor, currency, precision=precision)


def _row(r, names: dict[str, str], currency: str, precision: int) -> list:
    e = escape_cell
    return [
        format_instant(r.occurred_at),
        r.kind,
        r.count,
        _money(r.amount_minor, r.currency, currency, precision),
        r.currency or "",
        e(r.deal_name or ""),
        e(r.account_key or ""),
        e(names.get(r.user_id, r.user_id)),
        e(r.source_raw or r.source or ""),
        e(r.reason or ""),
        e(r.note or ""),
        _money(r.mrr_minor, r.currency, currency, precision),
        "" if r.duration_seconds is None else r.duration_seconds,
        e(r.competitor or ""),
        e(deal_id_column(r.deal_key, r.deal_name)),
        e(r.user_id),
        e(r.idempotency_key),
        format_instant(r.voided_at) if r.voided_at is not None else "",
    ]

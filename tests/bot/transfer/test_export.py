"""CSV export: the canonical header, exact cell formats, void handling, scoping, streaming."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.transfer.export import escape_cell, export_events, format_minor, unescape_cell
from bot.transfer.presets import CANONICAL_COLUMNS, EXPORT_COLUMNS
from storage.models import Event
from storage.recording import NewEvent, record_events, void_event
from storage.workspaces import ensure_user, ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def _seed(database, workspace_id="slack:TE", currency="USD", events=None):
    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id=workspace_id,
                                     platform="slack", timezone="Europe/Oslo",
                                     currency=currency, now=NOW)
        ensure_user(session=session, workspace_id=workspace_id, user_id="UADA",
                    display_name="Ada Lovelace")
        record_events(session=session, workspace=workspace, new_events=events or [], now=NOW)
    return workspace


def _export(database, workspace_id="slack:TE", currency="USD", **kw) -> str:
    out = io.StringIO()
    export_events(database=database, out=out, workspace_id=workspace_id, currency=currency, **kw)
    return out.getvalue()


def _event(i, kind="call", **kw):
    kw.setdefault("user_id", "UADA")
    return NewEvent(kind=kind, logged_by=kw["user_id"], idempotency_key=f"slack:k{i}",
                    occurred_at=kw.pop("at", NOW - timedelta(days=1, minutes=i)), **kw)


def test_header_and_cells(database):
    at = datetime(2026, 10, 5, 12, 30, 15, 250_000, tzinfo=UTC)
    _seed(database, events=[
        _event(1, "deal-won", at=at, amount_minor=1_200_000, currency="USD",
               deal_key="acme corp", deal_name="Acme Corp", account_key="acme",
               mrr_minor=100_000, note="=HYPERLINK(\"x\")"),
        _event(2, "call", at=at + timedelta(hours=1), count=12, user_id="U-NO-NAME"),
        _event(3, "deal-lost", at=at + timedelta(hours=2), deal_key="hubspot-9001",
               deal_name="Renewal, 2027", reason="price", competitor="Contoso"),
        _event(4, "lead", at=at + timedelta(hours=3), deal_key="initech", deal_name="Initech",
               source="other", source_raw="webinar"),
        _event(5, "inbound-responded", at=at + timedelta(hours=4), duration_seconds=240),
        _event(6, "mrr-change", at=at + timedelta(hours=5), amount_minor=-20_005,
               currency="USD", deal_key="acme corp", deal_name="Acme Corp"),
    ])
    lines = _export(database).splitlines()
    assert lines[0] == ",".join(EXPORT_COLUMNS)
    assert lines[0].startswith(",".join(CANONICAL_COLUMNS) + ",")
    assert lines[1:] == [
        '2026-10-05T12:30:15.250000+00:00,deal-won,1,12000.00,USD,Acme Corp,acme,Ada Lovelace,'
        ',,"\'=HYPERLINK(""x"")",1000.00,,,,UADA,slack:k1,',
        "2026-10-05T13:30:15.250000+00:00,call,12,,,,,U-NO-NAME,,,,,,,,U-NO-NAME,slack:k2,",
        '2026-10-05T14:30:15.250000+00:00,deal-lost,1,,,"Renewal, 2027",,Ada Lovelace,,price,'
        ",,,Contoso,hubspot-9001,UADA,slack:k3,",
        "2026-10-05T15:30:15.250000+00:00,lead,1,,,Initech,,Ada Lovelace,webinar,,,,,,,UADA,"
        "slack:k4,",
        "2026-10-05T16:30:15.250000+00:00,inbound-responded,1,,,,,Ada Lovelace,,,,,240,,,UADA,"
        "slack:k5,",
        "2026-10-05T17:30:15.250000+00:00,mrr-change,1,-200.05,USD,Acme Corp,,Ada Lovelace,,,,,,"
        ",,UADA,slack:k6,",
    ]
    assert _export(database).count("\r\n") == 7  # RFC 4180 line ends


def test_currency_precision(database):
    _seed(database, "slack:TJ", "JPY", [_event(1, "spend", amount_minor=12_000, currency="JPY",
                                               source="social", source_raw="social")])
    row = next(csv.DictReader(io.StringIO(_export(database, "slack:TJ", "JPY"))))
    assert (row["amount"], row["currency"]) == ("12000", "JPY")


def test_void_events_only_with_include_void(database):
    workspace = _seed(database, events=[_event(i) for i in range(4)])
    with database.write() as session:
        first = session.scalars(select(Event).where(Event.idempotency_key == "slack:k2")).one()
        void_event(session=session, workspace=workspace, event_id=first.id, voided_by="UADA",
                   now=NOW)
    plain = list(csv.DictReader(io.StringIO(_export(database))))
    assert [r["key"] for r in plain] == ["slack:k3", "slack:k1", "slack:k0"]  # by occurred_at
    assert all(r["voided_at"] == "" for r in plain)
    full = list(csv.DictReader(io.StringIO(_export(database, include_void=True))))
    assert [r["voided_at"] for r in full if r["key"] == "slack:k2"] == [
        "2026-11-18T14:30:00+00:00"]
    assert len(full) == 4


def test_period_bounds_and_workspace_scope(database):
    _seed(database, events=[_event(i, at=datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=i))
                            for i in range(10)])
    _seed(database, "slack:TOTHER", events=[_event(99)])
    text = _export(database, start=datetime(2026, 10, 3, tzinfo=UTC),
                   end=datetime(2026, 10, 6, tzinfo=UTC))
    assert [r["key"] for r in csv.DictReader(io.StringIO(text))] == [
        "slack:k2", "slack:k3", "slack:k4"]
    assert "slack:k99" not in _export(database)


def test_rows_are_streamed_in_chunks(database):
    _seed(database, events=[_event(i) for i in range(230)])
    seen = []
    text = _export(database, chunk_size=50, progress=seen.append)
    assert seen == [50, 100, 150, 200, 230]
    assert len(text.splitlines()) == 231


def test_formula_cells_round_trip():
    for text in ("=SUM(A1)", "+1", "-5", "@here", "\tx", "'quoted", "''=x", "'=x", "plain",
                 "", "a=b"):
        assert unescape_cell(escape_cell(text)) == text
    assert escape_cell("=SUM(A1)") == "'=SUM(A1)" and escape_cell("plain") == "plain"
    assert unescape_cell("=typed") == "=typed"


def test_money_formatting():
    assert [format_minor(m, c) for m, c in ((1_200_000, "USD"), (-5, "USD"), (12_000, "JPY"),
                                            (1_234, "KWD"), (0, "EUR"))] == [
        "12000.00", "-0.05", "12000", "1.234", "0.00"]

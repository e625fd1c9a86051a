"""CSV import: export → import round trips exactly (events, rollups, deals, every KPI), keys come
from row content, and BOM / CRLF / semicolon / date / decimal variants read identically.

Database tests run on SQLite and PostgreSQL (the `database` fixture); files are small and
generated in the test from seeded RNGs."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.transfer.rows import IMPORT_USER
from storage.models import Event
from tests.bot.transfer.support import (
    CANONICAL_ROWS,
    NOW,
    account_rows,
    canonical_csv,
    count_events,
    deal_rows,
    event_tuples,
    export_text,
    kpi_snapshot,
    prepare_people,
    rollup_rows,
    run_import,
    seed_rich,
    users,
    write,
)

# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------


def test_export_import_round_trip_is_exact(database, tmp_path):
    seed_rich(database, "slack:TA")
    text = export_text(database, "slack:TA", include_void=True)
    path = write(tmp_path, text)
    result = run_import(database, path, "slack:TB")
    assert result.problems == [] and result.stored
    assert result.added == count_events(database, "slack:TA") == result.rows

    assert event_tuples(database, "slack:TB") == event_tuples(database, "slack:TA")
    assert rollup_rows(database, "slack:TB") == rollup_rows(database, "slack:TA")
    assert deal_rows(database, "slack:TB") == deal_rows(database, "slack:TA")
    assert account_rows(database, "slack:TB") == account_rows(database, "slack:TA")
    assert users(database, "slack:TB") == users(database, "slack:TA")
    with database.read() as session:
        logged_by = set(session.scalars(select(Event.logged_by).where(
            Event.workspace_id == "slack:TB")).all())
    assert logged_by == {IMPORT_USER}


def test_round_trip_without_void_events_and_the_export_is_stable(database, tmp_path):
    seed_rich(database, "slack:TA")
    text = export_text(database, "slack:TA")
    assert run_import(database, write(tmp_path, text), "slack:TB").problems == []
    assert event_tuples(database, "slack:TB") == event_tuples(database, "slack:TA",
                                                              include_void=False)
    assert rollup_rows(database, "slack:TB") == rollup_rows(database, "slack:TA")
    assert deal_rows(database, "slack:TB") == deal_rows(database, "slack:TA")
    # exporting the copy gives the same file, byte for byte
    assert export_text(database, "slack:TB") == text


def test_every_catalog_kpi_is_identical_after_export_and_import(database, tmp_path):
    """SPEC 10 / issue 6: an export imported into an empty workspace gives identical KPIs.

    Quotas are workspace settings, not events, so they are not in the CSV; the copy gets the
    same quotas set by hand (quota-attainment and reps-at-quota need them).
    """
    generate = pytest.importorskip("sampledata")
    quotas = pytest.importorskip("storage.quotas")
    generate.seed_workspace(database=database, workspace_id="slack:TGEN", target_events=1_200,
                            end=NOW - timedelta(days=2), timezone="Europe/Oslo",
                            currency="USD")
    seed_rich(database, "slack:TGEN")  # awkward text, void events, CRM-keyed deals on top
    text = export_text(database, "slack:TGEN", include_void=True)
    result = run_import(database, write(tmp_path, text), "slack:TCOPY")
    assert result.problems == [] and result.added == result.rows > 1_400
    assert event_tuples(database, "slack:TCOPY") == event_tuples(database, "slack:TGEN")
    assert rollup_rows(database, "slack:TCOPY") == rollup_rows(database, "slack:TGEN")
    assert deal_rows(database, "slack:TCOPY") == deal_rows(database, "slack:TGEN")
    assert account_rows(database, "slack:TCOPY") == account_rows(database, "slack:TGEN")
    with database.write() as session:
        for quota in quotas.list_quotas(session=session, workspace_id="slack:TGEN"):
            quotas.set_quota(session=session, workspace_id="slack:TCOPY",
                             user_id=quota.user_id, metric=quota.metric,
                             cadence=quota.cadence, target=quota.target, set_by=quota.set_by,
                             now=quota.set_at)
    original = kpi_snapshot(database, "slack:TGEN")
    copy = kpi_snapshot(database, "slack:TCOPY")
    assert len(original) > 100
    assert [k for k in original if original[k] != copy[k]] == []
    assert any(v["value"] for v in original.values())


def test_reimport_and_reexport_add_nothing(database, tmp_path):
    seed_rich(database, "slack:TA")
    path = write(tmp_path, export_text(database, "slack:TA"))
    first = run_import(database, path, "slack:TB")
    before = event_tuples(database, "slack:TB"), rollup_rows(database, "slack:TB")
    again = run_import(database, path, "slack:TB")
    assert (again.added, again.already_stored) == (0, first.added)
    # an export of the copy, imported into the copy and into the original, adds nothing
    path2 = write(tmp_path, export_text(database, "slack:TB"), "again.csv")
    assert run_import(database, path2, "slack:TB").added == 0
    assert run_import(database, path2, "slack:TA").added == 0
    assert (event_tuples(database, "slack:TB"), rollup_rows(database, "slack:TB")) == before


def _without_columns(text: str, drop: set[str]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    out = io.StringIO()
    csv.writer(out).writerows([[row[i] for i in keep] for row in rows])
    return out.getvalue()


def test_keys_come_from_row_content_not_file_or_line(database, tmp_path):
    """Without a key column: identical rows both count; reordering or renaming the file, or
    re-exporting, adds nothing."""
    rows = [
        "occurred_at,event,count,amount,currency,deal,account,user,source,reason,note",
        "2026-10-05 09:00,call,3,,,,,Ada Lovelace,,,",
        "2026-10-05 09:00,call,3,,,,,Ada Lovelace,,,",  # the same again: a second event
        "2026-10-06,deal-won,,12000,USD,Acme,,Ada Lovelace,,,big one",
        "2026-10-07T10:00:00+02:00,lead,,,,Initech,,Bo,webinar,,",
    ]
    first = run_import(database, write(tmp_path, "\n".join(rows) + "\n", "a.csv"), "slack:TK")
    assert (first.added, first.already_stored) == (4, 0)
    shuffled = [rows[0], rows[4], rows[2], rows[3], rows[1]]
    second = run_import(database, write(tmp_path, "\n".join(shuffled) + "\n", "b.csv"),
                        "slack:TK")
    assert (second.added, second.already_stored) == (0, 4)
    plain = _without_columns(export_text(database, "slack:TK"), {"key"})
    assert run_import(database, write(tmp_path, plain, "c.csv"), "slack:TK").added == 0
    with database.read() as session:
        keys = session.scalars(select(Event.idempotency_key).where(
            Event.workspace_id == "slack:TK")).all()
    assert all(k.startswith("import:") for k in keys) and len(set(keys)) == 4


VARIANTS = {
    "lf": ({}, {}),
    "crlf": ({}, {"newline": "\r\n"}),
    "bom": ({}, {"encoding": "utf-8-sig", "newline": "\r\n"}),
    "semicolon-decimal-comma": ({"delimiter": ";", "decimal": ","}, {"encoding": "utf-8-sig"}),
    "tab-day-first-dots": ({"delimiter": "\t", "dates": "dots"}, {}),
}


def test_bom_crlf_semicolon_variants_parse_identically(database, tmp_path):
    results = {}
    for name, (shape, encoding) in VARIANTS.items():
        workspace_id = f"slack:V{name}"
        prepare_people(database, workspace_id)
        path = write(tmp_path, canonical_csv(CANONICAL_ROWS, **shape), f"{name}.csv", **encoding)
        result = run_import(database, path, workspace_id)
        assert result.problems == [], name
        assert result.added == len(CANONICAL_ROWS)
        results[name] = event_tuples(database, workspace_id), rollup_rows(database,
                                                                           workspace_id)
    first = results["lf"]
    for name, got in results.items():
        assert got == first, name
    events = {row[0]: row for row in first[0]}
    won = events["deal-won"]
    assert won[2] == 1_200_050 and won[9] == "UADA" and won[14] == "=big one"
    assert events["lead"][9] == "rep:jane-doe" and events["lead"][10] == "other"
    assert events["mrr-change"][2] == -20_000
    assert events["deal-lost"][9] == "UBJORN"
    oslo = ZoneInfo("Europe/Oslo")
    assert won[15] == datetime(2026, 10, 5, 12, tzinfo=oslo)  # a date alone: local noon
    assert events["call"][15] == datetime(2026, 10, 5, 14, 30, tzinfo=oslo)

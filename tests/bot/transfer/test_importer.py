"""Running an import: bad rows and bad files are named and refuse the file (nothing stored),
skip-bad, dry run, void events, one transaction, progress; and the speed test (--long)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import EXPORT_COLUMNS
from bot.transfer.problems import ImportRefused
from storage.engine import Database
from tests.bot.transfer.support import (
    CANONICAL_ROWS,
    HEADER,
    NOW,
    assert_nothing_stored,
    canonical_csv,
    count_events,
    event_tuples,
    export_text,
    rollup_rows,
    run_import,
    seed_rich,
    workspace_exists,
    write,
)

# ---------------------------------------------------------------------------------------------
# Bad files: a precise message naming the line, and nothing stored
# ---------------------------------------------------------------------------------------------


BAD_ROWS = [
    ("unparsable date", "2026-10-05,call,1,,,,,Ada,,,\n2026-13-45,call,1,,,,,Ada,,,\n",
     'line 3: occurred_at "2026-13-45" is not a date'),
    ("negative count", "2026-10-05,call,-3,,,,,Ada,,,\n", 'line 2: count "-3" must be a positive '
     "whole number"),
    ("zero count", "2026-10-05,call,0,,,,,Ada,,,\n", 'line 2: count "0" must be a positive whole'),
    ("unknown event", "2026-10-05,wonn,1,,,,,Ada,,,\n",
     'line 2: unknown event "wonn" (did you mean won?)'),
    ("bad amount", "2026-10-05,deal-won,1,\"12,00,0\",,Acme,,Ada,,,\n",
     'line 2: amount "12,00,0" is not a number'),
    ("other currency", "2026-10-05,deal-won,1,12000 EUR,,Acme,,Ada,,,\n",
     'line 2: amount "12000 EUR" is in EUR; this workspace counts in USD'),
    ("currency column", "2026-10-05,deal-won,1,12000,EUR,Acme,,Ada,,,\n",
     "line 2: currency \"EUR\" is not this workspace's currency (USD)"),
    ("amount on a count event", "2026-10-05,call,1,500,,,,Ada,,,\n",
     "line 2: call takes no amount"),
    ("missing amount", "2026-10-05,spend,1,,,,,Ada,,,\n",
     "line 2: spend needs an amount"),
    ("missing deal", "2026-10-05,deal-won,1,100,,,,Ada,,,\n",
     "line 2: deal-won needs a deal"),
    ("reason on a call", "2026-10-05,call,1,,,,,Ada,,price,\n",
     "line 2: call takes no reason"),
    ("future date", "2027-01-05,call,1,,,,,Ada,,,\n",
     'line 2: occurred_at "2027-01-05" is in the future'),
    ("empty user", "2026-10-05,call,1,,,,,,,,\n", "line 2: call needs the rep it is credited "
     "to (the user is empty; only website-visit, website-bounce, cta-click, "
     "social-engagement, lead, spend may be unassigned)"),
    ("too many fields", "2026-10-05,call,1,12,000,,,,Ada,,,\n",
     "line 2: 12 fields but the header has 11"),
    ("mixed delimiters", "2026-10-05;call;1;;;;;Ada;;;\n",
     "line 2: the row is ;-separated but the header is ,-separated"),
]


def test_bad_rows_are_named_and_refuse_the_file(database, tmp_path):
    """Each case in its own file and workspace (one database for all, to keep the suite fast)."""
    for n, (case, body, message) in enumerate(BAD_ROWS):
        path = write(tmp_path, HEADER + "\n" + "2026-10-01,call,2,,,,,Bo,,,\n" * 2 + body,
                     f"bad{n}.csv")
        result = run_import(database, path, f"slack:TBAD{n}")
        shown = [str(p) for p in result.problems]
        body_line = message.split(":")[0]
        line = int(body_line.split()[1]) + 2  # two good rows come first in this file
        expected = message.replace(body_line, f"line {line}", 1)
        assert any(s.startswith(expected) for s in shown), (case, shown)
        assert result.refused and not result.stored and result.added == 0, case
        assert not workspace_exists(database, f"slack:TBAD{n}"), case
    assert_nothing_stored(database, "slack:TBAD0")



def test_a_name_over_the_limit_once_case_folded_is_a_bad_row(database, tmp_path):
    """A deal's key is its name case-folded, stored within the same limit: 70 × "ß" is 140
    characters folded, a named bad row as in chat (reports.events.text_length), not a database
    error on PostgreSQL; 60 × "ß" (120 folded) is stored."""
    body = "2026-10-05,deal-won,1,100,,{},,Ada,,,\n"
    result = run_import(database, write(tmp_path, HEADER + "\n" + body.format("ß" * 70)),
                        "slack:TFOLD")
    assert [str(p) for p in result.problems] == [
        "line 2: deal is 140 characters long; the limit is 120"]
    assert result.refused and not result.stored
    assert_nothing_stored(database, "slack:TFOLD")
    fits = run_import(database, write(tmp_path, HEADER + "\n" + body.format("ß" * 60), "ok.csv"),
                      "slack:TFOLD")
    assert fits.stored and fits.added == 1 and fits.problems == []

BAD_FILES = [
    ("wrong delimiter (pipes)", "occurred_at|event|user\n2026-10-05|call|Ada\n", {},
     'the header has 1 column ("occurred_at|event|user")'),
    ("wrong --delimiter", "occurred_at;event;user\n2026-10-05;call;Ada\n", {"delimiter": ","},
     "the file looks ;-separated but with --delimiter ',' the header has 1 column: use "
     "--delimiter ';'"),
    ("missing column", "event,count,user\ncall,1,Ada\n", {},
     "missing required column occurred_at"),
    ("misspelt column", "ocurred_at,event,user\n2026-10-05,call,Ada\n", {},
     'missing required column occurred_at (the header has "ocurred_at" → occurred_at?)'),
    ("unknown column", "occurred_at,event,user,amout\n2026-10-05,call,Ada,\n", {},
     'unknown column "amout" (did you mean amount?)'),
    ("ambiguous dates", "occurred_at,event,user\n10/05/2026,call,Ada\n03/04/2026,call,Ada\n", {},
     'dates like "10/05/2026" (line 2) can be read day first or month first'),
    ("conflicting dates", "occurred_at,event,user\n10/25/2026,call,Ada\n25/10/2026,call,Ada\n",
     {}, "dates disagree on the day/month order: line 3 has \"25/10/2026\" (day first) but "
     'line 2 has "10/25/2026" (month first)'),
    ("ambiguous decimals", "occurred_at,event,user,amount\n2026-10-05,spend,Ada,12.000\n", {},
     'amounts like "12.000" (line 2) can mean 12.000 or 12000'),
    ("deals file as events", "Deal Name,Deal Stage,Amount,Create Date\nAcme,Closed Won,1,"
     "2026-01-01\n", {}, "this looks like a CRM deals export: use --format deals"),
    ("not utf-8", None, {}, "the file is not UTF-8 text"),
    ("empty", "", {}, "is empty"),
    ("bad --map", "occurred_at,event,user\n", {"mapping": {"user": "owner"}},
     '--map "user=owner": owner is not a field of the events format'),
]


def test_bad_files_are_refused_with_a_clear_message(database, tmp_path):
    for n, (case, text, options, message) in enumerate(BAD_FILES):
        path = tmp_path / f"bad{n}.csv"
        if text is None:
            path.write_bytes("occurred_at,event,user\n2026-10-05,call,Bj\xf8rn\n".encode("latin-1"))
        else:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(ImportRefused) as error:
            run_import(database, path, "slack:TBAD", **options)
        assert message in str(error.value), (case, str(error.value))
    assert_nothing_stored(database, "slack:TBAD")


def test_skip_bad_stores_the_good_rows_and_reports_the_bad_lines(database, tmp_path):
    body = ("2026-10-05,call,1,,,,,Ada,,,\n"
            "2026-10-05,wonn,1,,,,,Ada,,,\n"
            "2026-10-06,call,2,,,,,Ada,,,\n"
            "2026-10-06,call,-1,,,,,Ada,,,\n"
            "2026-10-07,demo-booked,1,,,Acme,,Ada,,,\n")
    result = run_import(database, write(tmp_path, HEADER + "\n" + body), "slack:TS",
                        skip_bad=True)
    assert result.stored and result.skipped_lines == [3, 5]
    assert result.added == 3 == count_events(database, "slack:TS")


def test_dry_run_validates_and_stores_nothing(database, tmp_path):
    path = write(tmp_path, canonical_csv(CANONICAL_ROWS))
    result = run_import(database, path, "slack:TDRY", dry_run=True)
    assert result.dry_run and not result.stored and result.problems == []
    assert result.events == len(CANONICAL_ROWS) and result.already_stored == 0
    assert {uid for uid, _ in result.new_users} >= {"rep:jane-doe", "rep:ada-example-com"}
    assert any("would be created" in note for note in result.notes)
    assert_nothing_stored(database, "slack:TDRY")
    # after a real import, a dry run reports everything as stored already
    run_import(database, path, "slack:TDRY")
    again = run_import(database, path, "slack:TDRY", dry_run=True)
    assert again.already_stored == len(CANONICAL_ROWS) and again.new_users == []
    # and a dry run of a bad file lists the problems, storing nothing either
    bad = write(tmp_path, HEADER + "\n2026-10-05,wonn,1,,,,,Ada,,,\n", "bad.csv")
    checked = run_import(database, bad, "slack:TOTHER", dry_run=True)
    assert [str(p) for p in checked.problems] == [
        'line 2: unknown event "wonn" (did you mean won?)']
    assert not workspace_exists(database, "slack:TOTHER")


def test_void_events_are_imported_void_and_stay_out_of_rollups(database, tmp_path):
    seed_rich(database, "slack:TA", voids=12)
    text = export_text(database, "slack:TA", include_void=True)
    assert text.count("\n") - 1 == count_events(database, "slack:TA")
    run_import(database, write(tmp_path, text), "slack:TB")
    voided = [t for t in event_tuples(database, "slack:TB") if t[-2]]
    assert len(voided) == 12
    assert rollup_rows(database, "slack:TB") == rollup_rows(database, "slack:TA")


def test_import_is_one_transaction(database, tmp_path, monkeypatch):
    """A failure while storing (here: in the third chunk) leaves nothing behind."""
    import bot.transfer.importer as module

    body = "".join(f"2026-10-0{1 + i % 5},call,{1 + i},,,,,Ada,,,\n" for i in range(50))
    calls = {"n": 0}
    real = module.record_events

    def failing(**kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(**kw)

    monkeypatch.setattr(module, "record_events", failing)
    with pytest.raises(RuntimeError):
        import_csv(database=database, path=write(tmp_path, HEADER + "\n" + body), now=NOW,
                   options=ImportOptions(workspace_id="slack:TX"), chunk_size=10)
    assert_nothing_stored(database, "slack:TX")


def test_progress_is_reported_for_large_files(database, tmp_path, monkeypatch):
    import bot.transfer.importer as module

    monkeypatch.setattr(module, "PROGRESS_EVERY", 100)
    body = "".join(f"2026-10-05,call,{1 + i},,,,,Ada,,,\n" for i in range(250))
    seen = []
    import_csv(database=database, path=write(tmp_path, HEADER + "\n" + body), now=NOW,
               options=ImportOptions(workspace_id="slack:TP"),
               progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


# ---------------------------------------------------------------------------------------------
# Speed (run with --long -s): a generated history of a million events, imported into SQLite
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_import_speed_on_sqlite(sqlite_template, tmp_path):
    import os
    import shutil
    from types import SimpleNamespace

    from bot.transfer import export

    generate = pytest.importorskip("sampledata")
    target = int(os.environ.get("KPIBOT_IMPORT_BENCH_EVENTS", "1000000"))
    history = generate.generate_history(workspace_id="slack:TGEN", target_events=target,
                                        end=NOW, timezone="Europe/Oslo")
    names = dict(history.users)
    path = tmp_path / "history.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for event in history.events:
            row = SimpleNamespace(**event.__dict__, voided_at=None)
            writer.writerow(export._row(row, names, "USD", 2))
    database_path = tmp_path / "bench.db"
    shutil.copyfile(sqlite_template, database_path)
    database = Database.from_url(f"sqlite:///{database_path}")
    started = datetime.now(UTC)
    result = import_csv(database=database, path=path, now=NOW,
                        options=ImportOptions(workspace_id="slack:TB", timezone="Europe/Oslo"),
                        progress=lambda done, total: print(f"{done:,}/{total:,} rows, "
                                                           f"{datetime.now(UTC) - started}"))
    database.dispose()
    print(f"imported {result.rows:,} rows in {result.seconds:.1f} s: "
          f"{result.rows / result.seconds:,.0f} rows/s")
    assert result.problems == [] and result.added == result.rows

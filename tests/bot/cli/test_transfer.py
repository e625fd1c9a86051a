"""`kpibot import` / `kpibot export` end to end through bot.cli.transfer (argparse + run)."""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.transfer import add_parser, run
from bot.settings import build_settings
from storage.recording import NewEvent, record_events
from storage.workspaces import ensure_user, ensure_workspace
from tests.bot.transfer.support import (
    count_events,
    deal_rows,
    event_tuples,
    rollup_rows,
    seed_rich,
    workspace_exists,
)

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpibot")
    commands = parser.add_subparsers(dest="command", required=True)
    add_parser(commands)
    return parser


def kpibot(database_url: str, *argv: str, now: datetime = NOW, **env) -> tuple[int, str, str]:
    settings = build_settings(DATABASE_URL=database_url, KPIBOT_TIMEZONE="Europe/Oslo", **env)
    out, err = io.StringIO(), io.StringIO()
    code = run(_parser().parse_args(list(argv)), settings, stdout=out, stderr=err, now=now)
    return code, out.getvalue(), err.getvalue()


def test_export_then_import_into_an_empty_workspace(database, database_url, tmp_path):
    seed_rich(database, "slack:TA")
    target = tmp_path / "events.csv"
    code, out, err = kpibot(database_url, "export", "--workspace", "slack:TA", "-o",
                            str(target), "--include-void")
    assert code == 0 and out == "" and "exported" in err
    assert not (tmp_path / "events.csv.partial").exists()
    code, out, err = kpibot(database_url, "import", str(target), "--workspace", "slack:TB")
    assert code == 0, err
    assert "note: workspace slack:TB created (time zone Europe/Oslo, currency USD)" in out
    assert f"{count_events(database, 'slack:TA'):,} added, 0 already stored" in out
    assert event_tuples(database, "slack:TB") == event_tuples(database, "slack:TA")
    assert rollup_rows(database, "slack:TB") == rollup_rows(database, "slack:TA")
    assert deal_rows(database, "slack:TB") == deal_rows(database, "slack:TA")
    code, out, _ = kpibot(database_url, "import", str(target), "-w", "slack:TB")
    assert code == 0 and " 0 added, " in out


def test_export_to_stdout_and_a_period(database, database_url):
    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id="slack:TP", platform="slack",
                                     timezone="Europe/Oslo", now=NOW)
        ensure_user(session=session, workspace_id="slack:TP", user_id="U1", display_name="Ada")
        record_events(session=session, workspace=workspace, now=NOW, new_events=[
            NewEvent(kind="call", user_id="U1", logged_by="U1", idempotency_key=f"k{d}",
                     occurred_at=datetime(2026, 9, 30, 21, 59, tzinfo=UTC) + timedelta(days=d))
            for d in range(0, 40, 3)])
    code, out, _ = kpibot(database_url, "export", "--period", "2026-10")  # the only workspace
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    # October in Oslo: 2026-09-30T22:00Z .. 2026-10-31T23:00Z
    assert [r["occurred_at"][:10] for r in rows][0] == "2026-10-03"
    assert rows[-1]["occurred_at"] == "2026-10-30T21:59:00+00:00"
    assert len(rows) == 10
    code, _, err = kpibot(database_url, "export", "--period", "someday")
    assert code == 2 and "someday" in err


def test_export_needs_a_known_workspace(database, database_url):
    code, _, err = kpibot(database_url, "export", "--workspace", "slack:NOPE")
    assert code == 2 and "there is no workspace slack:NOPE" in err
    code, _, err = kpibot(database_url, "export")
    assert code == 2 and "pass --workspace (workspaces: none)" in err


BAD = ("occurred_at,event,count,amount,currency,deal,account,user,source,reason,note\n"
       "2026-10-05,call,1,,,,,Ada,,,\n"
       "2026-10-05,wonn,1,,,,,Ada,,,\n"
       "2026-10-06,call,-2,,,,,Ada,,,\n")


def test_bad_rows_exit_1_and_store_nothing(database, database_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    code, out, err = kpibot(database_url, "import", str(path), "--workspace", "slack:TB")
    assert code == 1
    assert err.splitlines() == [
        'line 3: unknown event "wonn" (did you mean won?)',
        'line 4: count "-2" must be a positive whole number',
        f"kpibot import: 2 bad rows in {path}; nothing was stored (fix them, or pass "
        "--skip-bad to import the other rows)",
    ]
    assert not workspace_exists(database, "slack:TB") and count_events(database) == 0

    code, out, err = kpibot(database_url, "import", str(path), "-w", "slack:TB", "--dry-run")
    assert code == 1 and "dry run of" in out and "nothing was stored" in out
    assert count_events(database) == 0

    code, out, err = kpibot(database_url, "import", str(path), "-w", "slack:TB", "--skip-bad")
    assert code == 0
    assert "1 added" in out and "skipped 2 bad rows (lines 3, 4)" in out
    assert "1 people not matched to a chat user were kept as named reps: rep:ada (Ada)" in out
    assert count_events(database, "slack:TB") == 1


def test_refused_files_exit_1_with_one_line(database_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("occurred_at;event;user\n2026-10-05;call;Ada\n")
    code, _, err = kpibot(database_url, "import", str(path), "-w", "slack:T", "--delimiter", ",")
    assert code == 1
    assert err == ("kpibot import: the file looks ;-separated but with --delimiter ',' the "
                   "header has 1 column: use --delimiter ';'; nothing was stored\n")
    code, _, err = kpibot(database_url, "import", str(tmp_path / "missing.csv"), "-w", "x")
    assert code == 1 and "no such file" in err


def test_dry_run_stores_nothing(database, database_url, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(BAD.splitlines()[0] + "\n2026-10-05,call,3,,,,,Ada,,,\n")
    code, out, _ = kpibot(database_url, "import", str(path), "-w", "slack:TD", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "note: workspace slack:TD does not exist yet; it would be created (time zone "
        "Europe/Oslo, currency USD)",
        f"dry run of {path} (events): 1 rows, 1 events: 1 would be added, 0 already stored; "
        "nothing was stored",
        "1 people not matched to a chat user would be kept as named reps: rep:ada (Ada) (link "
        "them with /kpi rep link)",
    ]
    assert not workspace_exists(database, "slack:TD")


def test_deals_with_a_preset_map_and_stage(database, database_url, tmp_path):
    path = tmp_path / "pipedrive.csv"
    path.write_bytes((
        "\ufeffDeal - ID;Deal - Title;Deal - Owner;Deal - Value;Deal - Currency;Deal - Stage;"
        "Deal - Status;Deal - Deal created;Deal - Won time;Deal - Lost time;Deal - Lost reason;"
        "Custom stage\r\n"
        "11;Acme;Ada;12 000,50;EUR;Proposal Made;won;2026-03-02 10:00:00;2026-04-01 09:00:00;;;"
        "Qualified\r\n"
        "12;Globex;Ada;;EUR;Qualified;lost;2026-03-05 10:00:00;;2026-03-20 09:00:00;Price;"
        "Qualified\r\n"
        "13;Initech;Ada;5000;EUR;Qualified;open;2026-03-09 10:00:00;;;;Verbal\r\n"
    ).encode())
    code, out, err = kpibot(database_url, "import", str(path), "-w", "slack:TPD", "--preset",
                            "pipedrive", "--map", "Custom stage=stage", "--stage",
                            "Verbal=demo", KPIBOT_CURRENCY="EUR")
    assert code == 0, err
    assert "3 rows, 6 events: 6 added, 0 already stored" in out
    assert "deals in this file after the import: 1 won, 1 lost, 1 open" in out
    events = sorted((t[6], t[0], t[2], t[9], t[12]) for t in event_tuples(
        database, "slack:TPD", keys=False))
    assert events == [  # (deal, kind, amount, user, reason)
        ("11", "deal-won", 1_200_050, "rep:ada", None),
        ("11", "opportunity", 1_200_050, "rep:ada", None),
        ("12", "deal-lost", None, "rep:ada", "Price"),
        ("12", "opportunity", None, "rep:ada", None),
        ("13", "demo-booked", None, "rep:ada", None),  # "Verbal" → demo (--stage)
        ("13", "opportunity", 500_000, "rep:ada", None),
    ]


def test_import_from_stdin(database, database_url, monkeypatch):
    text = BAD.splitlines()[0] + "\n2026-10-05,call,3,,,,,Ada,,,\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out, _ = kpibot(database_url, "import", "-", "-w", "slack:TIN")
    assert code == 0 and count_events(database, "slack:TIN") == 1


def test_an_old_schema_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, _, err = kpibot(url, "export")
    assert code == 2 and "kpibot db upgrade" in err


def _wired() -> bool:
    from bot.cli import main as cli

    try:
        cli._parser().parse_args(["export"])
    except SystemExit:
        return False
    return True


@pytest.mark.skipif(not _wired(), reason="kpibot import/export not wired into bot/cli/main.py yet")
def test_the_kpibot_command(database, database_url, tmp_path):
    seed_rich(database, "slack:TA")
    out = tmp_path / "out.csv"
    env = {"DATABASE_URL": database_url, "KPIBOT_TIMEZONE": "Europe/Oslo", "PATH": ""}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "export", "-w", "slack:TA", "-o",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "bot.cli", "import", str(out), "-w",
                           "slack:TB"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert event_tuples(database, "slack:TB") == event_tuples(database, "slack:TA",
                                                              include_void=False)


def test_the_import_says_which_deal_outcomes_it_changed(database, database_url, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("occurred_at,event,amount,deal,user,source\n"
                     "2026-03-02 10:00,deal-won,500,Acme,Ada,\n"
                     "2026-03-02,lead,,Acme,,Organic Search\n"
                     "2026-03-03 09:00,deal-lost,,Globex,Ada,\n"
                     "2026-03-04,lead,,Initech,,Paid Search\n", encoding="utf-8")
    code, out, err = kpibot(database_url, "import", str(first), "-w", "slack:TOUT")
    assert code == 0, err
    assert "deals in this file after the import: 1 won, 1 lost, 1 open" in out
    assert "2 events without a rep were credited to the team (shown as Unassigned)" in out
    assert "changed outcome" not in out and "rep:unassigned" not in out
    later = tmp_path / "later.csv"
    later.write_text("occurred_at,event,deal,user\n"
                     "2026-03-10 10:00,opportunity,Acme,Ada\n"
                     "2026-03-10 10:00,sql,Globex,Ada\n", encoding="utf-8")
    code, out, err = kpibot(database_url, "import", str(later), "-w", "slack:TOUT")
    assert code == 0, err
    assert "deals in this file after the import: 0 won, 1 lost, 1 open" in out
    assert "1 deal changed outcome: Acme won → open" in out


def test_a_refused_file_creates_no_workspace_and_does_not_say_it_did(database, database_url,
                                                                     tmp_path):
    path = tmp_path / "bad-rows.csv"
    path.write_text(BAD.splitlines()[0] + "\n2026-10-05,call,3,,,,,Ada,,,\n"
                    "2026-10-06,no-such-event,1,,,,,Ada,,,\n")
    code, out, err = kpibot(database_url, "import", str(path), "-w", "slack:TNEW")
    assert code == 1, (out, err)
    text = out + err
    assert "workspace slack:TNEW created" not in text
    assert "workspace slack:TNEW was not created (nothing was stored)" in text
    assert not workspace_exists(database, "slack:TNEW")

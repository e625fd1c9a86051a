"""The light SQLite reader (storage/lite.py) and the compiled statements it runs
(storage/compiled.py): every KPI answers byte for byte as the chat path's SqlFacts over a
SQLAlchemy Session does, with a cache compiled on the spot and with one read from disk; a
stale, corrupted or foreign cache file is never used; concurrent writers leave a whole file."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.usecases.kpi import answer_json, answer_kpi
from reports.kpis.catalog import CATALOG
from sampledata import seed_workspace
from storage import compiled, engine, lite
from storage.engine import Database
from storage.models import Workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WS = "slack:TLIGHT"
PERIODS = ("this-month", "last-quarter", "this-year", "2020-01-01..2026-12-31", "7d")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def history(tmp_path_factory, sqlite_template) -> Path:
    """A migrated SQLite file with a generated history of ~3,000 events (Oslo time)."""
    path = tmp_path_factory.mktemp("light") / "history.db"
    shutil.copyfile(sqlite_template, path)
    database = Database.from_url(f"sqlite:///{path}")
    seed_workspace(database=database, workspace_id=WS, target_events=3_000, end=NOW, seed=5,
                   timezone="Europe/Oslo")
    database.dispose()
    return path


def _rep(path: Path) -> str:
    with lite.Reader(str(path), compiled.Cache(path.parent / "rep-cache")) as reader:
        return reader.execute("SELECT user_id FROM events WHERE workspace_id = ? "
                              "ORDER BY user_id LIMIT 1", (WS,))[0][0]


def _questions(path: Path) -> list[tuple[str, str, str | None]]:
    rep = _rep(path)
    return [(name, period, None) for name in CATALOG for period in PERIODS] + [
        (name, "this-year", rep) for name in CATALOG]


def _chat_answers(path: Path, questions) -> list[str]:
    """The answers of the chat path: SqlFacts over a SQLAlchemy Session."""
    database = Database.from_url(f"sqlite:///{path}")
    try:
        found = []
        for name, period, user in questions:
            with database.read() as session:
                workspace = session.get(Workspace, WS)
                found.append(json.dumps(answer_json(answer_kpi(
                    session, workspace, name, period, now=NOW, user=user, with_names=False))))
        return found
    finally:
        database.dispose()


def _light_answer(path: Path, cache: compiled.Cache, name: str, period: str,
                  user: str | None) -> str:
    with lite.Reader(str(path), cache) as reader:
        workspace = reader.workspace(WS)
        return json.dumps(answer_json(answer_kpi(reader, workspace, name, period, now=NOW,
                                                 user=user, with_names=False)))


def test_every_kpi_answers_the_same_without_sqlalchemy_cold_and_warm(history, tmp_path,
                                                                      monkeypatch):
    """Each of the catalog's KPIs over five periods (and per rep): the light reader with no
    cache (it compiles the statements it meets), then with the cache those runs wrote (it
    compiles nothing), gives the chat path's JSON, byte for byte."""
    questions = _questions(history)
    expected = _chat_answers(history, questions)
    warm = tmp_path / "warm"
    cold = [_light_answer(history, compiled.Cache(tmp_path / f"cold-{i}"), *question)
            for i, question in enumerate(questions)]
    for question in questions:  # fills `warm`, one process-like run after another
        _light_answer(history, compiled.Cache(warm), *question)
    assert len(compiled.Cache(warm)._texts or compiled._load(compiled.Cache(warm).path)) > 20

    def no_compiling(*_args):
        raise AssertionError("a statement compiled with a warm cache")

    monkeypatch.setattr(compiled, "compile_text", no_compiling)
    warmed = [_light_answer(history, compiled.Cache(warm), *question) for question in questions]
    for question, chat, first, second in zip(questions, expected, cold, warmed, strict=True):
        assert first == chat, question
        assert second == chat, question


def test_a_stale_cache_is_never_read(tmp_path):
    """The file is named by a fingerprint of the storage package's files, reports/events.py
    and the SQLAlchemy and SQLite versions: touching or editing a source file, or another
    SQLAlchemy, names another file."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "storage", tree / "storage",
                    ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    (tree / "reports").mkdir()
    shutil.copy2(ROOT / "reports" / "events.py", tree / "reports" / "events.py")
    first = compiled.fingerprint(tree / "storage")
    assert compiled.fingerprint(tree / "storage") == first
    facts = tree / "storage" / "facts.py"
    stat = facts.stat()
    os.utime(facts, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = compiled.fingerprint(tree / "storage")
    assert touched != first
    (tree / "reports" / "events.py").write_text("# another stage\n", encoding="utf-8")
    assert compiled.fingerprint(tree / "storage") not in (first, touched)
    assert compiled.fingerprint(tree / "storage", sqlalchemy="9.9.9") != compiled.fingerprint(
        tree / "storage")
    assert compiled.fingerprint() == compiled.fingerprint(ROOT / "storage")


def _filled(history: Path, directory: Path) -> compiled.Cache:
    _light_answer(history, compiled.Cache(directory), "win-rate", "this-year", None)
    cache = compiled.Cache(directory)
    assert cache.get(("storage.lite", "workspace")) is not None
    return cache


@pytest.mark.parametrize("damage", ["truncated", "edited", "not json", "wrong shape", "empty"])
def test_a_damaged_cache_is_ignored_and_rewritten(history, tmp_path, damage):
    """A file cut short, edited (the checksum no longer matches), not JSON, of another layout
    or empty is not read: the statements are compiled again, the answer is the chat path's,
    and the file is written whole again."""
    cache = _filled(history, tmp_path)
    raw = cache.path.read_text(encoding="utf-8")
    broken = {"truncated": raw[: len(raw) // 2],
              "edited": raw.replace("SELECT", "SELECT 1, ", 1),
              "not json": "\x00\x01garbage",
              "wrong shape": json.dumps({"fingerprint": cache.fingerprint, "sha256": "",
                                         "statements": []}),
              "empty": ""}[damage]
    cache.path.write_text(broken, encoding="utf-8")
    assert compiled.Cache(tmp_path).get(("storage.lite", "workspace")) is None
    expected = _chat_answers(history, [("win-rate", "this-year", None)])
    assert _light_answer(history, compiled.Cache(tmp_path), "win-rate", "this-year",
                         None) == expected[0]
    assert compiled.Cache(tmp_path).get(("storage.lite", "workspace")) is not None


def test_an_entry_of_the_wrong_shape_spoils_the_whole_file(history, tmp_path):
    """A checksum that matches over an entry naming an unknown conversion: nothing is used."""
    cache = _filled(history, tmp_path)
    document = json.loads(cache.path.read_text(encoding="utf-8"))
    key = next(iter(document["statements"]))
    document["statements"][key][2] = ["eval"] * len(document["statements"][key][1])
    body = json.dumps(document["statements"], sort_keys=True, separators=(",", ":"))
    document["sha256"] = compiled._digest(body)
    cache.path.write_text(json.dumps(document), encoding="utf-8")
    assert compiled._load(cache.path) == {}


def test_a_file_others_may_write_is_not_read_and_the_directory_is_the_users_alone(
        history, tmp_path):
    """The file is SQL the reader runs: one writable by the group or others is ignored (the
    statements compiled again), and the rewritten file and a new directory are private."""
    cache = _filled(history, tmp_path / "cache")
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    cache.path.chmod(0o666)
    assert compiled._load(cache.path) == {}
    expected = _chat_answers(history, [("win-rate", "this-year", None)])
    assert _light_answer(history, compiled.Cache(tmp_path / "cache"), "win-rate", "this-year",
                         None) == expected[0]
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert compiled.Cache(tmp_path / "cache").get(("storage.lite", "workspace")) is not None


def test_a_file_of_another_fingerprint_is_removed_when_the_new_one_is_written(history, tmp_path):
    old = compiled.Cache(tmp_path, "0" * 24)
    old.put(("storage.lite", "x"), compiled.Text("SELECT 1", (), (), None, {}, ()))
    assert old.save() and old.path.exists()
    _filled(history, tmp_path)
    assert not old.path.exists()


def test_an_unwritable_cache_only_costs_time(history, tmp_path):
    """A read-only cache directory: the answer is right, nothing is written, nothing raised."""
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("", encoding="utf-8")
    cache = compiled.Cache(blocked / "cache")
    expected = _chat_answers(history, [("win-rate", "this-year", None)])
    assert _light_answer(history, cache, "win-rate", "this-year", None) == expected[0]
    assert not cache.path.exists()


def test_concurrent_writers_leave_a_whole_file_with_every_entry(history, tmp_path):
    """Threads that each compiled other statements save at once: the file holds all of them
    (each write merges what is there) or, at worst, misses some (compiled again later); it
    is always whole."""
    texts = {("storage.lite", f"s{i}"): compiled.Text(f"SELECT {i}", (), (), None, {}, ())
             for i in range(16)}
    barrier = threading.Barrier(len(texts))

    def write(key, text) -> None:
        cache = compiled.Cache(tmp_path)
        cache.put(key, text)
        barrier.wait()
        cache.save()

    threads = [threading.Thread(target=write, args=item) for item in texts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = compiled._load(compiled.Cache(tmp_path).path)
    assert found and set(found) <= {compiled.key_text(key) for key in texts}
    assert not list(tmp_path.glob(".statements-*"))  # no temporary file left behind


def test_concurrent_first_runs_of_the_command(history, tmp_path):
    """Four `kpibot kpi win-rate --json` started together on an empty cache: each answers
    the chat path's JSON and the cache they leave is whole and used by the next run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KPIBOT_", "SLACK_", "TEAMS_", "DATABASE_URL"))}
    env.update(DATABASE_URL=f"sqlite:///{history}", KPIBOT_CACHE_DIR=str(tmp_path / "cache"),
               KPIBOT_LOG_LEVEL="WARNING")
    argv = [sys.executable, "-m", "bot.cli", "kpi", "win-rate", "--json", "--period",
            "this-year", "--workspace", WS]
    runs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(4)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    assert len({out for out, _err in outputs}) == 1
    cache = compiled.Cache(tmp_path / "cache")
    assert compiled._load(cache.path)
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                           check=True)
    assert again.stdout == outputs[0][0]


def test_the_reader_sets_the_engines_busy_timeout():
    assert lite.BUSY_TIMEOUT_MS == engine.SQLITE_BUSY_TIMEOUT_MS


def test_the_reader_reads_one_snapshot_and_tells_its_listeners(history, tmp_path):
    """Like `Database.read()`: one read transaction (a commit by another connection after
    its first read is not seen), the engine's busy timeout and WAL, every statement told to
    the listeners."""
    import sqlite3

    copy = tmp_path / "copy.db"
    shutil.copyfile(history, copy)
    seen: list[str] = []
    with lite.Reader(str(copy), compiled.Cache(tmp_path)) as reader:
        reader.listeners.append(lambda sql, _values: seen.append(sql))
        before = reader.execute("SELECT count(*) FROM daily_rollups")[0][0]
        other = sqlite3.connect(copy, isolation_level=None)
        other.execute("DELETE FROM daily_rollups WHERE rowid IN "
                      "(SELECT rowid FROM daily_rollups LIMIT 1)")  # committed
        other.close()
        assert reader.execute("SELECT count(*) FROM daily_rollups")[0][0] == before
        assert reader.execute("PRAGMA busy_timeout")[0][0] == engine.SQLITE_BUSY_TIMEOUT_MS
        assert reader.execute("PRAGMA journal_mode")[0][0] == "wal"
        reader.workspace(WS)
    assert len(seen) == 6 and seen[0] == "SELECT count(*) FROM daily_rollups"
    assert seen[-2].startswith("SELECT workspaces.id") and seen[-1] == "ROLLBACK"
    with lite.Reader(str(copy), compiled.Cache(tmp_path)) as reader:
        assert reader.execute("SELECT count(*) FROM daily_rollups")[0][0] == before - 1

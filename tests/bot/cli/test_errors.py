"""What a new user meets at the command line: one clear line on stderr, never a traceback.

Each case runs the real `kpibot` entry point in a subprocess, in an empty folder, with only the
settings the case names."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from bot.cli.main import _parser

SETTINGS = ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
            "TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "KPIBOT_ADMINS")


def kpibot(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kpibot: ")
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("args", [("db", "upgrade"), ("db", "current"), ("serve",),
                                  ("kpi", "win-rate"), ("digest", "status")])
def test_an_unreachable_database_is_one_line_without_the_password(tmp_path, args):
    url = f"postgresql+psycopg://kpi:hunter2@127.0.0.1:{closed_port()}/kpibot"
    result = kpibot(tmp_path, *args, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-1",
                    SLACK_SIGNING_SECRET="s")
    line = one_line(result)
    assert result.returncode == 2
    assert "cannot use the database" in line and "Connection refused" in line
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "sqlite:///:memory:"],
                         ids=["empty-path", "no-path", "in-memory"])
def test_a_sqlite_url_without_a_file_is_refused_by_name(tmp_path, url):
    line = one_line(kpibot(tmp_path, "kpi", "win-rate", DATABASE_URL=url))
    assert "DATABASE_URL" in line and "names no database file" in line
    assert "sqlite:///kpibot.db" in line  # what to write instead


def test_a_malformed_postgresql_url_is_refused(tmp_path):
    line = one_line(kpibot(tmp_path, "db", "upgrade",
                           DATABASE_URL="postgresql+psycopg://localhost"))
    assert "DATABASE_URL" in line and "postgresql+psycopg://user:password@host" in line


def test_a_sqlite_file_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    line = one_line(kpibot(tmp_path, "db", "upgrade",
                           DATABASE_URL=f"sqlite:///{blocker}/kpibot.db"))
    assert str(blocker) in line


def test_serve_reports_missing_tokens_before_the_schema(tmp_path):
    line = one_line(kpibot(tmp_path, "serve"))  # no tokens and an empty database
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in line
    assert "schema" not in line


def test_an_empty_database_says_how_to_continue(tmp_path):
    (tmp_path / "kpibot.db").write_bytes(b"")  # (an empty SQLite file)
    line = one_line(kpibot(tmp_path, "kpi", "win-rate"))
    assert "not at the current schema" in line, line
    assert "kpibot db upgrade" in line and "kpibot demo" in line


def test_a_database_not_there_yet_is_not_created_by_asking(tmp_path):
    """`kpibot kpi` before `kpibot demo` or `db upgrade`: said so, and no empty kpibot.db left
    behind (connecting to ask its revision created one, in WAL mode)."""
    line = one_line(kpibot(tmp_path, "kpi", "win-rate"))
    assert "no database at sqlite:///kpibot.db yet" in line, line
    assert "kpibot demo" in line and "kpibot db upgrade" in line
    assert not (tmp_path / "kpibot.db").exists()


def test_a_closed_pipe_ends_quietly(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "kpi", "list"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()  # like `| head -1`: read one line, then go away
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=30)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_every_subcommand_describes_itself():
    parser = _parser()
    assert "kpibot demo" in parser.description and "nothing happens" not in parser.description
    (commands,) = parser._subparsers._group_actions
    for name, sub in commands.choices.items():
        assert sub.description, f"kpibot {name} --help has no description"
    assert {action.dest for action in commands._choices_actions if action.help} == set(
        commands.choices)


def test_no_bolt_warning_at_start(monkeypatch, caplog):
    from bot.slack.app import build_slack_app

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # Bolt reads it itself
    with caplog.at_level("WARNING"):
        build_slack_app(handler=object(), bot_token="xoxb-1", signing_secret="s",
                        api_url="http://127.0.0.1:9/api/")
    assert [r.getMessage() for r in caplog.records] == []

"""Every command's first read: the workspace row made into a Workspace as the ORM makes a
loaded one (storage/workspaces.py), also as the first thing a fresh process does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from storage.workspaces import ensure_user, ensure_workspace, workspace_and_user

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def _seed(database) -> None:
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:TW", platform="slack",
                         timezone="Europe/Oslo", currency="NOK", now=NOW)
        ensure_user(session=session, workspace_id="slack:TW", user_id="U1",
                    display_name="Ann", email="ann@example.com", now=NOW)


def test_the_workspace_and_user_read_back_as_stored(database):
    _seed(database)
    workspace, user = workspace_and_user(database, "slack:TW", "U1")
    assert (workspace.id, workspace.timezone, workspace.currency, workspace.created_at) == (
        "slack:TW", "Europe/Oslo", "NOK", NOW)
    assert user == ("Ann", "ann@example.com")
    assert workspace_and_user(database, "slack:TW", "U_NEW")[1] is None
    assert workspace_and_user(database, "slack:NONE", "U1") == (None, None)
    with database.write() as session:  # a detached row: a session takes it as persistent
        session.add(workspace)
        workspace.name = "Renamed"
    with database.read() as session:
        assert session.get(type(workspace), "slack:TW").name == "Renamed"


def test_a_fresh_process_can_read_its_workspace_first(database):
    """No constructor or query has configured the ORM's mappers yet in a process whose first
    command reads its workspace (benchmarks.command_costs, a CLI command)."""
    _seed(database)
    url = database.engine.url.render_as_string(hide_password=False)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path.cwd())!r})
        from storage.engine import Database
        from storage.workspaces import workspace_and_user
        workspace, user = workspace_and_user(Database.from_url({url!r}), "slack:TW", "U1")
        print(workspace.currency, user[0])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["NOK", "Ann"]

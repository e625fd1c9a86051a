"""What start-up imports: the Teams SDK (0.27 s and 22 MiB) only when Teams is configured; the
CLI's parser nothing heavy (`kpibot --help`), `kpibot kpi NAME --json` no chat, server, Alembic,
Jinja or matplotlib module."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from bot.settings import build_settings
from bot.wiring import build_bot
from bot.server import build_web_app
settings = build_settings(DATABASE_URL=sys.argv[1], SLACK_BOT_TOKEN="xoxb-1",
                          SLACK_SIGNING_SECRET="s", **json.loads(sys.argv[2]))
bot = build_bot(settings)
build_web_app(database=bot.database, slack_app=bot.slack_app, slack_signing_secret="s",
              teams=bot.teams)
bot.build_digest_scheduler()
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"microsoft_agents"})))
"""


def _sdk_modules(tmp_path, **settings: str) -> list[str]:
    return _server_modules(tmp_path, {"microsoft_agents"}, **settings)


def _server_modules(tmp_path, names: set[str], **settings: str) -> list[str]:
    """Which of `names` (modules, or packages by their first part) the server imported."""
    probe = PROBE.replace('{m.split(".")[0] for m in sys.modules}',
                          '{p for m in sys.modules for p in (m, m.split(".")[0])}')
    probe = probe.replace('{"microsoft_agents"}', repr(names))
    result = subprocess.run(
        [sys.executable, "-c", probe, f"sqlite:///{tmp_path / 'probe.db'}", json.dumps(settings)],
        capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


EVENTS_API = {"bot.api.routes", "bot.api.ingest", "bot.transfer", "bot.sync.schedule"}


def test_no_events_api_or_crm_sync_modules_when_they_are_off(tmp_path):
    """Without KPIBOT_TOKEN_KEY the events API answers 503 from bot/api/off.py, and without
    HubSpot tokens there is no sync job: their modules (a fifth of start-up) stay unloaded."""
    assert _server_modules(tmp_path, EVENTS_API) == []
    assert _server_modules(tmp_path, EVENTS_API, KPIBOT_TOKEN_KEY="k" * 32) == [
        "bot.api.ingest", "bot.api.routes", "bot.transfer"]


def test_no_teams_sdk_without_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path) == []


def test_the_teams_sdk_with_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path, TEAMS_APP_ID="00000000-0000-0000-0000-000000000001",
                        TEAMS_APP_PASSWORD="secret") == ["microsoft_agents"]


HEAVY = {"slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents", "sqlalchemy", "sqlmodel",
         "storage", "pydantic", "pydantic_settings", "babel", "jinja2", "matplotlib", "alembic",
         "apscheduler", "asyncio"}

CLI_PROBE = """
import contextlib, json, os, sys
from bot.cli.main import main
argv = json.loads(sys.argv[1])
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _cli_modules(*argv: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit status of `kpibot ARGV` and the top-level modules it imported."""
    result = subprocess.run([sys.executable, "-c", CLI_PROBE, json.dumps(argv)],
                            capture_output=True, text=True, timeout=120, check=True,
                            env=env)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["code"], set(answer["modules"])


def test_help_imports_nothing_heavy():
    """Building the parser (`kpibot --help`, `kpibot COMMAND --help`) stays cheap."""
    for argv in (["--help"], ["kpi", "--help"], ["digest", "preview", "--help"],
                 ["import", "--help"], ["token", "create", "--help"]):
        code, modules = _cli_modules(*argv)
        assert code == 0
        assert modules & HEAVY == set(), argv


def test_kpi_json_imports_no_chat_migration_or_drawing_library(tmp_path):
    """`kpibot kpi NAME --json` reads the database and prints JSON: no Slack, Teams, HTTP
    server, scheduler, Alembic, Jinja or matplotlib."""
    import os
    from datetime import UTC, datetime

    from storage import migrate
    from storage.engine import Database
    from storage.workspaces import ensure_workspace

    url = f"sqlite:///{tmp_path / 'kpi.db'}"
    migrate.upgrade(url)
    database = Database.from_url(url)
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:T1", platform="slack",
                         timezone="UTC", currency="USD", fiscal_year_start=1,
                         now=datetime(2026, 1, 1, tzinfo=UTC))
    database.dispose()
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("KPIBOT_", "SLACK_", "TEAMS_", "DATABASE_URL"))}
    code, modules = _cli_modules("kpi", "win-rate", "--json",
                                 env={**clean, "DATABASE_URL": url})
    assert code == 0
    assert "sqlalchemy" in modules  # it did read the database
    assert modules & {"slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents", "apscheduler",
                      "alembic", "jinja2", "matplotlib"} == set()

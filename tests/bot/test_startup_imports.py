"""What start-up imports and does: the Teams SDK (0.27 s and 22 MiB) only when Teams is
configured; the CLI's parser nothing heavy (`kpibot --help`), `kpibot kpi NAME --json` no chat,
server, Alembic, Jinja or matplotlib module and no digest schedule; `serve` no Jinja before a
digest goes out; start-up with no garbage collection, serve's neither before it freezes."""

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


def test_no_jinja_in_the_server_before_a_digest_goes_out(tmp_path):
    """The digest templates render when a digest is previewed or delivered, not at start-up
    (bot/digests/channels.py imports them when a Teams digest is posted)."""
    assert _server_modules(tmp_path, {"jinja2", "reports.digest.render"}) == []


def test_no_teams_sdk_without_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path) == []


def test_the_teams_sdk_with_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path, TEAMS_APP_ID="00000000-0000-0000-0000-000000000001",
                        TEAMS_APP_PASSWORD="secret") == ["microsoft_agents"]


HEAVY = {"slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents", "sqlalchemy", "sqlmodel",
         "storage", "pydantic", "pydantic_settings", "babel", "jinja2", "matplotlib", "alembic",
         "apscheduler", "asyncio"}

CLI_PROBE = """
import contextlib, gc, json, os, sys
from bot.cli.main import main
argv = json.loads(sys.argv[1])
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code
    finally:
        gc.callbacks.clear()  # the collections afterwards (the collector on again) not counted
modules = {p for m in sys.modules for p in (m, m.split(".")[0])}
print(json.dumps({"code": code, "modules": sorted(modules), "collections": len(collections),
                  "collector_on": gc.isenabled()}))
"""


def _cli_run(*argv: str, env: dict[str, str] | None = None) -> dict:
    """`kpibot ARGV` in a fresh process: its exit status ("code"), the modules it imported
    (full names and top-level packages), the garbage collections while it ran and whether
    the collector was on afterwards."""
    result = subprocess.run([sys.executable, "-c", CLI_PROBE, json.dumps(argv)],
                            capture_output=True, text=True, timeout=120, check=True,
                            env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _cli_modules(*argv: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """The exit status of `kpibot ARGV` and the modules (and top-level packages) it imported."""
    answer = _cli_run(*argv, env=env)
    return answer["code"], set(answer["modules"])


def test_help_imports_nothing_heavy():
    """Building the parser (`kpibot --help`, `kpibot COMMAND --help`) stays cheap."""
    for argv in (["--help"], ["kpi", "--help"], ["digest", "preview", "--help"],
                 ["import", "--help"], ["token", "create", "--help"]):
        code, modules = _cli_modules(*argv)
        assert code == 0
        assert modules & HEAVY == set(), argv


def _kpi_database(tmp_path) -> dict[str, str]:
    """The environment of a `kpibot` on a migrated SQLite database with one workspace."""
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
    return {**clean, "DATABASE_URL": url, "KPIBOT_CACHE_DIR": str(tmp_path / "cache")}


def test_kpi_json_imports_no_chat_migration_or_drawing_library(tmp_path):
    """`kpibot kpi NAME --json` reads the database and prints JSON: no Slack, Teams, HTTP
    server, scheduler, Alembic, Jinja or matplotlib, no digest schedules (the language of the
    digests only picks the text's language) and no people's names."""
    code, modules = _cli_modules("kpi", "win-rate", "--json", env=_kpi_database(tmp_path))
    assert code == 0
    assert "sqlalchemy" in modules  # it did read the database
    assert modules & {"slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents", "apscheduler",
                      "alembic", "jinja2", "matplotlib", "storage.digests",
                      "storage.users"} == set()


def test_kpi_json_on_sqlite_imports_no_sqlalchemy_once_its_statements_are_compiled(tmp_path):
    """`kpibot kpi NAME --json` on a SQLite file runs the facts' statements' compiled SQLite
    text (storage/lite.py, storage/compiled.py): the first run compiles them (SQLAlchemy) and
    keeps them in KPIBOT_CACHE_DIR; the next imports neither SQLAlchemy nor Alembic nor the
    tables (`import sqlalchemy` alone was half of the command) and answers the same."""
    env = _kpi_database(tmp_path)
    first = _cli_run("kpi", "win-rate", "--json", env=env)
    assert first["code"] == 0 and "sqlalchemy" in first["modules"]
    assert _cli_run("kpi", "funnel", "--json", "--workspace", "slack:T1", env=env)["code"] == 0
    for argv in (["kpi", "win-rate", "--json"],
                 ["kpi", "funnel", "--json", "--workspace", "slack:T1"]):
        code, modules = _cli_modules(*argv, env=env)
        assert code == 0
        assert modules & {"sqlalchemy", "alembic", "storage.models", "storage.engine",
                          "storage.driver", "psycopg"} == set(), argv
        assert "storage.lite" in modules
    out = [subprocess.run([sys.executable, "-m", "bot.cli", "kpi", "win-rate", "--json"],
                          env=env, capture_output=True, text=True, check=True, timeout=120
                          ).stdout for _ in range(2)]
    assert out[0] == out[1] and json.loads(out[0])["kpi"] == "win-rate"


def test_settings_are_read_without_pydantic_settings(tmp_path):
    """bot/settings.py reads the environment and `.env` itself (pydantic-settings' import,
    with its CLI, cloud secret and file sources, was ~8% of `kpibot kpi NAME --json`); the
    server does not import it either, nor python-dotenv without a `.env`."""
    from pathlib import Path

    code, modules = _cli_modules("kpi", "win-rate", "--json", env=_kpi_database(tmp_path))
    unused = {"pydantic_settings"} | ({"dotenv"} if not Path(".env").exists() else set())
    assert code == 0
    assert modules & unused == set()
    assert _server_modules(tmp_path, unused) == []


PYDANTIC_SPY = """
import sys
pydantic_importers = []
class _PydanticSpy:  # records which module imports pydantic first (its frame's __name__)
    def find_spec(self, name, path=None, target=None):
        if name == "pydantic":
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back
            pydantic_importers.append(frame and frame.f_globals.get("__name__"))
sys.meta_path.insert(0, _PydanticSpy())
"""

SETTINGS_PROBE = PYDANTIC_SPY + """
import contextlib, io, json
from bot.cli.main import main
from bot.settings import SettingsError, build_settings
build_settings(DATABASE_URL="sqlite:///x.db", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1",
               SLACK_SIGNING_SECRET="s", KPIBOT_TOKEN_KEY="k" * 32, KPIBOT_ADMINS="U1,U2",
               KPIBOT_HUBSPOT_TOKENS="slack:T1=pat-1", TEAMS_APP_PASSWORD="p")
try:
    build_settings(KPIBOT_PORT="x")
except SettingsError:
    pass
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(["--help"])
print(json.dumps(pydantic_importers + sorted(m for m in sys.modules if m.startswith("pydantic"))))
"""


def test_settings_and_help_import_no_pydantic():
    """bot/settings.py is a dataclass with its own parsers: building settings (every kind of
    value, a bad one too) and `kpibot --help` import no pydantic (~0.12 s of every command's
    start with the model built on it)."""
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROBE], capture_output=True,
                            text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_nothing_imports_pydantic_in_kpi_json_and_the_server(tmp_path):
    """On the start-up paths (`kpibot kpi NAME --json`, the server with the events API and
    Teams off) nothing imports pydantic: the settings are a dataclass, the tables plain
    SQLAlchemy."""
    env = _kpi_database(tmp_path)
    probe = PYDANTIC_SPY + CLI_PROBE + "print(json.dumps(pydantic_importers))\n"
    argv = json.dumps(["kpi", "win-rate", "--json"])
    result = subprocess.run([sys.executable, "-c", probe, argv], capture_output=True,
                            text=True, timeout=120, check=True, env=env)
    kpi_importers = json.loads(result.stdout.strip().splitlines()[-1])
    probe = PYDANTIC_SPY + PROBE + "print(json.dumps(pydantic_importers))\n"
    result = subprocess.run([sys.executable, "-c", probe, f"sqlite:///{tmp_path / 'probe.db'}",
                             "{}"], capture_output=True, text=True, timeout=120, check=True)
    server_importers = json.loads(result.stdout.strip().splitlines()[-1])
    assert kpi_importers + server_importers == []


def test_no_postgresql_dialect_on_sqlite(tmp_path):
    """On SQLite neither `kpibot kpi NAME --json` nor the server loads SQLAlchemy's PostgreSQL
    dialect (~4% of the command): the models' partial indexes keep their predicate in `info`
    and the upserts import their dialect's `insert` when first used."""
    code, modules = _cli_modules("kpi", "win-rate", "--json", env=_kpi_database(tmp_path))
    assert code == 0
    assert "sqlalchemy.dialects.sqlite" in modules
    assert "sqlalchemy.dialects.postgresql" not in modules
    assert _server_modules(tmp_path, {"sqlalchemy.dialects.postgresql"}) == []


def test_reading_settings_loads_no_locale_data():
    """KPIBOT_CURRENCY is checked without Babel (which loaded the process locale's data for
    it, a locale nothing else uses); a bad code is still refused."""
    probe = ("import sys\nfrom bot.settings import SettingsError, build_settings\n"
             "assert build_settings(KPIBOT_CURRENCY='eur').currency == 'EUR'\n"
             "try:\n    build_settings(KPIBOT_CURRENCY='euro')\nexcept SettingsError as e:\n"
             "    print(e)\nprint(sorted(m for m in sys.modules if m.startswith('babel')))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.splitlines() == [
        "bad setting KPIBOT_CURRENCY: 'euro' is not an ISO 4217 currency code", "[]"]


def test_kpi_runs_without_a_garbage_collection(tmp_path):
    """`kpibot kpi` keeps the cyclic garbage collector off (bot/cli/main.py): start-up only
    makes objects that live until the process ends within milliseconds. It is on again
    when `main` returns."""
    env = _kpi_database(tmp_path)
    for argv in (["kpi", "win-rate", "--json"], ["kpi", "funnel", "--period", "this-year"]):
        answer = _cli_run(*argv, env=env)
        assert answer["code"] == 0, argv
        assert answer["collections"] == 0, argv
        assert answer["collector_on"], argv


def test_a_command_works_with_the_collector_on_and_kpi_without(monkeypatch, tmp_path):
    """Only start-up runs without the collector: a command's work runs with it on (an import
    or `kpibot demo` makes garbage), except `kpibot kpi`'s (`collector_off`)."""
    import gc

    from bot.cli import db, kpi
    from bot.cli.main import main

    seen = []
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.setattr(db, "run", lambda args, settings: seen.append(gc.isenabled()) or 0)
    monkeypatch.setattr(kpi, "run", lambda args, settings: seen.append(gc.isenabled()) or 0)
    monkeypatch.setattr(kpi, "needs_schema", lambda args: False)
    assert main(["db", "current"]) == 0
    assert main(["kpi", "win-rate", "--json"]) == 0
    assert seen == [True, False]
    assert gc.isenabled()


SERVE_PROBE = """
import gc, json, sys
import bot.server
from bot.cli.main import main
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(
    (info["generation"], gc.get_freeze_count())))
async def serving(app, **_where):  # instead of listening: what start-up did until now
    import babel.core, babel.localedata
    print(json.dumps({"collections": collections, "collector_on": gc.isenabled(),
                      "modules": sorted(sys.modules), "expecting_scheduler":
                      not _bot_digests[0]._settled.is_set() if _bot_digests else None,
                      "frozen": gc.get_freeze_count(),
                      "babel_data": sorted(babel.localedata._cache)
                      + ["global"] * (babel.core._global_data is not None)}))
bot.server.run_web_app = serving
import bot.cli.serve
_bot_digests, _serving_bot = [], bot.cli.serve.serving_bot
def serving_bot(settings):
    made = _serving_bot(settings)
    _bot_digests.append(made.digests)
    return made
bot.cli.serve.serving_bot = serving_bot
main(["serve", "--port", "0"])
"""


def _serve_start(tmp_path) -> dict:
    """What `kpibot serve` did before it would listen (SERVE_PROBE)."""
    env = {**_kpi_database(tmp_path), "SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1",
           "SLACK_API_URL": "http://127.0.0.1:9/api/", "KPIBOT_LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "-c", SERVE_PROBE], capture_output=True,
                            text=True, timeout=120, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_serve_reads_no_locale_data_before_it_listens(tmp_path):
    """Babel's locale and global data (the currency list, a locale's names) are read when a
    command first needs them, not at start (reports/units.py `_currencies`, bot/settings.py
    checks KPIBOT_CURRENCY without Babel)."""
    assert _serve_start(tmp_path)["babel_data"] == []


def test_serve_starts_without_a_garbage_collection_then_freezes(tmp_path):
    """`kpibot serve` builds the bot with the collector off, freezes everything (start-up's
    little garbage, mostly the command line's parser, with it: a collection walked all ~140k
    objects) and turns the collector on, before it listens (bot/cli/serve.py
    `freeze_startup_objects`)."""
    answer = _serve_start(tmp_path)
    # none before the freeze (young ones after it, with the collector on, walk little)
    assert [frozen for _generation, frozen in answer["collections"] if not frozen] == []
    assert [generation for generation, _frozen in answer["collections"]
            if generation == 2] == []
    assert answer["collector_on"]
    assert answer["frozen"] > 50_000


def test_serve_listens_before_it_imports_the_digest_scheduler(tmp_path):
    """`kpibot serve` answers commands and /healthz before APScheduler and the digest
    delivery are imported (on a thread once it listens: bot/cli/serve.py `_start_scheduler`);
    meanwhile a digest sent now waits for the scheduler (bot/digests/handle.py)."""
    answer = _serve_start(tmp_path)
    modules = set(answer["modules"])
    assert "bot.handlers.registry" in modules and "slack_bolt" in modules  # commands served
    assert modules & {"apscheduler", "bot.digests.scheduler", "bot.digests.delivery"} == set()
    assert answer["expecting_scheduler"] is True


TABLES_PROBE = """
import contextlib, json, os, sys
from bot.cli.main import main
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    code = main(["kpi", "win-rate", "--json"])
import storage.models as models
tables = [c for c in vars(models).values()
          if isinstance(c, type) and issubclass(c, models.Table) and c is not models.Table]
print(json.dumps({"code": code, "tables": len(tables),
                  "metadata_tables": len(models.Table.metadata.tables),
                  "storage": sorted(m for m in sys.modules if m.split(".")[0] == "storage"),
                  "string_annotations": "annotations" in vars(models)}))
"""

STORAGE_PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted({p for m in sys.modules for p in (m, m.split(".")[0])}
                        & {"sqlmodel", "pydantic", "pydantic_core"})))
"""


def test_the_tables_are_plain_sqlalchemy_without_sqlmodel_or_pydantic(tmp_path):
    """The tables are SQLAlchemy declarative classes (storage/models.py): neither
    `kpibot kpi NAME --json` nor `kpibot serve` imports SQLModel, and the storage modules
    they load import no pydantic (SQLModel and the pydantic models it built were ~0.15 s of
    every start). The annotations are real types, not strings SQLAlchemy has to evaluate."""
    env = _kpi_database(tmp_path)
    result = subprocess.run([sys.executable, "-c", TABLES_PROBE], capture_output=True,
                            text=True, timeout=120, check=True, env=env)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["code"] == 0
    assert answer["tables"] == answer["metadata_tables"] >= 18  # every table is a Table
    assert answer["string_annotations"] is False
    code, modules = _cli_modules("kpi", "win-rate", "--json", env=env)
    assert code == 0
    assert "sqlmodel" not in modules
    served = set(_serve_start(tmp_path)["modules"])
    assert "bot.server" in served and "sqlmodel" not in served
    storage = sorted({*answer["storage"], *(m for m in served if m.split(".")[0] == "storage")})
    assert "storage.models" in storage and "storage.engine" in storage
    result = subprocess.run([sys.executable, "-c", STORAGE_PROBE, json.dumps(storage)],
                            capture_output=True, text=True, timeout=120, check=True, env=env)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []

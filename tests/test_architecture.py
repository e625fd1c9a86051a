"""The code's shape: dependency direction bot -> storage -> reports, the core and its handlers
know no chat platform, and ruff stays clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "reports": {"storage", "bot", "sampledata", "sqlalchemy", "sqlmodel", "slack_bolt",
                "slack_sdk", "aiohttp", "microsoft_agents", "alembic", "psycopg"},
    "storage": {"bot", "sampledata", "slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents"},
    # sample data sits above storage: it writes through the event store, and knows no chat
    "sampledata": {"bot", "slack_bolt", "slack_sdk", "aiohttp", "microsoft_agents"},
}
# The only place of the running bot that generates sample data: `kpibot demo`.
SAMPLEDATA_USERS = {"bot/cli/demo.py"}
# What may sit loose at the top of bot/ (everything else lives in a package named for its job).
BOT_TOP_MODULES = {"__init__", "core", "replies", "settings", "logs", "wiring", "server"}


# The platform adapters and chat SDKs: the core (bot/core.py), the command handlers and the
# grammar reach a platform only through what wiring injects (BotContext, the outbound policy).
ADAPTERS = ("bot.slack", "bot.teams", "bot.api", "slack_sdk", "slack_bolt", "botbuilder",
            "microsoft_agents", "aiohttp")
PLATFORM_FREE = ("bot/core.py", "bot/handlers", "bot/grammar")


def _modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (`from a.b import c`: a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_only_the_demo_generates_sample_data():
    users = {str(path.relative_to(ROOT)) for path in (ROOT / "bot").rglob("*.py")
             if "sampledata" in _imports(path)}
    assert users <= SAMPLEDATA_USERS


def test_nothing_loose_at_the_top_of_bot():
    loose = {path.stem for path in (ROOT / "bot").glob("*.py")}
    assert loose - BOT_TOP_MODULES == set()


def test_core_and_handlers_import_no_platform_adapter():
    paths = [path for place in PLATFORM_FREE
             for path in ((ROOT / place).rglob("*.py") if (ROOT / place).is_dir()
                          else [ROOT / place])]
    assert len(paths) > 10
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in paths
        if (found := sorted(name for name in _modules(path)
                            if any(name == a or name.startswith(a + ".") for a in ADAPTERS)))
    }
    assert offenders == {}


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr

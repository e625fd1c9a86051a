"""`kpibot token create|list|revoke` through the real entry point (a subprocess), on SQLite and
PostgreSQL, with the token it prints used against the running API."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import sqlalchemy as sa

from tests.bot.api.conftest import TOKEN_KEY, event_count, make_bot, post_events
from tests.support.bot_server import running_server

EVENT = {"occurred_at": "2026-11-10", "event": "call", "user": "U1"}


def kpibot(database, *args: str, **env: str) -> subprocess.CompletedProcess:
    url = database.engine.url.render_as_string(hide_password=False)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KPIBOT_", "SLACK_"))}
    settings = {"DATABASE_URL": url, "KPIBOT_TOKEN_KEY": TOKEN_KEY, **env}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**clean, **settings},
                          capture_output=True, text=True, timeout=60)


def test_create_list_use_and_revoke(database, clock):
    created = kpibot(database, "token", "create", "--workspace", "slack:TCLI", "--name",
                     "zapier")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert re.fullmatch(r"kpi_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", token)
    assert "shown only this once" in created.stderr and token not in created.stderr
    assert "workspace slack:TCLI created" in created.stderr
    with database.engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM api_tokens")).mappings().one()
    assert row["name"] == "zapier" and row["workspace_id"] == "slack:TCLI"
    assert token not in " ".join(str(v) for v in row.values())
    assert row["token_hash"] != token and len(row["token_hash"]) == 64

    listed = kpibot(database, "token", "list")
    assert listed.returncode == 0
    assert re.search(r"slack:TCLI\s+zapier\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+never\s+live",
                     listed.stdout), listed.stdout
    assert token not in listed.stdout and row["token_hash"] not in listed.stdout

    with running_server(make_bot(database, clock)) as base_url:
        assert post_events(base_url, token, {"events": [EVENT]}).status == 200
        used = kpibot(database, "token", "list", "--workspace", "slack:TCLI")
        assert "2026-11-18 14:30 UTC  live" in used.stdout  # last use: the server's clock

        again = kpibot(database, "token", "create", "--workspace", "slack:TCLI", "--name",
                       "zapier")
        assert again.returncode == 2 and "already has a token named zapier" in again.stderr

        revoked = kpibot(database, "token", "revoke", "--workspace", "slack:TCLI", "--name",
                         "zapier")
        assert revoked.returncode == 0 and "get 401" in revoked.stdout
        assert post_events(base_url, token, {"events": [EVENT]}).status == 401

        renewed = kpibot(database, "token", "create", "--workspace", "slack:TCLI", "--name",
                         "zapier")
        assert renewed.returncode == 0 and "workspace slack:TCLI created" not in renewed.stderr
        assert post_events(base_url, renewed.stdout.strip(), {"events": [EVENT]}).status == 200
    assert event_count(database, "slack:TCLI") == 1  # the same event twice: stored once
    final = kpibot(database, "token", "list").stdout
    assert re.search(r"zapier .* revoked \d{4}-", final) and final.count("zapier") == 2


def test_a_token_from_another_key_is_refused(database, clock):
    created = kpibot(database, "token", "create", "--workspace", "slack:TCLI", "--name", "a",
                     KPIBOT_TOKEN_KEY="another-key-of-at-least-32-characters!!")
    token = created.stdout.strip()
    with running_server(make_bot(database, clock)) as base_url:
        assert post_events(base_url, token, {"events": [EVENT]}).status == 401
    assert event_count(database) == 0


def test_mistakes_are_one_clear_line(database):
    cases = [
        (("token", "create", "--workspace", "slack:T1", "--name", "x"),
         {"KPIBOT_TOKEN_KEY": ""}, "missing setting KPIBOT_TOKEN_KEY"),
        (("token", "create", "--workspace", "slack:T1", "--name", "x"),
         {"KPIBOT_TOKEN_KEY": "short"}, "bad setting KPIBOT_TOKEN_KEY: must be at least 32"),
        (("token", "create", "--workspace", "slack:T1", "--name", "no spaces"), {},
         "token name 'no spaces'"),
        (("token", "revoke", "--workspace", "slack:T1", "--name", "ghost"), {},
         "has no live token named ghost"),
    ]
    for args, env, expected in cases:
        result = kpibot(database, *args, **env)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kpibot: ") and expected in lines[0], \
            result.stderr
    assert kpibot(database, "token", "list").stdout.startswith("no API tokens")

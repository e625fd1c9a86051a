"""What start-up imports: the Teams SDK (0.27 s and 22 MiB) only when Teams is configured."""

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
    result = subprocess.run(
        [sys.executable, "-c", PROBE, f"sqlite:///{tmp_path / 'probe.db'}", json.dumps(settings)],
        capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_teams_sdk_without_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path) == []


def test_the_teams_sdk_with_teams_settings(tmp_path):
    assert _sdk_modules(tmp_path, TEAMS_APP_ID="00000000-0000-0000-0000-000000000001",
                        TEAMS_APP_PASSWORD="secret") == ["microsoft_agents"]

"""`webhook=` cannot make the bot send requests into its own network (issue 14, item 9).

A Teams admin configures a digest with `kpi digest here webhook=URL` over real Teams HTTP (JWT,
the local Bot Connector stand-in). Only https URLs on Microsoft's Workflows / Power Automate
hosts are accepted; a host that resolves to a loopback, private, link-local or reserved address
is refused when configured and again at send time (DNS can change), and the reply or the
delivery ledger says why. DNS answers are simulated with an injected resolver: no test traffic
leaves loopback, and a canary server on loopback proves nothing was sent to it.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.digests.channels import TeamsChannel
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.outbound import OutboundPolicy
from bot.wiring import build_bot
from storage import digests as ledger
from tests.bot.teams.test_teams_http import BOSS, _card, _send, _settings
from tests.support.teams import channel_message, running_bot_server

pytestmark = pytest.mark.reliability

SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
GOOD_HOST = "prod-27.westeurope.logic.azure.com"
GOOD_URL = (f"https://{GOOD_HOST}:443/workflows/0a1b/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc123")
NEW_STYLE = ("https://default0a1b.2c.environment.api.powerplatform.com:443/powerautomate/"
             "automations/direct/workflows/0a1b/triggers/manual/paths/invoke?sig=abc")


class Canary:
    """A loopback HTTP server that counts every request it gets (there must be none)."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary():
    server = Canary()
    yield server
    server.close()


def test_webhooks_off_microsofts_hosts_or_on_private_addresses_are_refused(
        database, teams_cloud, clock, canary, figures):
    dns = {GOOD_HOST: ["13.69.0.10"], "default0a1b.2c.environment.api.powerplatform.com":
           ["20.50.0.7"], "prod-99.westus.logic.azure.com": ["127.0.0.1"],
           "prod-98.westus.logic.azure.com": ["10.0.0.5"],
           "prod-97.westus.logic.azure.com": ["169.254.169.254"],
           "prod-96.westus.logic.azure.com": ["13.69.0.11", "::ffff:192.168.1.9"]}
    policy = OutboundPolicy(lookup=lambda host, port: dns[host])
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock,
                    outbound=policy)
    refused = {
        f"http://127.0.0.1:{canary.port}/internal/admin": "must start with https://",
        f"https://127.0.0.1:{canary.port}/internal/admin": "is not a Teams Workflows",
        "https://10.0.0.5/hook": "is not a Teams Workflows",
        "https://169.254.169.254/latest/meta-data": "is not a Teams Workflows",
        "https://evil.example/logic.azure.com/x": "is not a Teams Workflows",
        "https://logic.azure.com.evil.example/x": "is not a Teams Workflows",
        f"https://user:pw@{GOOD_HOST}/workflows/x": "user name or password",
        f"https://{GOOD_HOST}:8443/workflows/x": "port 443",
        "https://prod-99.westus.logic.azure.com/workflows/x": "loopback, private",
        "https://prod-98.westus.logic.azure.com/workflows/x": "loopback, private",
        "https://prod-97.westus.logic.azure.com/workflows/x": "loopback, private",
        "https://prod-96.westus.logic.azure.com/workflows/x": "loopback, private",
    }
    with running_bot_server(bot) as base_url:
        for url, why in refused.items():
            before = len(teams_cloud.connector_calls("reply"))
            _send(teams_cloud, base_url, channel_message(
                f"kpi digest here webhook={url}", service_url=teams_cloud.service_url,
                sender=BOSS))
            reply = str(_card(teams_cloud.connector_calls("reply")[before]))
            assert why in reply and "Nothing was changed" in reply, (url, reply)
        with database.read() as session:
            assert ledger.list_schedules(session=session) == []
        for url in (GOOD_URL, NEW_STYLE):
            before = len(teams_cloud.connector_calls("reply"))
            _send(teams_cloud, base_url, channel_message(
                f"kpi digest here webhook={url}", service_url=teams_cloud.service_url,
                sender=BOSS))
            assert "Digest set" in str(_card(teams_cloud.connector_calls("reply")[before]))
    figures.add(requests_sent=len(refused) + 2, refused=len(refused), canary_hits=len(canary.hits))
    assert canary.hits == []


def test_a_webhook_whose_dns_turns_private_is_refused_at_send_time(database, teams_cloud, clock,
                                                                   canary):
    dns = {GOOD_HOST: ["13.69.0.10"]}
    policy = OutboundPolicy(lookup=lambda host, port: dns[host])
    bot = build_bot(_settings(database, teams_cloud), database=database, clock=clock,
                    outbound=policy)
    with running_bot_server(bot) as base_url:
        _send(teams_cloud, base_url, channel_message(
            f"kpi digest here webhook={GOOD_URL}", service_url=teams_cloud.service_url,
            sender=BOSS))
    with database.read() as session:
        (schedule,) = ledger.list_schedules(session=session)
    dns[GOOD_HOST] = ["127.0.0.1"]  # the name now points into the bot's own network
    deliverer = DigestDeliverer(database=bot.database, channels={"teams": TeamsChannel(bot.teams)},
                                clock=clock, policy=DeliveryPolicy(), worker="ssrf-test")
    outcome = asyncio.run(deliverer.deliver_slot(schedule, SLOT))
    assert outcome.status == "failed" and outcome.attempts == 1
    assert "resolves to a loopback, private" in (outcome.error or "")
    with database.read() as session:
        (row,) = ledger.list_deliveries(session=session)
    assert row.status == "failed" and "127.0.0.1" in (row.error or "")
    assert canary.hits == []

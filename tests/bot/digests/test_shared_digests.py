"""The fan-out composes, renders and draws each identical digest once (bot/digests/shared.py),
against the local Slack stand-in, on SQLite and PostgreSQL. No timing: calls are counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.channels import SlackChannel
from bot.digests.chart_process import ChartProcess
from bot.digests.compose import compose_digest
from bot.digests.delivery import DeliveryPolicy, DigestDeliverer
from bot.digests.shared import SharedDigests
from sampledata import seed_workspace
from storage import digests as ledger
from storage.models import Workspace
from tests.support.statements import executed

SLOT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
WORKSPACES = ("slack:T1", "slack:T2")


class CountingCompose:
    def __init__(self) -> None:
        self.keys: Counter = Counter()

    def __call__(self, **kwargs):
        self.keys[(kwargs["workspace_id"], kwargs["timezone"], kwargs["language"])] += 1
        return compose_digest(**kwargs)


@pytest.fixture
def seeded(database):
    for workspace in WORKSPACES:
        seed_workspace(database=database, workspace_id=workspace, target_events=300,
                       end=SLOT - timedelta(hours=1), timezone="Europe/Oslo", platform="slack")
    return database


def _schedules(database, channels):
    """channels: (workspace, channel, language, timezone) rows -> saved schedules."""
    with database.write() as session:
        return [ledger.save_schedule(
            session=session, workspace_id=workspace, platform="slack", channel_id=channel,
            owner_id="U_OWNER", now=SLOT - timedelta(days=3),
            fields=ledger.ScheduleFields(timezone=tz, language=language))
            for workspace, channel, language, tz in channels]


def _deliverer(database, slack_api, shared):
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
    return DigestDeliverer(database=database,
                           channels={"slack": SlackChannel(client, shared=shared)},
                           clock=lambda: SLOT + timedelta(seconds=5),
                           policy=DeliveryPolicy(channel_interval=0), worker="test",
                           shared=shared)


def test_channels_due_together_share_one_composition_and_one_chart(seeded, slack_api):
    rows = [("slack:T1", f"C1_{i}", "en", "Europe/Oslo") for i in range(4)]
    rows += [("slack:T1", "C1_NB", "nb", "Europe/Oslo"),   # another language
             ("slack:T1", "C1_UTC", "en", "UTC"),          # another time zone
             ("slack:T2", "C2_0", "en", "Europe/Oslo"),    # another workspace
             ("slack:T2", "C2_1", "en", "Europe/Oslo")]
    schedules = _schedules(seeded, rows)
    compose = CountingCompose()
    shared = SharedDigests(compose=compose, charts=ChartProcess())
    deliverer = _deliverer(seeded, slack_api, shared)

    async def fan_out():
        try:
            return await asyncio.gather(*(deliverer.deliver_slot(s, SLOT) for s in schedules))
        finally:
            await shared.close()

    outcomes = asyncio.run(fan_out())
    assert [o.status for o in outcomes] == ["sent"] * len(rows)
    # one composition per distinct (workspace, time zone, language), however many channels
    assert compose.keys == Counter({("slack:T1", "Europe/Oslo", "en"): 1,
                                    ("slack:T1", "Europe/Oslo", "nb"): 1,
                                    ("slack:T1", "UTC", "en"): 1,
                                    ("slack:T2", "Europe/Oslo", "en"): 1})
    assert shared.drawn == shared.charts.drawn == 4  # one per distinct digest, by the child
    posts = {c.channel: c for c in slack_api.calls_to("chat.postMessage")}
    assert sorted(posts) == sorted(channel for _w, channel, _l, _t in rows)  # each once
    assert len(slack_api.calls_to("chat.postMessage")) == len(rows)
    same = {repr(posts[f"C1_{i}"].json_field("blocks")) for i in range(4)}
    assert len(same) == 1  # the shared digest is the same message in every channel
    assert len(slack_api.calls_to("upload")) == len(rows)  # every channel gets its chart


def test_a_changed_history_composes_again(seeded, slack_api):
    first, second = _schedules(seeded, [("slack:T1", "C_A", "en", "Europe/Oslo"),
                                        ("slack:T1", "C_B", "en", "Europe/Oslo")])
    compose = CountingCompose()
    shared = SharedDigests(compose=compose)
    deliverer = _deliverer(seeded, slack_api, shared)

    async def one_then_other():
        await deliverer.deliver_slot(first, SLOT)
        # a backdated write moves the workspace's history_version (storage/workspaces.py)
        with seeded.write() as session:
            session.get(Workspace, "slack:T1").history_version += 1
        await deliverer.deliver_slot(second, SLOT)

    asyncio.run(one_then_other())
    assert compose.keys[("slack:T1", "Europe/Oslo", "en")] == 2


def test_a_remembered_digest_expires_and_a_failure_is_not_remembered(seeded):
    (schedule,) = _schedules(seeded, [("slack:T1", "C_A", "en", "Europe/Oslo")])
    now = [0.0]
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs["workspace_id"])
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return compose_digest(**kwargs)

    shared = SharedDigests(compose=flaky, ttl=60, monotonic=lambda: now[0])

    async def scenario():
        with pytest.raises(RuntimeError):
            await shared.digest(seeded, schedule, SLOT)
        one = await shared.digest(seeded, schedule, SLOT)  # composed again after the failure
        assert await shared.digest(seeded, schedule, SLOT) is one  # remembered
        now[0] = 61.0
        assert await shared.digest(seeded, schedule, SLOT) is not one  # expired
        assert shared.remembered() == 1
        now[0] = 200.0
        deliverer = DigestDeliverer(database=seeded, channels={}, shared=shared,
                                    clock=lambda: SLOT - timedelta(hours=1))
        await deliverer.catch_up()  # the minute tick forgets what is past its ttl
        assert shared.remembered() == 0

    asyncio.run(scenario())
    assert len(calls) == 3


def test_deliveries_in_flight_are_bounded_and_each_channel_still_gets_one(seeded, slack_api):
    channels = [f"C_BOUND_{i}" for i in range(5)]
    schedules = _schedules(seeded, [("slack:T1", c, "en", "Europe/Oslo") for c in channels])
    client = AsyncWebClient(token="xoxb-test", base_url=slack_api.base_url)
    deliverer = DigestDeliverer(database=seeded, channels={"slack": SlackChannel(client)},
                                clock=lambda: SLOT + timedelta(seconds=5), worker="test",
                                policy=DeliveryPolicy(channel_interval=0, concurrency=2))
    held = slack_api.hold("chat.postMessage")

    async def scenario():
        fan_out = asyncio.gather(*(deliverer.deliver_slot(s, SLOT) for s in schedules))
        await asyncio.to_thread(slack_api.wait_held, held, 2)
        await asyncio.sleep(0.3)  # room for more posts to arrive, were they not bounded
        with seeded.read() as session:
            claimed = ledger.list_deliveries(session=session, limit=100)
        in_flight = len(held.held)
        held.release()
        return in_flight, len(claimed), await fan_out

    in_flight, claimed, outcomes = asyncio.run(scenario())
    assert (in_flight, claimed) == (2, 2)  # the others wait unclaimed (no lease running)
    assert [o.status for o in outcomes] == ["sent"] * 5
    assert sorted(c.channel for c in slack_api.calls_to("chat.postMessage")) == channels


def _statements(database, call) -> list[tuple[str, str]]:
    """(statement, its parameters) of every statement `call` runs."""
    with executed(database.engine) as seen:
        call()
    return [(statement, repr(parameters)) for statement, parameters in seen
            if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW"))
            and "set_config(" not in statement]  # PostgreSQL: a read's settings


def test_a_digest_reads_each_fact_once_and_its_other_languages_only_the_names(seeded):
    """Statements per digest: each distinct fact once, no statement twice with the same
    parameters (73 statements in session 5; 49 with the rollups, deals, accounts and quotas
    of a generated history; 51 with the deal counts' and duration histograms' one statement
    per fact, the medians two: the histogram sums, then the values at the ranks), and a
    second language of the same workspace, time zone and slot reads only the workspace and
    its names."""
    book: dict = {}

    def compose(language: str, answers: dict | None):
        return compose_digest(database=seeded, workspace_id="slack:T1", cadence="weekly",
                              timezone="Europe/Oslo", language=language, now=SLOT,
                              answers=answers)

    first = _statements(seeded, lambda: compose("en", book))
    assert len(first) == len(set(first)), [s for s in first if first.count(s) > 1]
    assert len(first) <= 51, len(first)
    nb: list = []
    second = _statements(seeded, lambda: nb.append(compose("nb", book)))
    assert len(second) == 2, second  # the workspace and the display names
    assert nb[0] == compose("nb", None)  # the same digest as composed from scratch


def test_the_fan_out_uses_one_http_session(seeded, slack_api, monkeypatch):
    """Posts and uploads go through one aiohttp session per event loop (the SDK made one per
    call: four per channel), and the scheduler's stop closes it."""
    import aiohttp

    from bot.digests.scheduler import DigestScheduler

    created = []
    real_init = aiohttp.ClientSession.__init__

    def counting_init(self, *args, **kwargs):
        created.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting_init)
    schedules = _schedules(seeded, [("slack:T1", f"C_HTTP{i}", "en", "Europe/Oslo")
                                    for i in range(4)])
    shared = SharedDigests(charts=ChartProcess())
    deliverer = _deliverer(seeded, slack_api, shared)

    async def fan_out():
        outcomes = await asyncio.gather(*(deliverer.deliver_slot(s, SLOT) for s in schedules))
        await DigestScheduler(deliverer).stop()
        return outcomes

    assert [o.status for o in asyncio.run(fan_out())] == ["sent"] * 4
    assert len(slack_api.calls_to("chat.postMessage")) == 4
    assert len(slack_api.calls_to("upload")) == 4
    assert len(created) == 1 and created[0].closed
    assert shared.charts.started == 1 and shared.charts.pid is None  # the chart process too


def test_a_dead_chart_process_is_replaced_and_every_channel_gets_one_chart(seeded, slack_api):
    """The chart process was killed before the fan-out drew anything: a new one draws every
    chart, each channel gets one message and one chart, and the dead one is reaped."""
    import os
    import signal

    rows = [("slack:T1", f"C_DEAD_{i}", "en", "Europe/Oslo") for i in range(3)]
    rows += [("slack:T2", "C_DEAD_T2", "nb", "Europe/Oslo")]
    schedules = _schedules(seeded, rows)
    shared = SharedDigests(charts=ChartProcess())
    deliverer = _deliverer(seeded, slack_api, shared)
    shared.charts.start()
    killed = shared.charts.pid
    os.kill(killed, signal.SIGKILL)
    os.waitid(os.P_PID, killed, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped

    async def fan_out():
        try:
            return await asyncio.gather(*(deliverer.deliver_slot(s, SLOT) for s in schedules))
        finally:
            await shared.close()

    assert [o.status for o in asyncio.run(fan_out())] == ["sent"] * len(rows)
    assert shared.charts.started == 2 and shared.drawn == shared.charts.drawn == 2
    uploads = Counter(c.channel for c in slack_api.calls_to("files.completeUploadExternal"))
    assert uploads == Counter({channel: 1 for _w, channel, _l, _t in rows})
    assert len(set(slack_api.uploads.values())) == 2  # one PNG per digest
    with pytest.raises(ChildProcessError):
        os.waitpid(killed, os.WNOHANG)  # reaped


def test_the_serving_process_never_imports_matplotlib_for_a_fan_out(seeded, slack_api):
    """The charts are drawn by the chart process: in a fresh interpreter, a fan-out with
    charts leaves matplotlib out of the process that delivers (it imported ~45 MiB and drew
    on the delivering process's interpreter lock)."""
    import subprocess
    import sys
    from pathlib import Path

    _schedules(seeded, [("slack:T1", "C_MPL_0", "en", "Europe/Oslo"),
                        ("slack:T1", "C_MPL_1", "en", "Europe/Oslo")])
    code = (
        "import asyncio, sys\n"
        "import sqlalchemy as sa\n"
        "from datetime import timedelta\n"
        "from slack_sdk.web.async_client import AsyncWebClient\n"
        "from bot.digests.channels import SlackChannel\n"
        "from bot.digests.delivery import DeliveryPolicy, DigestDeliverer\n"
        "from bot.digests.chart_process import ChartProcess\n"
        "from bot.digests.shared import SharedDigests\n"
        "from storage.engine import Database\n"
        "from storage.models import DigestSchedule\n"
        "from tests.bot.digests.test_shared_digests import SLOT\n"
        "database = Database.from_url(sys.argv[1])\n"
        "with database.read() as session:\n"
        "    schedules = list(session.execute(sa.select(DigestSchedule)).scalars())\n"
        "    session.expunge_all()\n"
        "shared = SharedDigests(charts=ChartProcess())\n"
        "client = AsyncWebClient(token='xoxb-test', base_url=sys.argv[2])\n"
        "deliverer = DigestDeliverer(database=database, channels={'slack': SlackChannel(\n"
        "    client, shared=shared)}, clock=lambda: SLOT + timedelta(seconds=5),\n"
        "    policy=DeliveryPolicy(channel_interval=0), worker='test', shared=shared)\n"
        "async def fan_out():\n"
        "    outcomes = await asyncio.gather(*(deliverer.deliver_slot(s, SLOT)\n"
        "                                      for s in schedules))\n"
        "    await shared.close()\n"
        "    return outcomes\n"
        "outcomes = asyncio.run(fan_out())\n"
        "print(len(outcomes), shared.charts.drawn, 'matplotlib' in sys.modules)\n")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code, str(seeded.engine.url.render_as_string(
        hide_password=False)), slack_api.base_url], capture_output=True, text=True,
        check=True, cwd=root)
    assert out.stdout.split() == ["2", "1", "False"]
    assert len(slack_api.calls_to("files.completeUploadExternal")) == 2


def test_a_fan_outs_digests_are_forgotten_once_its_deliveries_are_done(seeded, slack_api):
    """Composed once, then not kept: the fan-out's digests, messages and charts left memory
    only at the ttl (5 minutes), so the server's memory grew with every digest of the minute.
    Channels delivered one after the other by the catch-up still share theirs."""
    import gc
    import weakref

    rows = [("slack:T1", f"C_GONE_{i}", "en", "Europe/Oslo") for i in range(3)]
    rows += [("slack:T1", "C_GONE_NB", "nb", "Europe/Oslo"),
             ("slack:T2", "C_GONE_T2", "en", "Europe/Oslo")]
    schedules = _schedules(seeded, rows)
    digests: list[weakref.ref] = []

    class Remembering(CountingCompose):
        def __call__(self, **kwargs):
            digest = super().__call__(**kwargs)
            digests.append(weakref.ref(digest))
            return digest

    compose = Remembering()
    shared = SharedDigests(compose=compose)
    deliverer = _deliverer(seeded, slack_api, shared)

    async def fan_out():
        return await asyncio.gather(*(deliverer.deliver_slot(s, SLOT) for s in schedules))

    assert [o.status for o in asyncio.run(fan_out())] == ["sent"] * len(rows)
    assert sorted(compose.keys.values()) == [1, 1, 1]  # still composed once each
    assert shared.drawn == 3
    assert len(slack_api.calls_to("upload")) == len(rows)  # every channel got its chart
    assert shared.remembered() == 0
    assert (shared._wanted, shared._answers, shared._by_digest) == ({}, {}, {})
    gc.collect()
    assert len(digests) == 3 and [ref() for ref in digests] == [None] * 3

    # one after the other, as the catch-up delivers: held from the start, composed once
    later = SLOT + timedelta(days=7)
    compose.keys.clear()

    async def one_by_one():
        held = [shared.hold(s) for s in schedules[:3]]
        try:
            return [await deliverer.deliver_slot(s, later) for s in schedules[:3]]
        finally:
            for wanted in held:
                shared.release(wanted)

    assert [o.status for o in asyncio.run(one_by_one())] == ["sent"] * 3
    assert compose.keys == Counter({("slack:T1", "Europe/Oslo", "en"): 1})
    assert shared.remembered() == 0

"""Fixtures of the reliability suite: run sizes (short by default, bigger with --long), the bot
served over HTTP, and the figures every test prints and the run summarises."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.reliability.harness import Figures, serving
from tests.support.bot_server import free_port
from tests.support.postgres import (
    ENV_EXTERNAL_URL,
    ENV_REQUIRE,
    PostgresCluster,
    PostgresNotAvailable,
)
from tests.support.teams import teams_cloud  # noqa: F401  (fixture)

_figures: list[Figures] = []
TOTALS = ("requests_sent", "events_stored", "faults_injected", "http_500")


@dataclass(frozen=True)
class Sizes:
    """How much load each test applies."""

    long: bool
    clients: int  # concurrent Slack clients
    requests_per_client: int
    retry_groups: int  # distinct requests delivered 3 times at once
    restart_cycles: int  # database faults injected while clients send
    fuzz_examples: int  # hypothesis examples per fuzz test


SHORT = Sizes(long=False, clients=16, requests_per_client=8, retry_groups=24, restart_cycles=3,
              fuzz_examples=120)
LONG = Sizes(long=True, clients=16, requests_per_client=60, retry_groups=200, restart_cycles=8,
             fuzz_examples=1500)


@pytest.fixture(scope="session")
def sizes(request: pytest.FixtureRequest) -> Sizes:
    return LONG if request.config.getoption("--long") else SHORT


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the module's own, to restart, stop or freeze (not the shared
    one the other tests use)."""
    if os.environ.get(ENV_EXTERNAL_URL):
        pytest.skip(f"{ENV_EXTERNAL_URL} is set: an external server cannot be stopped or frozen")
    try:
        cluster = PostgresCluster(port=free_port(), extra_options=["-c synchronous_commit=on"])
    except PostgresNotAvailable as exc:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(f"PostgreSQL is required ({ENV_REQUIRE}=1) but {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    with cluster:
        yield cluster


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """Add numbers with `figures.add(...)`; printed as one line at the end of the test."""
    recorded = Figures(request.node.name)
    yield recorded
    recorded.finish()
    print("\n" + recorded.line())
    _figures.append(recorded)


@pytest.fixture
def slack_server(database, slack_api) -> Iterator[str]:
    """The bot on `database` (SQLite and PostgreSQL), served over HTTP; yields its base URL."""
    with serving(database, slack_api.base_url) as base_url:
        yield base_url


def pytest_terminal_summary(terminalreporter) -> None:
    if not _figures:
        return
    terminalreporter.section("reliability figures")
    for recorded in _figures:
        terminalreporter.write_line(recorded.line())
    totals = " ".join(f"{name}={sum(f.values.get(name, 0) for f in _figures)}"
                      for name in TOTALS)
    terminalreporter.write_line(f"reliability | total of {len(_figures)} tests | {totals}")

"""Every KPI of the catalog, computed by hand on the golden scenario, matched by the engine."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from reports.kpis.catalog import CATALOG
from storage.models import Deal
from tests.golden.cases import ALL_GROUPS, ENGINE_EXTRAS, SPEC_CATALOG
from tests.golden.scenario import (
    local,
    record_scenario,
)


def test_every_kpi_has_a_hand_computed_answer():
    covered = {case.kpi for cases in ALL_GROUPS.values() for case in cases}
    assert set(SPEC_CATALOG) | set(ENGINE_EXTRAS) <= covered
    assert set(SPEC_CATALOG) <= set(CATALOG), "the engine is missing SPEC KPIs"
    assert set(CATALOG) <= covered, "KPIs without a golden answer: " + ", ".join(
        sorted(set(CATALOG) - covered))


def test_the_scenario_gives_the_documented_deals(database):
    """The storage side of the scenario: each deal's stage times and outcome as tabled above."""
    record_scenario(database, quotas=False)
    expected = {  # key: (outcome, stage, lead, mql, sql, opportunity, demo, won/lost)
        "umbrella": ("won", "won", "07-01 10:00", "07-20 10:00", "07-20 10:00", "07-20 10:00",
                     "07-20 10:00", "07-20 10:00"),
        "initech": ("won", "won", "08-03 10:00", "08-05 10:00", "08-12 10:00", "08-20 10:00",
                    "08-25 10:00", "09-03 10:00"),
        "hooli": ("won", "won", "09-01 10:00", "09-03 10:00", "09-08 10:00", "09-14 10:00",
                  "09-20 10:00", "10-04 10:00"),
        "acme": ("won", "won", "09-10 10:00", "09-15 10:00", "09-27 10:00", "10-01 10:00",
                 "10-06 10:00", "10-20 10:00"),
        "cyberdyne": ("open", "mql", "09-28 00:30", "10-01 00:30", None, None, None, None),
        "globex": ("won", "won", "10-02 10:00", "10-05 10:00", "10-05 10:00", "10-05 10:00",
                   "10-09 10:00", "10-23 10:00"),
        "vandelay": ("lost", "lost", "10-05 10:00", "10-06 10:00", "10-08 10:00", "10-12 10:00",
                     "10-17 10:00", "10-26 10:00"),
        "soylent": ("lost", "lost", "10-07 10:00", "10-09 10:00", None, None, None,
                    "10-21 10:00"),
        "tyrell": ("open", "sql", "10-12 10:00", "10-13 10:00", "10-15 10:00", None, None, None),
        "wayne": ("open", "lead", "10-14 10:00", None, None, None, None, None),
        "wonka": ("open", "opportunity", "10-19 00:30", "10-22 00:30", "10-22 00:30",
                  "10-25 23:30", None, None),
        "stark": ("open", "lead", "10-26 00:30", None, None, None, None, None),
        "oscorp": ("won", "won", "11-02 10:00", "11-10 10:00", "11-10 10:00", "11-10 10:00",
                   "11-10 10:00", "11-10 10:00"),
        "duff": ("open", "lead", "11-18 10:00", None, None, None, None, None),
    }
    with database.read() as session:
        deals = {d.key: d for d in session.scalars(select(Deal)).all()}
    assert set(deals) == set(expected)

    def at(text: str | None) -> datetime | None:
        return local(f"2026-{text}") if text else None

    for key, (outcome, stage, *times) in expected.items():
        deal = deals[key]
        closed = deal.won_at if outcome == "won" else deal.lost_at
        assert (deal.outcome, deal.stage) == (outcome, stage), key
        assert [deal.lead_at, deal.mql_at, deal.sql_at, deal.opportunity_at, deal.demo_at,
                closed] == [at(t) for t in times], key
    assert deals["hooli"].lost_at is None and deals["hooli"].reason is None  # reopened, won
    assert deals["wayne"].amount_minor is None  # the 50,000 win is void
    assert deals["cyberdyne"].source == "other"


@pytest.mark.parametrize("group", sorted(ALL_GROUPS))
def test_kpis_match_the_hand_computation(golden, group):
    golden.check(ALL_GROUPS[group])
    golden.assert_clean()

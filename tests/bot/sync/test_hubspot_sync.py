"""`sync_hubspot` against the stand-in portal (330 deals, two pipelines), on both databases:
the KPIs equal an independent computation from the portal's deals, a second sync adds
nothing, and a change upstream changes exactly the events of the deals it touched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.sync.runner import sync_hubspot
from bot.usecases.kpi import kpi_json
from storage.models import Deal, Event, User, Workspace
from tests.bot.sync.expected import expected_deals, expected_kpis
from tests.support.hubspot_api import hubspot_time

PERIOD = "this-year"


def _sync(database, workspace, client, clock, **kwargs):
    return sync_hubspot(database=database, workspace_id=workspace, client=client, clock=clock,
                        **kwargs)


def _live_keys(database, workspace) -> dict[str, set[str]]:
    """deal key → idempotency keys of its live events."""
    found: dict[str, set[str]] = {}
    with database.read() as session:
        for deal_key, key in session.execute(select(Event.deal_key, Event.idempotency_key).where(
                Event.workspace_id == workspace, Event.voided_at.is_(None))):
            found.setdefault(deal_key, set()).add(key)
    return found


def _kpi(database, workspace, name, now):
    with database.read() as session:
        return kpi_json(session, session.get(Workspace, workspace), name, PERIOD, now=now)


def test_sync_gives_the_kpis_computed_from_the_portal(database, workspace, portal, make_client,
                                                      hub_clock):
    report = _sync(database, workspace, make_client(), hub_clock)
    expected = expected_deals(portal.api)
    assert len(expected) >= 290
    assert report.events_added == sum(d.events for d in expected.values())
    # Legal review (a stage kpibot does not know) and EUR deals are reported, not guessed
    legal = [d for d in portal.api.live_deals() if d.properties["dealstage"] == "7005"]
    assert legal and report.left_out['deal stage "Partner Pipeline/Legal review"'] == len(legal)
    assert report.deals_left_out == len(portal.api.live_deals()) - len(expected)

    with database.read() as session:
        rows = {d.key: d for d in session.scalars(select(Deal).where(
            Deal.workspace_id == workspace)).all()}
        ana = session.get(User, (workspace, "U_ANA"))
        dan = session.get(User, (workspace, "rep:dan-moss"))
    assert set(rows) == set(expected)  # deleted, merged and left-out deals are not there
    for deal_id, want in expected.items():
        row = rows[deal_id]
        assert row.outcome == want.outcome, deal_id
        got = {stage: getattr(row, f"{stage}_at") for stage in want.stage_at}
        assert got == want.stage_at, deal_id
        assert row.amount_minor == want.amount_minor, deal_id
        assert row.owner_id == want.owner, deal_id
        assert row.source == want.source, deal_id
    assert ana.email == "ana@example.com"  # matched by email, not made a named rep
    assert dan.display_name == "Dan Moss" and dan.email == "dan@example.com"

    kpis = expected_kpis(expected)
    won = _kpi(database, workspace, "deals-won", hub_clock())
    assert won["value"] == kpis.won
    revenue = _kpi(database, workspace, "revenue", hub_clock())
    assert revenue["value"] == kpis.revenue_minor
    assert revenue["details"]["wins_without_amount"] == kpis.wins_without_amount > 0
    rate = _kpi(database, workspace, "win-rate", hub_clock())
    assert (rate["numerator"], rate["denominator"]) == (kpis.won, kpis.won + kpis.lost)
    funnel = _kpi(database, workspace, "funnel", hub_clock())
    assert {row["key"]: row["deals"] for row in funnel["rows"]} == kpis.funnel
    stage_time = _kpi(database, workspace, "stage-time", hub_clock())
    for row in stage_time["rows"]:
        assert row["n"] == kpis.stage_n[row["key"]], row["key"]
        assert row["median_days"] == pytest.approx(kpis.stage_median_days[row["key"]],
                                                   abs=1e-6), row["key"]
    cycle = _kpi(database, workspace, "sales-cycle", hub_clock())
    assert cycle["value"] == pytest.approx(kpis.cycle_median_days, abs=1e-6)


def test_a_second_sync_reads_only_changes_and_adds_nothing(database, workspace, portal,
                                                          make_client, hub_clock):
    first = _sync(database, workspace, make_client(), hub_clock)
    before = _live_keys(database, workspace)
    searches = len(portal.api.calls_to("search"))
    second = _sync(database, workspace, make_client(), hub_clock)
    assert (second.events_added, second.events_voided) == (0, 0)
    assert _live_keys(database, workspace) == before
    assert second.deals_read < first.deals_read / 20  # the cursor: only recent changes
    search = portal.api.calls_to("search")[searches]
    since = search.body["filterGroups"][0]["filters"][0]
    assert since["propertyName"] == "hs_lastmodifieddate" and since["operator"] == "GTE"
    assert int(since["value"]) >= int(first.cursor.timestamp() * 1000) - 5 * 60 * 1000


def test_a_change_upstream_changes_exactly_those_deals(database, workspace, portal,
                                                      make_client, hub_clock):
    api = portal.api
    _sync(database, workspace, make_client(), hub_clock)
    before = _live_keys(database, workspace)
    expected = expected_deals(api)
    hub_clock.advance(hours=2)
    # moved back: an open deal in a demo stage of the default pipeline back to Appointment
    moved = next(d for d in expected.values() if d.outcome == "open" and "demo" in d.stage_at
                 and api.deals[d.id].properties["pipeline"] == "default"
                 and "sql" in d.stage_at and d.stage_at["sql"] != d.stage_at["demo"])
    api.update_deal(moved.id, dealstage="appointmentscheduled")
    # a won deal's amount corrected
    repriced = next(d for d in expected.values() if d.outcome == "won" and d.amount_minor)
    api.update_deal(repriced.id, amount="123456.78")
    # one deleted, one merged into another
    deleted = next(d for d in expected.values() if d.id not in (moved.id, repriced.id))
    api.delete_deal(deleted.id)
    secondary, primary = [d for d in expected.values()
                          if d.id not in (moved.id, repriced.id, deleted.id)][:2]
    api.merge_deals(primary.id, secondary.id)

    report = _sync(database, workspace, make_client(), hub_clock)
    after = _live_keys(database, workspace)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {moved.id, repriced.id, deleted.id, secondary.id}
    assert deleted.id not in after and secondary.id not in after
    assert len(after[repriced.id] - before[repriced.id]) == 1  # only the win is restated
    assert report.voided_by_reason == {"changed": 1 + len(before[moved.id] - after[moved.id]),
                                       "deleted": len(before[deleted.id]),
                                       "merged": len(before[secondary.id])}
    with database.read() as session:
        rows = {d.key: d for d in session.scalars(select(Deal).where(
            Deal.workspace_id == workspace)).all()}
        reasons = dict(session.execute(select(Event.deal_key, Event.voided_by).where(
            Event.workspace_id == workspace, Event.deal_key.in_([deleted.id, secondary.id]))
        ).all())
    assert rows[moved.id].stage == "sql" and rows[moved.id].demo_at is None
    assert rows[repriced.id].amount_minor == 12_345_678
    assert rows[repriced.id].won_at == repriced.closed_at  # restated, not won again
    assert deleted.id not in rows and secondary.id not in rows
    assert reasons == {deleted.id: "hubspot:deleted",
                       secondary.id: f"hubspot:merged into {primary.id}"}
    # moving it forward again brings the voided demo back (a new key), once
    hub_clock.advance(hours=1)
    demo_at = hubspot_time(moved.stage_at["demo"])
    api.update_deal(moved.id, dealstage="presentationscheduled",
                    hs_v2_date_entered_presentationscheduled=demo_at)
    again = _sync(database, workspace, make_client(), hub_clock)
    assert again.events_added >= 1
    with database.read() as session:
        row = session.scalars(select(Deal).where(Deal.workspace_id == workspace,
                                              Deal.key == moved.id)).one()
    assert row.stage == "demo" and row.demo_at == moved.stage_at["demo"]
    assert _sync(database, workspace, make_client(), hub_clock).events_added == 0

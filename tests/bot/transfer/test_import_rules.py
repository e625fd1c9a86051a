"""Imports of real marketing and CRM data (SPEC 5 "Owners and amounts", "Time of a dated
record"; SPEC 10 unknown CRM labels): owner-less leads, wins without amounts, date-only first
contacts won the same day, CRM source and stage labels."""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.transfer.columns import parse_source_map, parse_stage_map
from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from storage.facts import SqlFacts
from storage.models import Deal, Workspace

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
NOW = datetime(2026, 11, 18, 17, tzinfo=UTC)

# Source labels a marketing tool writes, and the group each belongs to (SPEC 5), written out
# here rather than taken from the code under test.
SOURCE_GROUPS = {
    "Organic Search": "organic", "Direct Traffic": "direct", "Social Media": "social",
    "Email Marketing": "email", "Paid Social": "social", "Referrals": "referral",
    "Paid Search": "paid-search", "Offline Sources": "other", "Other Campaigns": "other",
    "AI Referrals": "referral", "partner": "partner", "display": "display",
    "spring webinar": "other", "": "other",
}


def _leads_and_wins_file(path: Path, seed: int = 15) -> tuple[Counter, Counter]:
    """8,000 owner-less leads with a date-only first contact and ~840 timestamped wins
    without an amount; returns (leads per group, wins per group) counted from the rows."""
    rng = random.Random(seed)
    labels = sorted(SOURCE_GROUPS)
    leads, wins = Counter(), Counter()
    rows = []
    first_day = date(2026, 1, 5)
    for i in range(8_000):
        deal = f"Prospect {i:05d}"
        label = labels[i % len(labels)]
        contact = first_day + timedelta(days=rng.randrange(0, 300))
        leads[SOURCE_GROUPS[label]] += 1
        rows.append([contact.isoformat(), "lead", "", "", "", deal, "", "", label, "", ""])
        if rng.random() > 0.105 and i != 38:
            continue
        rep = rng.choice(("Ada Lovelace", "Bjorn Borg", "carmen@example.com"))
        wins[SOURCE_GROUPS[label]] += 1
        if i == 38:  # won three days before the lead record (a data-entry quirk)
            won = datetime.combine(contact - timedelta(days=3), time(15, 5))
        elif i % 3 == 0:  # won on the first-contact day, before noon
            won = datetime.combine(contact, time(rng.randrange(0, 11), rng.randrange(60)))
        else:
            won = datetime.combine(contact + timedelta(days=rng.randrange(1, 40)),
                                   time(rng.randrange(8, 18), rng.randrange(60)))
        if won.date() > date(2026, 11, 17):
            won = datetime.combine(date(2026, 11, 17), time(1, 30))
        stamp = won.replace(tzinfo=ZONE).isoformat() if i % 2 else won.strftime("%Y-%m-%d %H:%M")
        rows.append([stamp, "deal-won", "", "", "", deal, "", rep, "", "", ""])
    rng.shuffle(rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANONICAL_COLUMNS)
        writer.writerows(rows)
    return leads, wins


def test_owner_less_leads_and_wins_without_amount_convert_per_source(database, tmp_path):
    path = tmp_path / "marketing.csv"
    leads, wins = _leads_and_wins_file(path)
    assert sum(leads.values()) == 8_000 and 800 <= sum(wins.values()) <= 880
    result = import_csv(database=database, path=path, now=NOW, options=ImportOptions(
        workspace_id="slack:TLEADS", timezone=TZ, currency="USD"))
    assert [str(p) for p in result.problems] == [] and result.stored
    assert result.added == 8_000 + sum(wins.values())
    assert result.unassigned == 8_000
    assert result.deal_outcomes == {"won": sum(wins.values()), "lost": 0,
                                    "open": 8_000 - sum(wins.values())}
    with database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, "slack:TLEADS"))
        period = parse_period("2025-12-01..2026-11-30", now=NOW, tz=TZ)
        kpi = compute_kpi("lead-sources", facts=facts, period=period, now=NOW)
        per_source = {r.key: (r.numerator, r.denominator, r.value) for r in kpi.rows}
        assert per_source == {group: (wins[group], n, wins[group] / n)
                              for group, n in leads.items()}
        assert (kpi.numerator, kpi.denominator) == (sum(wins.values()), 8_000)
        won = compute_kpi("deals-won", facts=facts, period=period, now=NOW)
        assert won.value == sum(wins.values())
        revenue = compute_kpi("revenue", facts=facts, period=period, now=NOW)
        n = sum(wins.values())
        assert revenue.value == 0 and tuple(map(str, revenue.warnings)) == (
            f"{n} of {n} won deals have no amount: revenue counts the 0 with one",)
        cycle = compute_kpi("sales-cycle", facts=facts, period=period, now=NOW)
        assert cycle.denominator == n and cycle.details["median"] >= 0
        quirk = session.scalars(select(Deal).where(Deal.workspace_id == "slack:TLEADS",
                                                Deal.key == "prospect 00038")).one()
        assert quirk.outcome == "won" and quirk.lead_at == quirk.won_at


def _crm_file(path: Path, rows: list[list[str]]) -> Path:
    header = ["Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date", "Amount",
              "Deal owner", "Original Source"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


HUBSPOT_SOURCES = {  # HubSpot "Original Source" labels → the group expected
    "Organic Search": "organic", "Direct Traffic": "direct", "Social Media": "social",
    "Organic Social": "social", "Email Marketing": "email", "Paid Social": "social",
    "Referrals": "referral", "Paid Search": "paid-search", "Offline Sources": "other",
    "Other Campaigns": "other", "AI Referrals": "referral",
}


def test_hubspot_sources_and_stages_map_to_their_groups(database, tmp_path):
    rows = [[str(100 + i), f"Deal {i}", stage, "2026-09-01 10:00", "2026-09-20 10:00",
             "1000" if stage == "Closed Won" else "", "Ada", label]
            for i, (label, stage) in enumerate(
                zip(HUBSPOT_SOURCES, ["Closed Won", "Appointment Scheduled",
                                      "Presentation Scheduled", "Closed Lost",
                                      "Qualified To Buy", "Contract Sent",
                                      "Decision Maker Bought-In", "Closed Won", "Closed Won",
                                      "Appointment Scheduled", "Closed Lost"], strict=True))]
    path = _crm_file(tmp_path / "hubspot.csv", rows)
    result = import_csv(database=database, path=path, now=NOW, options=ImportOptions(
        workspace_id="slack:THUB", preset="hubspot", timezone=TZ))
    assert result.problems == [] and result.stored
    with database.read() as session:
        deals = session.scalars(select(Deal).where(Deal.workspace_id == "slack:THUB")).all()
    assert {d.name: d.source for d in deals} == {
        f"Deal {i}": group for i, group in enumerate(HUBSPOT_SOURCES.values())}


def test_unknown_crm_stage_and_source_are_refused_with_the_known_list_and_the_remedy(
        database, tmp_path):
    rows = [["1", "Acme", "Verbal Yes", "2026-09-01", "", "", "Ada", "Organic Search"],
            ["2", "Globex", "Closed Won", "2026-09-01", "2026-09-09", "500", "Ada",
             "Trade Fair"],
            ["3", "Initech", "Verbal Yes", "2026-09-02", "", "", "Ada", "Trade Fair"]]
    path = _crm_file(tmp_path / "custom.csv", rows)
    options = ImportOptions(workspace_id="slack:TUNK", preset="hubspot", timezone=TZ)
    result = import_csv(database=database, path=path, now=NOW, options=options)
    problems = [str(p) for p in result.problems]
    assert result.refused and len(problems) == 3
    assert problems[0].startswith(
        'line 2: unknown deal stage "Verbal Yes": the HubSpot deals export stages kpibot '
        "knows are Appointment Scheduled, Qualified To Buy, Presentation Scheduled, ")
    assert problems[0].endswith('map it with --stage "Verbal Yes=STAGE" (STAGE one of lead, '
                                "mql, sql, opportunity, demo, won, lost)")
    assert problems[1].startswith(
        'line 3: unknown lead source "Trade Fair": the HubSpot deals export sources kpibot '
        "knows are Organic Search, Paid Search, Email Marketing, ")
    assert problems[1].endswith('map it with --source "Trade Fair=GROUP" (GROUP one of those '
                                'groups), or leave the column out with --map '
                                '"Original Source=-"')
    assert problems[2] == 'line 4: unknown deal stage "Verbal Yes" (see line 2)'
    with database.read() as session:
        assert session.get(Workspace, "slack:TUNK") is None  # nothing stored

    options.stage_map = parse_stage_map(["Verbal Yes=demo"])
    options.source_map = parse_source_map(["Trade Fair=other"])
    result = import_csv(database=database, path=path, now=NOW, options=options)
    assert result.problems == [] and result.stored
    with database.read() as session:
        deals = {d.key: d for d in session.scalars(select(Deal).where(
            Deal.workspace_id == "slack:TUNK"))}
    assert (deals["1"].stage, deals["1"].source) == ("demo", "organic")
    assert (deals["2"].outcome, deals["2"].source) == ("won", "other")


def test_free_text_sources_in_the_events_csv_stay_allowed(database, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n"
                    "2026-10-05,lead,1,,,Acme,,,spring webinar,,\n"
                    "2026-10-06,lead,1,,,Globex,,,Organic Search,,\n", encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW, options=ImportOptions(
        workspace_id="slack:TFREE", timezone=TZ))
    assert result.problems == [] and result.stored
    with database.read() as session:
        deals = {d.key: d.source for d in session.scalars(select(Deal).where(
            Deal.workspace_id == "slack:TFREE"))}
    assert deals == {"acme": "other", "globex": "organic"}


def test_the_team_is_not_a_named_rep_to_link(database, tmp_path):
    import pytest

    from storage.reps import RepError, link_rep, list_named_reps

    path = tmp_path / "events.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n"
                    "2026-10-05,lead,1,,,Acme,,,Organic Search,,\n"
                    "2026-10-05,call,1,,,,,Jane Doe,,,\n", encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW, options=ImportOptions(
        workspace_id="slack:TTEAM", timezone=TZ))
    assert result.problems == [] and result.unassigned == 1
    with database.write() as session:
        assert [r.id for r in list_named_reps(session=session, workspace_id="slack:TTEAM")] \
            == ["rep:jane-doe"]
        with pytest.raises(RepError, match="is the team"):
            link_rep(session=session, workspace_id="slack:TTEAM", rep_id="rep:unassigned",
                     user_id="U1")


def test_slack_revenue_views_say_how_many_wins_have_no_amount(database, tmp_path, slack_api,
                                                               clock):
    import json

    from bot.settings import build_settings
    from bot.wiring import build_bot
    from tests.support.bot_server import running_server
    from tests.support.slack_signing import post_slash_command

    path = tmp_path / "wins.csv"
    path.write_text("occurred_at,event,amount,deal,user,user_id\n"
                    "2026-11-02 10:00,deal-won,1200,Acme,Ana,U_ANA\n"
                    "2026-11-03 10:00,deal-won,,Globex,Ana,U_ANA\n"
                    "2026-11-04 10:00,deal-won,,Initech,Bo,U_BO\n", encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW, options=ImportOptions(
        workspace_id="slack:TWARN", timezone=TZ))
    assert result.problems == [] and result.stored
    url = database.engine.url.render_as_string(hide_password=False)
    settings = build_settings(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-test",
                              SLACK_SIGNING_SECRET="secret", SLACK_API_URL=slack_api.base_url)
    with running_server(build_bot(settings, database=database, clock=clock)) as base_url:
        def ask(text: str) -> str:
            status, body, _ = post_slash_command(base_url, text, secret="secret",
                                                 team_id="TWARN", user_id="U_ANA")
            assert status == 200
            return json.dumps(body, ensure_ascii=False)

        team = "2 of 3 won deals have no amount: revenue counts the 1 with one"
        for text in ("revenue this-month", "avg-deal-size this-month",
                     "leaderboard revenue this-month"):
            assert team in ask(text), text
        assert "1 of 2 won deals have no amount: revenue counts the 1 with one" in ask(
            "me this-month")


def test_a_deals_file_without_a_preset_refuses_a_stage_it_cannot_read(database, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("id,name,stage,created,source\n"
                    "1,Acme,Disqualified,2026-09-01,spring webinar\n"
                    "2,Globex,Negotiation phase,2026-09-01,Organic Search\n", encoding="utf-8")
    options = ImportOptions(workspace_id="slack:TGEN", format="deals", timezone=TZ)
    result = import_csv(database=database, path=path, now=NOW, options=options)
    assert [str(p) for p in result.problems] == [
        'line 2: unknown deal stage "Disqualified": the stages kpibot knows are lead, mql, sql, '
        'opportunity, demo, won, lost; map it with --stage "Disqualified=STAGE" (STAGE one of '
        "lead, mql, sql, opportunity, demo, won, lost)"]
    options.stage_map = parse_stage_map(["Disqualified=sql"])
    result = import_csv(database=database, path=path, now=NOW, options=options)
    assert result.problems == []
    with database.read() as session:
        deals = {d.key: (d.stage, d.source) for d in session.scalars(select(Deal).where(
            Deal.workspace_id == "slack:TGEN"))}
    assert deals == {"1": ("sql", "other"), "2": ("demo", "organic")}

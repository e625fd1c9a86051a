"""CRM deals exports (HubSpot, Salesforce, Pipedrive, custom): imported deals match what an
independent reading of the file says, later exports add only what happened since, and bad deal
rows or missing columns are named."""

from __future__ import annotations

import csv
import io
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bot.transfer.columns import parse_mapping, parse_stage_map
from bot.transfer.problems import ImportRefused
from storage.engine import Database
from storage.models import DailyRollup, Deal, User, Workspace
from tests.bot.transfer.support import (
    DEALS,
    assert_nothing_stored,
    prepare_people,
    run_import,
    write,
)

# ---------------------------------------------------------------------------------------------
# CRM deals exports
# ---------------------------------------------------------------------------------------------

OWNERS = (  # (as written in the CRM, expected user id)
    ("Ada Lovelace", "UADA"), ("bjorn@example.com", "UBJORN"),
    ("Carmen Díaz", "rep:carmen-diaz"), ("dev@example.com", "rep:dev-example-com"),
    ("", "rep:unassigned"),
)

STAGES = {  # preset → (won label, lost label, [(open label, kpibot stage)])
    "hubspot": ("Closed Won", "Closed Lost", [
        ("Appointment Scheduled", "sql"), ("Qualified To Buy", "sql"),
        ("Presentation Scheduled", "demo"), ("Decision Maker Bought-In", "demo"),
        ("Contract Sent", "demo"), ("Verbal Yes", "opportunity")]),
    "salesforce": ("Closed Won", "Closed Lost", [
        ("Prospecting", "sql"), ("Qualification", "sql"), ("Needs Analysis", "opportunity"),
        ("Value Proposition", "demo"), ("Proposal/Price Quote", "demo"),
        ("Negotiation/Review", "demo")]),
    "pipedrive": ("", "", [
        ("Qualified", "sql"), ("Contact Made", "opportunity"), ("Demo Scheduled", "demo"),
        ("Proposal Made", "demo"), ("Negotiations Started", "demo")]),
    "custom": ("Won", "Lost", [
        ("New", "lead"), ("MQL", "mql"), ("SQL", "sql"), ("Demo", "demo"),
        ("Verbal", "demo"), ("Discovery", "opportunity")]),
}


@dataclass
class CrmDeal:
    id: str
    name: str
    owner: str
    owner_id: str
    account: str
    outcome: str
    stage_label: str
    stage: str  # expected kpibot stage for open deals
    created: datetime  # local, naive
    closed: datetime | None
    amount: int | None  # cents
    reason: str
    source: str


def crm_deals(seed: int, n: int = 300) -> list[CrmDeal]:
    rng = random.Random(seed)
    start = datetime(2025, 11, 1, 9, 0)
    deals = []
    for i in range(n):
        owner, owner_id = rng.choice(OWNERS)
        created = start + timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(0, 600))
        outcome = rng.choices(("won", "lost", "open"), (35, 30, 35))[0]
        closed = None
        if outcome != "open":
            closed = created + timedelta(days=rng.randrange(0, 90), minutes=rng.randrange(0, 500))
            if closed > datetime(2026, 11, 17):
                outcome, closed = "open", None
        amount = rng.randrange(1_000, 90_000) * 100 + rng.choice((0, 0, 50))
        if outcome == "open" and rng.random() < 0.5 or outcome == "lost" and rng.random() < 0.3:
            amount = None
        deals.append(CrmDeal(
            id=str(9_000_000 + i * 7), name=f"{rng.choice(DEALS)} – renewal {i}", owner=owner,
            owner_id=owner_id, account="" if rng.random() < 0.15 else rng.choice(DEALS),
            outcome=outcome, stage_label="", stage="opportunity", created=created,
            closed=closed, amount=amount,
            reason=rng.choice(("Price", "Timing", "Went with Contoso")) if outcome == "lost"
            else "", source=rng.choice(("Organic Search", "Referrals", "Paid Search", ""))))
    return deals


def _with_stages(deals: list[CrmDeal], preset: str, seed: int) -> list[CrmDeal]:
    rng = random.Random(seed)
    won, lost, open_stages = STAGES[preset]
    for d in deals:
        label, stage = rng.choice(open_stages)
        if d.outcome == "open":
            d.stage_label, d.stage = label, stage
        elif preset == "pipedrive":
            d.stage_label = label  # Pipedrive keeps the pipeline stage of closed deals
        else:
            d.stage_label = won if d.outcome == "won" else lost
    return deals


def _money(cents: int | None, style: str) -> str:
    if cents is None:
        return ""
    whole, part = divmod(cents, 100)
    if style == "plain":
        return f"{whole}.{part:02d}" if part else str(whole)
    if style == "dollars":
        return f"${whole:,}.{part:02d}"
    if style == "comma":
        return f"{whole:,}".replace(",", " ") + f",{part:02d}"
    raise AssertionError(style)


def write_crm_file(tmp_path: Path, preset: str, deals: list[CrmDeal], rng: random.Random):
    """A file shaped like the CRM's export; returns (path, how to read it back independently)."""
    expected_close = datetime(2027, 2, 1)  # open deals' expected close date, in the future
    if preset == "hubspot":
        header = ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Close Date", "Deal owner",
                  "Amount", "Create Date", "Associated Company", "Deal Type",
                  "Closed Lost Reason", "Original Source Type", "Last Modified Date"]
        fmt = "%Y-%m-%d %H:%M"
        rows = [[d.id, d.name, "Sales Pipeline", d.stage_label,
                 (d.closed or expected_close).strftime(fmt), d.owner, _money(d.amount, "plain"),
                 d.created.strftime(fmt), d.account, "newbusiness", d.reason, d.source,
                 "2026-11-17 08:00"] for d in deals]
        delimiter, newline, encoding = ",", "\r\n", "utf-8"
        columns = {"id": 0, "stage": 3, "close": 4, "amount": 6, "created": 7}
    elif preset == "salesforce":
        header = ["Opportunity Owner", "Account Name", "Opportunity Name", "Stage", "Fiscal Period",
                  "Amount", "Amount Currency", "Probability (%)", "Age", "Close Date",
                  "Created Date", "Next Step", "Lead Source", "Type", "Opportunity ID"]
        fmt = "%m/%d/%Y"
        rows = [[d.owner, d.account, d.name, d.stage_label, "Q3-2026",
                 _money(d.amount, "dollars"), "USD", "10", "33",
                 (d.closed or expected_close).strftime(fmt), d.created.strftime(fmt), "",
                 d.source, "New Customer", d.id] for d in deals]
        delimiter, newline, encoding = ",", "\n", "utf-8"
        columns = {"id": 14, "stage": 3, "close": 9, "amount": 5, "created": 10}
    elif preset == "pipedrive":
        header = ["Deal - ID", "Deal - Title", "Deal - Creator", "Deal - Owner", "Deal - Value",
                  "Deal - Currency", "Deal - Organization", "Deal - Pipeline", "Deal - Stage",
                  "Deal - Status", "Deal - Deal created", "Deal - Update time",
                  "Deal - Won time", "Deal - Lost time", "Deal - Lost reason",
                  "Deal - Expected close date", "Deal - Source origin"]
        fmt = "%Y-%m-%d %H:%M:%S"

        def when(d, outcome):
            return d.closed.strftime(fmt) if d.outcome == outcome else ""

        rows = [[d.id, d.name, "Admin", d.owner, _money(d.amount, "comma"), "USD", d.account,
                 "Sales", d.stage_label, d.outcome, d.created.strftime(fmt),
                 "2026-11-17 08:00:00", when(d, "won"), when(d, "lost"), d.reason,
                 expected_close.strftime("%Y-%m-%d"), d.source] for d in deals]
        rows.append([str(1), "Deleted one", "Admin", "Ada Lovelace", "100", "USD", "", "Sales",
                     "Qualified", "deleted", "2026-01-05 10:00:00", "", "", "", "", "", ""])
        delimiter, newline, encoding = ";", "\r\n", "utf-8-sig"
        columns = {"id": 0, "status": 9, "won": 12, "lost": 13, "amount": 4, "created": 10}
    else:  # a homemade spreadsheet read with --map
        header = ["Opp Ref", "Title", "Rep", "Client", "Phase", "Opened", "Closed On",
                  "Value (USD)", "Channel", "Why lost"]
        fmt = "%d/%m/%Y"
        rows = [[f"OPP-{d.id}", d.name, d.owner, d.account, d.stage_label,
                 d.created.strftime(fmt), d.closed.strftime(fmt) if d.closed else "",
                 _money(d.amount, "plain"), d.source, d.reason] for d in deals]
        delimiter, newline, encoding = ",", "\n", "utf-8"
        columns = {"id": 0, "stage": 4, "close": 6, "amount": 7, "created": 5}
    rng.shuffle(rows)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
    path = tmp_path / f"{preset}.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    return path, (fmt, delimiter, encoding, columns)


def independent_stats(path: Path, how, tz: ZoneInfo) -> dict:
    """Win rate, revenue, average deal size and sales cycle straight from the CSV rows."""
    fmt, delimiter, encoding, c = how
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))[1:]

    def instant(text: str) -> datetime:
        parsed = datetime.strptime(text, fmt)
        if "%H" not in fmt:
            parsed = datetime.combine(parsed.date(), time(12))
        return parsed.replace(tzinfo=tz).astimezone(UTC)

    def cents(text: str) -> int:
        digits = text.replace("$", "").replace(",", ".") if delimiter == ";" else \
            text.replace("$", "").replace(",", "")
        return round(float(digits.replace(" ", "")) * 100)

    won, lost, cycles = [], 0, []
    for row in rows:
        if "status" in c:
            status = row[c["status"]]
            if status == "deleted":
                continue
            close = row[c["won"]] or row[c["lost"]]
        else:
            status = {"closed won": "won", "won": "won", "closed lost": "lost",
                      "lost": "lost"}.get(row[c["stage"]].lower(), "open")
            close = row[c["close"]]
        if status == "won":
            won.append(cents(row[c["amount"]]))
            cycles.append((instant(close) - instant(row[c["created"]])).total_seconds() / 86400)
        elif status == "lost":
            lost += 1
    return {"won": len(won), "lost": lost, "win_rate": len(won) / (len(won) + lost),
            "revenue": sum(won), "avg_deal": sum(won) / len(won),
            "cycle_median": statistics.median(cycles), "cycle_mean": statistics.fmean(cycles)}


def db_stats(database: Database, workspace_id: str) -> dict:
    with database.read() as session:
        deals = session.scalars(select(Deal).where(Deal.workspace_id == workspace_id)).all()
    won = [d for d in deals if d.outcome == "won"]
    lost = [d for d in deals if d.outcome == "lost"]
    cycles = [(d.won_at - d.first_event_at).total_seconds() / 86400 for d in won]
    return {"won": len(won), "lost": len(lost), "win_rate": len(won) / (len(won) + len(lost)),
            "revenue": sum(d.amount_minor for d in won),
            "avg_deal": sum(d.amount_minor for d in won) / len(won),
            "cycle_median": statistics.median(cycles), "cycle_mean": statistics.fmean(cycles)}


CRM_SEEDS = {"hubspot": 1, "salesforce": 2, "pipedrive": 3, "custom": 4}
CRM_CASES = {
    "hubspot": {"preset": "hubspot", "stage_map": parse_stage_map(["Verbal Yes=opportunity"])},
    "salesforce": {"preset": "salesforce"},
    "pipedrive": {"preset": "pipedrive"},
    "custom": {"format": "deals",
               "mapping": parse_mapping(["Opp Ref=id", "Title=name", "Rep=owner",
                                         "Client=account", "Phase=stage", "Opened=created",
                                         "Closed On=close_date", "Value (USD)=amount",
                                         "Channel=source", "Why lost=reason"]),
               "stage_map": parse_stage_map(["Verbal=demo"])},
}


@pytest.mark.parametrize("crm", sorted(CRM_CASES))
def test_crm_deals_export_imports_and_kpis_match(database, tmp_path, crm):
    tz = "America/New_York" if crm == "salesforce" else "Europe/Oslo"
    rng = random.Random(f"file:{crm}")
    deals = _with_stages(crm_deals(seed=CRM_SEEDS[crm]), crm, seed=5)
    prepare_people(database, "slack:TCRM")
    with database.write() as session:
        session.get(Workspace, "slack:TCRM").timezone = tz
        bjorn = session.get(User, ("slack:TCRM", "UBJORN"))
        bjorn.email = "bjorn@example.com"
        session.add(bjorn)
    path, how = write_crm_file(tmp_path, crm, deals, rng)

    result = run_import(database, path, "slack:TCRM", **CRM_CASES[crm])
    assert result.problems == [], result.problems[:5]
    assert result.rows == len(deals) + (crm == "pipedrive")
    if crm == "pipedrive":
        assert result.notes == ["1 deleted deal(s) left out"]

    expected = independent_stats(path, how, ZoneInfo(tz))
    got = db_stats(database, "slack:TCRM")
    assert got["won"] == expected["won"] > 50 and got["lost"] == expected["lost"] > 50
    assert got["win_rate"] == expected["win_rate"]
    assert got["revenue"] == expected["revenue"]
    assert got["avg_deal"] == pytest.approx(expected["avg_deal"], abs=1e-6)
    assert got["cycle_median"] == pytest.approx(expected["cycle_median"], abs=1e-6)
    assert got["cycle_mean"] == pytest.approx(expected["cycle_mean"], abs=1e-6)

    # every deal is there, with its owner, account and (open deals) current stage
    with database.read() as session:
        stored = {d.name: d for d in session.scalars(
            select(Deal).where(Deal.workspace_id == "slack:TCRM")).all()}
    assert len(stored) == len(deals)
    for d in deals:
        row = stored[d.name]
        assert row.owner_id == d.owner_id
        assert row.outcome == d.outcome
        assert row.account_key == ((d.account.casefold() if d.account else None) or row.key)
        if d.outcome == "open":
            assert row.stage == d.stage, (d.stage_label, row.stage)
        if d.outcome == "lost" and crm != "salesforce":  # (no loss reason in that report)
            assert row.reason == (d.reason or None)
    # the rollups agree with the deals: revenue by day sums to the same total
    with database.read() as session:
        revenue = session.execute(sa.select(sa.func.sum(DailyRollup.amount_sum)).where(
            DailyRollup.workspace_id == "slack:TCRM", DailyRollup.kind == "deal-won")
        ).scalar_one()
    assert revenue == expected["revenue"]

    # importing the same export again adds nothing
    again = run_import(database, path, "slack:TCRM", **CRM_CASES[crm])
    assert again.added == 0 and again.already_stored == result.added


def test_a_later_crm_export_adds_only_what_happened_since(database, tmp_path):
    deals = _with_stages(crm_deals(seed=11, n=60), "hubspot", seed=2)
    for d in deals:  # first export: everything still open
        d.outcome, d.closed, d.stage_label, d.stage = "open", None, "Qualified To Buy", "sql"
    path, _ = write_crm_file(tmp_path, "hubspot", deals, random.Random(1))
    first = run_import(database, path, "slack:THS", preset="hubspot")
    assert first.added == 60
    deals[0].outcome, deals[0].stage_label = "won", "Closed Won"
    deals[0].closed, deals[0].amount = deals[0].created + timedelta(days=9), 1_000_000
    later, _ = write_crm_file(tmp_path, "hubspot", deals, random.Random(2))
    second = run_import(database, later, "slack:THS", preset="hubspot")
    assert (second.added, second.already_stored) == (2, 59)  # opportunity + deal-won
    with database.read() as session:
        deal = session.scalars(select(Deal).where(Deal.workspace_id == "slack:THS",
                                               Deal.key == deals[0].id)).one()
    assert deal.outcome == "won" and deal.amount_minor == 1_000_000


def test_bad_deal_rows_are_named(database, tmp_path):
    text = ("Record ID,Deal Name,Deal Stage,Create Date,Close Date,Amount,Deal owner\n"
            "1,Acme,Closed Won,2026-01-05,2026-02-01,,Ada\n"
            "2,Globex,Closed Lost,2026-01-05,,,Ada\n"
            "3,Initech,Closed Won,2026-03-05,2026-02-01,100,Ada\n"
            "4,Umbrella,Qualified To Buy,not a date,,,Ada\n"
            "5,Hooli,Closed Won,2026-01-05,2026-02-01,5 EUR,Ada\n"
            "6,Good,Closed Won,2026-01-05,2026-02-01,5,Ada\n"
            "6,Good again,Closed Won,2026-01-05,2026-02-01,5,Ada\n"
            "7,Open,Presentation Scheduled,2026-01-05,2027-06-01,,Ada\n")
    result = run_import(database, write(tmp_path, text), "slack:TDB", preset="hubspot")
    assert [str(p) for p in result.problems] == [  # line 2: a win of unknown amount is fine
        "line 3: lost deal has no close date",
        'line 4: close date "2026-02-01" is before the created date "2026-03-05"',
        'line 5: created date "not a date" is not a date (write it like 2026-10-05 or '
        "2026-10-05 14:30)",
        'line 6: amount "5 EUR" is in EUR; this workspace counts in USD (convert it first)',
        'line 8: deal "6" repeats line 7',
    ]
    assert result.refused
    assert_nothing_stored(database, "slack:TDB")


def test_missing_deal_columns_name_the_crm_column(database, tmp_path):
    path = write(tmp_path, "Record ID,Deal Name,Deal Stage,Amount\n1,Acme,Closed Won,5\n")
    with pytest.raises(ImportRefused, match='missing required column created .the created '
                       'date. \\("Create Date" in a HubSpot deals export\\)'):
        run_import(database, path, "slack:TDB", preset="hubspot")

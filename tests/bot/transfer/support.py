"""What the transfer tests share: snapshots of what the KPIs read (events, rollups, deals,
accounts, every catalog KPI), files written for an import, and a rich handmade history (every
kind, every field, awkward text). Also used by tests/bot/test_transfer_cli.py."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bot.transfer.export import export_events
from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from reports.events import KINDS, OPTION_KINDS, normalize_source
from storage.engine import Database
from storage.models import DailyRollup, Deal, Event, User, Workspace
from storage.recording import NewEvent, record_events, void_event
from storage.workspaces import ensure_user, ensure_workspace

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # the `clock` fixture's Wednesday

# ---------------------------------------------------------------------------------------------
# Snapshots of what the KPIs read: events, rollups, deals (helpers also used by other tests)
# ---------------------------------------------------------------------------------------------

EVENT_TUPLE = ("kind", "count", "amount_minor", "currency", "duration_seconds", "mrr_minor",
               "deal_key", "deal_name", "account_key", "user_id", "source", "source_raw",
               "reason", "competitor", "note", "occurred_at")


def event_tuples(database: Database, workspace_id: str, *, keys: bool = True,
                 include_void: bool = True) -> list[tuple]:
    with database.read() as session:
        query = select(Event).where(Event.workspace_id == workspace_id)
        if not include_void:
            query = query.where(Event.voided_at.is_(None))
        rows = session.scalars(query).all()
    out = []
    for e in rows:
        row = tuple(getattr(e, name) for name in EVENT_TUPLE) + (e.voided_at is not None,)
        out.append(row + ((e.idempotency_key,) if keys else ()))
    return sorted(out, key=repr)


def rollup_rows(database: Database, workspace_id: str) -> list[tuple]:
    with database.read() as session:
        rows = session.scalars(select(DailyRollup).where(DailyRollup.workspace_id == workspace_id,
                                                      DailyRollup.events != 0)).all()
    return sorted((r.day, r.kind, r.user_id, r.source, r.events, r.count_sum, r.amount_sum,
                   r.duration_sum) for r in rows)


DEAL_COLUMNS = [c.name for c in Deal.__table__.columns
                if c.name not in ("id", "workspace_id", "updated_at")]


def deal_rows(database: Database, workspace_id: str) -> list[tuple]:
    with database.read() as session:
        rows = session.scalars(select(Deal).where(Deal.workspace_id == workspace_id)).all()
    return sorted((tuple(getattr(d, c) for c in DEAL_COLUMNS) for d in rows), key=repr)


def account_rows(database: Database, workspace_id: str) -> list[tuple]:
    """The accounts table (customers, churn, MRR), when the schema has it."""
    models = pytest.importorskip("storage.models")
    account = getattr(models, "Account", None)
    if account is None:
        return []
    columns = [c.name for c in account.__table__.columns
               if c.name not in ("workspace_id", "updated_at")]
    with database.read() as session:
        rows = session.scalars(select(account).where(account.workspace_id == workspace_id)).all()
    return sorted((tuple(getattr(r, c) for c in columns) for r in rows), key=repr)


def kpi_snapshot(database: Database, workspace_id: str,
                 periods=("2026-Q3", "last-month", "90d", "ytd")) -> dict:
    """Every catalog KPI over several periods, as JSON (workspace id left out)."""
    import importlib

    catalog = pytest.importorskip("reports.kpis.catalog")
    sql_facts = None
    for module in ("storage.facts", "storage.kpi_facts"):
        try:
            sql_facts = getattr(importlib.import_module(module), "SqlFacts", None)
        except ModuleNotFoundError:
            continue
        if sql_facts is not None:
            break
    if sql_facts is None:
        pytest.skip("no SqlFacts in storage yet")
    from reports.periods import parse_period

    out = {}
    with database.read() as session:
        workspace = session.get(Workspace, workspace_id)
        facts = sql_facts(session=session, workspace=workspace)
        for label in periods:
            period = parse_period(label, now=NOW, tz=workspace.timezone,
                                  fiscal_year_start=workspace.fiscal_year_start)
            for name in catalog.CATALOG:
                result = catalog.compute_kpi(name, facts=facts, period=period, now=NOW)
                data = result.to_json()
                data.pop("workspace")
                out[label, name] = data
    return out


def count_events(database: Database, workspace_id: str | None = None) -> int:
    with database.read() as session:
        query = sa.select(sa.func.count()).select_from(Event)
        if workspace_id:
            query = query.where(Event.workspace_id == workspace_id)
        return session.execute(query).scalar_one()


def workspace_exists(database: Database, workspace_id: str) -> bool:
    with database.read() as session:
        return session.get(Workspace, workspace_id) is not None


def users(database: Database, workspace_id: str) -> dict[str, tuple]:
    with database.read() as session:
        rows = session.scalars(select(User).where(User.workspace_id == workspace_id)).all()
    return {u.id: (u.display_name, u.email) for u in rows}


def export_text(database: Database, workspace_id: str, *, include_void: bool = False,
                currency: str = "USD") -> str:
    out = io.StringIO()
    export_events(database=database, out=out, workspace_id=workspace_id, currency=currency,
                  include_void=include_void, chunk_size=97)
    return out.getvalue()


def write(tmp_path: Path, text: str, name: str = "in.csv", *, encoding: str = "utf-8",
          newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\r\n", "\n").replace("\n", newline).encode(encoding))
    return path


def run_import(database: Database, path: Path, workspace_id: str, **kw):
    kw.setdefault("timezone", "Europe/Oslo")
    kw.setdefault("currency", "USD")
    return import_csv(database=database, path=path, now=NOW,
                      options=ImportOptions(workspace_id=workspace_id, **kw))


# ---------------------------------------------------------------------------------------------
# A rich, handmade history: every kind, every field, awkward text
# ---------------------------------------------------------------------------------------------

AWKWARD_NOTES = ("=SUM(A1:A3)", "-5 calls left", "+1 from Bo", "@here look", "'quoted",
                 "''=x", 'she said "yes, next week"; fine', "Ørsted · 王伟 · naïve", "tab\there")
DEALS = ("Acme Corp", "Ørsted AS", "O'Brien & Sons, Ltd.", "王伟贸易", "=cmd|' /C calc'!A0",
         "Globex")
RAW_SOURCES = ("webinar", "LinkedIn", "paid-search", "Referral", "seo", "partner")


def rich_events(seed: int = 3, n: int = 400) -> list[NewEvent]:
    rng = random.Random(seed)
    people = ["UADA", "UBJORN", "UNONAME", "rep:jane-doe"]
    kinds = sorted(KINDS)
    events = []
    for i in range(n):
        spec = KINDS[kinds[i % len(kinds)]]
        at = NOW - timedelta(days=rng.uniform(1, 200))
        if rng.random() < 0.5:
            at = at.replace(microsecond=0)
        fields: dict = {}
        if spec.amount != "none" and (spec.amount != "optional" or rng.random() < 0.6):
            minor = rng.randrange(1, 5_000_000)
            if spec.amount == "signed" and rng.random() < 0.5:
                minor = -minor
            fields.update(amount_minor=minor, currency="USD")
        if spec.duration:
            fields["duration_seconds"] = rng.randrange(0, 20_000)
        if spec.amount == "none" and not spec.duration:
            fields["count"] = rng.randrange(1, 60)
        if spec.needs_deal or rng.random() < 0.3:
            name = rng.choice(DEALS)
            if rng.random() < 0.15:  # a CRM-imported deal: key is not the name case-folded
                fields.update(deal_key=f"crm-{rng.randrange(100, 110)}", deal_name=name)
            else:
                fields.update(deal_key=name.casefold(), deal_name=name)
        if rng.random() < 0.3:
            fields["account_key"] = rng.choice(DEALS).casefold()
        if spec.name in OPTION_KINDS["source"] and rng.random() < 0.7:
            raw = rng.choice(RAW_SOURCES)
            fields.update(source=normalize_source(raw), source_raw=raw)
        if spec.name in OPTION_KINDS["reason"] and rng.random() < 0.8:
            fields["reason"] = rng.choice(("price", "timing", "no decision, budget"))
        if spec.name in OPTION_KINDS["competitor"] and rng.random() < 0.5:
            fields["competitor"] = rng.choice(("Contoso", "-Rival"))
        if spec.name in OPTION_KINDS["mrr"] and rng.random() < 0.6:
            fields["mrr_minor"] = rng.randrange(100, 100_000)
        if rng.random() < 0.3:
            fields["note"] = " ".join(rng.choice(AWKWARD_NOTES).split())
        user = rng.choice(people)
        events.append(NewEvent(kind=spec.name, user_id=user, logged_by=user, occurred_at=at,
                               idempotency_key=f"slack:trigger-{seed}-{i}", **fields))
    # two identical events (same content, different keys), as two chat messages would make
    twin = NewEvent(kind="call", user_id="UADA", logged_by="UADA", count=3,
                    occurred_at=NOW - timedelta(days=3, hours=2), idempotency_key="slack:t-a")
    events += [twin, NewEvent(**{**twin.__dict__, "idempotency_key": "slack:t-b"})]
    return events


def seed_rich(database: Database, workspace_id: str, *, voids: int = 5,
              timezone: str = "Europe/Oslo") -> None:
    with database.write() as session:
        workspace = ensure_workspace(session=session, workspace_id=workspace_id,
                                     platform="slack", timezone=timezone, currency="USD",
                                     now=NOW - timedelta(days=400))
        ensure_user(session=session, workspace_id=workspace_id, user_id="UADA",
                    display_name="Ada Lovelace")
        ensure_user(session=session, workspace_id=workspace_id, user_id="UBJORN",
                    display_name="Bjørn Ødegård")
        ensure_user(session=session, workspace_id=workspace_id, user_id="UNONAME")
        ensure_user(session=session, workspace_id=workspace_id, user_id="rep:jane-doe",
                    display_name="Jane Doe")
        record_events(session=session, workspace=workspace, new_events=rich_events(),
                      now=NOW)
        ids = session.scalars(select(Event.id).where(Event.workspace_id == workspace_id)
                           .order_by(Event.id)).all()
        for event_id in ids[::max(1, len(ids) // voids)][:voids]:
            void_event(session=session, workspace=workspace, event_id=event_id,
                       voided_by="UADA", now=NOW - timedelta(hours=1))


CANONICAL_ROWS = [
    # occurred_at, event, count, amount, currency, deal, account, user, source, reason, note
    ("2026-10-05 14:30", "call", "12", "", "", "", "", "Ada Lovelace", "", "", "left voicemail"),
    ("2026-10-05", "deal-won", "", "12000.50", "USD", "Acme Corp", "acme", "ada@example.com",
     "", "", "=big one"),
    ("2026-10-06T08:15:00+00:00", "deal-lost", "", "", "", "Globex", "", "Bjørn Ødegård", "",
     "price", "we; lost"),
    ("2026-10-07 09:00", "lead", "", "", "", "Initech", "", "Jane Doe", "webinar", "", ""),
    ("2026-10-08 10:00", "mrr-change", "", "-200", "", "Acme Corp", "", "Ada Lovelace", "", "",
     ""),
    ("2026-10-09 11:00", "spend", "", "5000", "USD", "", "", "ada@example.com", "paid-search",
     "", ""),
]


def canonical_csv(rows, *, delimiter=",", decimal=".", dates="iso") -> str:
    """An events CSV of `rows` (canonical columns) in another delimiter, decimal or dates."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(CANONICAL_COLUMNS)
    for row in rows:
        row = list(row)
        if decimal == ",":
            row[3] = row[3].replace(".", ",")
        if dates == "dots" and "T" not in row[0]:
            day = date.fromisoformat(row[0][:10])
            row[0] = day.strftime("%d.%m.%Y") + row[0][10:]
        writer.writerow(row)
    return out.getvalue()


def prepare_people(database: Database, workspace_id: str) -> None:
    """A workspace where Ada (with her email) and Bjørn are chat users."""
    with database.write() as session:
        ensure_workspace(session=session, workspace_id=workspace_id, platform="slack",
                         timezone="Europe/Oslo", currency="USD", now=NOW)
        ada = ensure_user(session=session, workspace_id=workspace_id, user_id="UADA",
                          display_name="Ada Lovelace")
        ada.email = "ada@example.com"
        session.add(ada)
        ensure_user(session=session, workspace_id=workspace_id, user_id="UBJORN",
                    display_name="Bjørn Ødegård")


HEADER = ",".join(CANONICAL_COLUMNS)


def assert_nothing_stored(database: Database, workspace_id: str) -> None:
    assert count_events(database) == 0
    assert not workspace_exists(database, workspace_id)
    with database.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0

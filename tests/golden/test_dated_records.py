"""An events CSV as a marketing tool and a CRM would give it (Europe/Oslo; dates without a
time are stored at local noon):

  deal    records                                            hand-computed deal
  Kappa   lead 10-05 (date only, no rep, Organic Search);    won 10-05 02:10, 9,000, ana; the
          won 10-05 02:10 by ana, 9,000                      lead (noon by the clock) is taken
                                                             first: lead_at 02:10, cycle 0 days
  Lambda  won 10-08 14:00 by bo, no amount; lead 10-09       won 10-08 14:00 (the late lead
          (date only, no rep, Referrals)                     keeps it won), amount unknown, bo,
                                                             source referral, cycle 0 days
  Mu      lead 10-06 (date only, no rep, Paid Social)        open at lead, Unassigned, social
  Nu      lead 10-01 10:00 siv (Direct Traffic); opp 10-10   won 10-20 11:00, no amount, ana,
          10:00 ana; won 10-20 11:00 ana, no amount          cycle 19 d 1 h = 19.0417 days
  Xi      lead 10-13 (date only, no rep, "webinar");         lost 10-13 09:00, bo, source other
          lost 10-13 09:00 by bo (timing)                    (free text)
  -       spend 10-01 (date only, no rep) 2,000 paid-search; website-visit 300 (no rep)

October 2026: deals won 3 (ana 2, bo 1); revenue 9,000 (2 of 3 wins have no amount: every
revenue view says so); average deal size 9,000 / 1 = 9,000; win rate 3 / 4 = 75%; leads 5;
lead sources: direct 1/1, organic 1/1, referral 1/1, social 0/1, other 0/1 (3 of 5 won); sales
cycle median 0 days, mean 19.0417 / 3 = 6.3472 days; cost per lead 2,000 / 5 = 400; website
visits 300. Six records have no rep: they are the team's, "Unassigned" per rep. The import
leaves 3 won, 1 lost, 1 open and changes no outcome.

A later file: an opportunity for Nu on 10-25 10:00 reopens it (won → open, listed by the
import); an sql for Kappa on 10-26 is a late record (Kappa stays won). In chat, `/kpi log lead
Omicron on 2026-10-27` (local noon) after a win at 01:30 that day leaves Omicron won.


Dated records, owners and amounts (SPEC 5 "Time of a dated record", "Owners and amounts").
"""

from __future__ import annotations

import math

from sqlalchemy import select

from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from storage.facts import SqlFacts
from storage.models import Deal, User, Workspace
from storage.recording import NewEvent, record_event
from tests.golden.scenario import (
    NOW,
    TZ,
    local,
    usd,
)

DATED_WORKSPACE = "slack:TGOLDENDATES"
DATED_CSV = """occurred_at,event,count,amount,currency,deal,account,user,source,reason,note
2026-10-01,spend,1,2000,,,,,paid-search,,
2026-10-01 10:00,lead,1,,,Nu,,Siv,Direct Traffic,,
2026-10-02 09:00,website-visit,300,,,,,,,,
2026-10-05,lead,1,,,Kappa,,,Organic Search,,
2026-10-05 02:10,deal-won,1,9000,,Kappa,,Ana,,,
2026-10-06,lead,1,,,Mu,,,Paid Social,,
2026-10-08 14:00,deal-won,1,,,Lambda,,Bo,,,
2026-10-09,lead,1,,,Lambda,,,Referrals,,
2026-10-10 10:00,opportunity,1,,,Nu,,Ana,,,
2026-10-13,lead,1,,,Xi,,,webinar,,
2026-10-13 09:00,deal-lost,1,,,Xi,,Bo,,timing,
2026-10-20 11:00,deal-won,1,,,Nu,,Ana,,,
"""


DATED_LATER_CSV = """occurred_at,event,count,amount,currency,deal,account,user,source,reason,note
2026-10-25 10:00,opportunity,1,,,Nu,,Ana,,,
2026-10-26,sql,1,,,Kappa,,Ana,,,
"""


def test_dated_records_owners_and_amounts_hand_computed(database, tmp_path):
    from bot.transfer.importer import ImportOptions, import_csv

    path = tmp_path / "dated.csv"
    path.write_text(DATED_CSV, encoding="utf-8")
    options = ImportOptions(workspace_id=DATED_WORKSPACE, timezone=TZ, currency="USD")
    result = import_csv(database=database, path=path, options=options, now=NOW)
    assert result.problems == [] and result.stored and result.added == 12
    assert result.deal_outcomes == {"won": 3, "lost": 1, "open": 1}
    assert result.changed_outcomes == [] and result.unassigned == 6

    with database.read() as session:
        deals = {d.key: d for d in session.scalars(select(Deal).where(
            Deal.workspace_id == DATED_WORKSPACE))}
        assert {k: (d.outcome, d.owner_id, d.source, d.amount_minor) for k, d in deals.items()} \
            == {"kappa": ("won", "rep:ana", "organic", usd(9_000)),
                "lambda": ("won", "rep:bo", "referral", None),
                "mu": ("open", "rep:unassigned", "social", None),
                "nu": ("won", "rep:ana", "direct", None),
                "xi": ("lost", "rep:bo", "other", None)}
        assert deals["kappa"].won_at == deals["kappa"].lead_at == local("2026-10-05 02:10")
        assert deals["lambda"].lead_at == deals["lambda"].won_at == local("2026-10-08 14:00")
        facts = SqlFacts(session=session, workspace=session.get(Workspace, DATED_WORKSPACE))
        october = parse_period("2026-10", now=NOW, tz=TZ)

        def kpi(name):
            return compute_kpi(name, facts=facts, period=october, now=NOW)

        won = kpi("deals-won")
        assert won.value == 3 and {r.key: r.value for r in won.rows} == {"rep:ana": 2,
                                                                         "rep:bo": 1}
        revenue = kpi("revenue")
        warning = "2 of 3 won deals have no amount: revenue counts the 1 with one"
        assert revenue.value == usd(9_000) and tuple(map(str, revenue.warnings)) == (warning,)
        assert revenue.details["wins_without_amount"] == 2
        size = kpi("avg-deal-size")
        assert (size.value, size.denominator) == (usd(9_000), 1)
        assert tuple(map(str, size.warnings)) == (warning,)
        assert kpi("win-rate").value == 0.75
        assert kpi("leads").value == 5
        sources = kpi("lead-sources")
        assert {r.key: (r.numerator, r.denominator) for r in sources.rows} == {
            "direct": (1, 1), "organic": (1, 1), "referral": (1, 1), "social": (0, 1),
            "other": (0, 1)}
        assert (sources.numerator, sources.denominator) == (3, 5)
        cycle = kpi("sales-cycle")
        assert cycle.value == 0 and cycle.denominator == 3
        assert math.isclose(cycle.details["mean"], (19 + 1 / 24) / 3, abs_tol=1e-6)
        assert kpi("cpl").value == usd(400)
        assert kpi("website-visits").value == 300
        per_rep = facts.event_sums(("lead", "spend", "website-visit"), october.start,
                                   october.end, by="user")
        assert {user: s.events for user, s in per_rep.items()} == {"rep:unassigned": 6,
                                                                     "rep:siv": 1}
        names = dict(session.execute(select(User.id, User.display_name).where(
            User.workspace_id == DATED_WORKSPACE)).all())
        assert names["rep:unassigned"] == "Unassigned"

    later = tmp_path / "later.csv"
    later.write_text(DATED_LATER_CSV, encoding="utf-8")
    again = import_csv(database=database, path=later, options=options, now=NOW)
    assert again.problems == [] and again.added == 2
    assert again.changed_outcomes == [("Nu", "won", "open")]
    assert again.deal_outcomes == {"won": 1, "lost": 0, "open": 1}  # Kappa won, Nu open

    with database.write() as session:  # `/kpi log lead Omicron on 2026-10-27` after a win
        workspace = session.get(Workspace, DATED_WORKSPACE)
        for n, (kind, at, amount) in enumerate((("deal-won", local("2026-10-27 01:30"), 5_000),
                                                ("lead", local("2026-10-27 12:00"), None))):
            record_event(session=session, workspace=workspace, new=NewEvent(
                kind=kind, user_id="rep:ana", logged_by="rep:ana", occurred_at=at,
                idempotency_key=f"chat:{n}", deal_key="omicron", deal_name="Omicron",
                amount_minor=usd(amount) if amount else None,
                currency="USD" if amount else None))
    with database.read() as session:
        omicron = session.scalars(select(Deal).where(Deal.workspace_id == DATED_WORKSPACE,
                                                  Deal.key == "omicron")).one()
        assert (omicron.outcome, omicron.won_at) == ("won", local("2026-10-27 01:30"))

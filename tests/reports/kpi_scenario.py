"""The hand-computed KPI scenario on the in-memory reference Facts, and helpers to ask it.

The scenario (all times UTC, 10:00 unless noted, year 2026; workspace time zone UTC). Reps:
ana (UANA, AE), bo (UBO, AE), cy (UCY, SDR), mgr (UMGR: web, spend). NOW = Sat Nov 21 10:00.
Amounts and MRR are in cents. Quotas: ana revenue 30,000/month, bo revenue 10,000/month,
cy demo-booked 3/month.

Deals (stage times after the SPEC 5 rules; owner = rep of the last stage event):
  deal      source       lead   mql    sql    opp    demo   outcome                     owner
  Umbrella  partner      07-01  07-20  07-20  07-20  07-20  won 07-20 (6,000 mrr 500),  bo
                                                            churned 10-16 (mrr 500)
  Initech   organic      08-03  08-05  08-12  08-20  08-25  won 09-03 (30,000 mrr 2,500) ana
                                                            mrr-change -500 on 10-14
  Acme      referral     09-10  09-15  09-27  10-01  10-06  won 10-20 (24,000 mrr 2,000) ana
  Globex    paid-search  10-02  10-05* 10-05* 10-05  10-09  won 10-23 (12,000 mrr 1,000) bo
                                                            churned 10-29 (mrr 1,000)
  Vandelay  organic      10-05  10-06  10-08  10-12  10-17  lost 10-26 (competitor,     bo
                                                            northwind)
  Soylent   social       10-07  10-09                       lost 10-21 (price)          bo
  Tyrell    organic      10-12  10-13  10-15                open at sql                 cy
  Wayne     organic      10-14                              open at lead                cy
  Wonka     direct       10-19  10-25* 10-25* 10-25         open at opportunity         bo
  Oscorp    referral     11-02  11-10* 11-10* 11-10* 11-10* won 11-10 (8,000 mrr 700)   ana
  Duff      organic      11-18 09:00                        open at lead                cy
  (* skipped stage: reached with the next reached stage, zero time in it)

October activity: ana email-sent 100 / delivered 90 / opened 45 / clicked 9 / replied 6 /
bounced 10 / spam 1, calls 10, meetings booked 3 held 2, demos held 1, discovery 2;
bo email-sent 50 / delivered 50 / opened 10 / clicked 1 / replied 4, calls 20, meetings booked
2 held 2, demos held 1, discovery 1; cy connection sent 40 / accepted 10 / replied 5,
demo-request 4 / replied 3, inbound-request 4, inbound-responded 60 s, 180 s, 7,200 s;
mgr website-visit 1,000 / bounce 400 / cta-click 50 / social-engagement 80, spend 3,000
(paid-search) + 2,000 (social). Not counted: ana's 999 emails on Sep 30 23:59 and ana's
voided 99 calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reports.kpis.catalog import (
    compute_kpi,
)
from reports.kpis.facts import Quota
from reports.kpis.result import KpiResult
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts

ANA, BO, CY, MGR = "UANA", "UBO", "UCY", "UMGR"
NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)
DAY = 86_400.0
ANY: Any = object()


def t(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def usd(major: float) -> int:
    return round(major * 100)


def deal(kind, when, user, name, **kw) -> Ev:
    return Ev(kind, when, user, name, **kw)


SCENARIO = [
    # --- deals
    deal("lead", t(7, 1), CY, "Umbrella", source="partner"),
    deal("deal-won", t(7, 20), BO, "Umbrella", amount=usd(6_000), mrr=usd(500)),
    deal("churned", t(10, 16), BO, "Umbrella", mrr=usd(500)),
    deal("lead", t(8, 3), CY, "Initech", source="organic"),
    deal("mql", t(8, 5), CY, "Initech"),
    deal("sql", t(8, 12), CY, "Initech"),
    deal("opportunity", t(8, 20), ANA, "Initech"),
    deal("demo-booked", t(8, 25), CY, "Initech"),
    deal("deal-won", t(9, 3), ANA, "Initech", amount=usd(30_000), mrr=usd(2_500)),
    deal("mrr-change", t(10, 14), ANA, "Initech", amount=usd(-500)),
    deal("lead", t(9, 10), CY, "Acme", source="referral"),
    deal("mql", t(9, 15), CY, "Acme"),
    deal("sql", t(9, 27), CY, "Acme"),
    deal("opportunity", t(10, 1), ANA, "Acme"),
    deal("demo-booked", t(10, 6), CY, "Acme"),
    deal("deal-won", t(10, 20), ANA, "Acme", amount=usd(24_000), mrr=usd(2_000)),
    deal("lead", t(10, 2), CY, "Globex", source="paid-search"),
    deal("opportunity", t(10, 5), BO, "Globex"),
    deal("demo-booked", t(10, 9), CY, "Globex"),
    deal("deal-won", t(10, 23), BO, "Globex", amount=usd(12_000), mrr=usd(1_000)),
    deal("churned", t(10, 29), BO, "Globex", mrr=usd(1_000)),
    deal("lead", t(10, 5), CY, "Vandelay", source="organic"),
    deal("mql", t(10, 6), CY, "Vandelay"),
    deal("sql", t(10, 8), CY, "Vandelay"),
    deal("opportunity", t(10, 12), BO, "Vandelay"),
    deal("demo-booked", t(10, 17), CY, "Vandelay"),
    deal("deal-lost", t(10, 26), BO, "Vandelay", reason="competitor", competitor="northwind"),
    deal("lead", t(10, 7), CY, "Soylent", source="social"),
    deal("mql", t(10, 9), CY, "Soylent"),
    deal("deal-lost", t(10, 21), BO, "Soylent", reason="price"),
    deal("lead", t(10, 12), CY, "Tyrell", source="organic"),
    deal("mql", t(10, 13), CY, "Tyrell"),
    deal("sql", t(10, 15), CY, "Tyrell"),
    deal("lead", t(10, 14), CY, "Wayne", source="organic"),
    deal("lead", t(10, 19), CY, "Wonka", source="direct"),
    deal("opportunity", t(10, 25), BO, "Wonka"),
    deal("lead", t(11, 2), CY, "Oscorp", source="referral"),
    deal("deal-won", t(11, 10), ANA, "Oscorp", amount=usd(8_000), mrr=usd(700)),
    deal("lead", t(11, 18, 9), CY, "Duff", source="organic"),
    # --- outreach and activity (October)
    Ev("email-sent", t(9, 30, 23, 59), ANA, count=999),  # September: never in October
    Ev("email-sent", t(10, 5, 9), ANA, count=100),
    Ev("email-delivered", t(10, 5, 9), ANA, count=90),
    Ev("email-opened", t(10, 5, 14), ANA, count=45),
    Ev("email-clicked", t(10, 5, 14), ANA, count=9),
    Ev("email-replied", t(10, 5, 15), ANA, count=6),
    Ev("email-bounced", t(10, 5, 9), ANA, count=10),
    Ev("spam-complaint", t(10, 6), ANA),
    Ev("email-sent", t(10, 5, 9), BO, count=50),
    Ev("email-delivered", t(10, 5, 9), BO, count=50),
    Ev("email-opened", t(10, 5, 14), BO, count=10),
    Ev("email-clicked", t(10, 5, 14), BO, count=1),
    Ev("email-replied", t(10, 5, 15), BO, count=4),
    Ev("call", t(10, 7), ANA, count=10),
    Ev("call", t(10, 7, 16), ANA, count=99, void=True),
    Ev("call", t(10, 8), BO, count=20),
    Ev("meeting-booked", t(10, 10), ANA, count=3),
    Ev("meeting-booked", t(10, 11), BO, count=2),
    Ev("meeting-held", t(10, 12), ANA, count=2),
    Ev("meeting-held", t(10, 13), BO, count=2),
    Ev("demo-held", t(10, 8), ANA),
    Ev("demo-held", t(10, 11), BO),
    Ev("discovery-booked", t(10, 15), ANA, count=2),
    Ev("discovery-booked", t(10, 15), BO),
    Ev("demo-request", t(10, 12, 12), CY, count=4),
    Ev("demo-request-replied", t(10, 12, 13), CY, count=3),
    Ev("connection-sent", t(10, 9), CY, count=40),
    Ev("connection-accepted", t(10, 10), CY, count=10),
    Ev("connection-replied", t(10, 11), CY, count=5),
    Ev("website-visit", t(10, 3), MGR, count=1_000),
    Ev("website-bounce", t(10, 3), MGR, count=400),
    Ev("cta-click", t(10, 3), MGR, count=50),
    Ev("social-engagement", t(10, 3), MGR, count=80),
    Ev("spend", t(10, 1, 9), MGR, amount=usd(3_000), source="paid-search"),
    Ev("spend", t(10, 1, 9), MGR, amount=usd(2_000), source="social"),
    Ev("inbound-request", t(10, 7, 9), CY),
    Ev("inbound-responded", t(10, 7, 9, 1), CY, duration=60),
    Ev("inbound-request", t(10, 13, 9), CY),
    Ev("inbound-responded", t(10, 13, 9, 3), CY, duration=180),
    Ev("inbound-request", t(10, 16, 9), CY),
    Ev("inbound-responded", t(10, 16, 11), CY, duration=7_200),
    Ev("inbound-request", t(10, 28, 9), CY),  # never answered
]
QUOTAS = [Quota(ANA, "revenue", "monthly", usd(30_000)),
          Quota(BO, "revenue", "monthly", usd(10_000)),
          Quota(CY, "demo-booked", "monthly", 3)]
FACTS = FakeFacts(SCENARIO, QUOTAS)
EMPTY = FakeFacts()
OCT, NOV, Q4 = "2026-10", "2026-11", "2026-Q4"
# Nov 1 00:00 -> NOW (Nov 21 10:00) = 20 days 10 hours = 490 of the month's 720 hours
NOV_ELAPSED = 490 / 720


def period(text: str):
    return parse_period(text, now=NOW, tz="UTC")


def kpi(name: str, when: str = OCT, *, facts=FACTS, user=None, options=None) -> KpiResult:
    return compute_kpi(name, facts=facts, period=period(when), now=NOW, user=user,
                       options=options)


def rows(result: KpiResult) -> dict[str, Any]:
    return {row.key: row for row in result.rows}


def approx(value):
    return value if value is None or value is ANY else pytest.approx(value, rel=1e-12)

"""The golden scenario: every KPI of the catalog, computed by hand, matched by the engine.

A small sales team in Europe/Oslo (fiscal year from April: fiscal_year_start=4), USD. Three reps
and a manager: ana (AE, UANA), bo (AE, UBO), siv (SDR, USIV), mgr (manager, UMGR: spend, web).
Quotas (set 2026-09-25): ana revenue 30,000/month, bo revenue 15,000/month, siv demo-booked
3/month. "Now" is Sat 2026-11-21 12:00 CET (11:00 UTC). The events, in local time (2026):

 #  when (2026, Oslo) who what                   deal        amount  details; notes
  1 Wed 07-01 10:00  siv lead                   Umbrella           source=partner
  2 Mon 07-20 10:00  bo  deal-won               Umbrella    6,000  mrr=500; skips mql..demo
  3 Mon 08-03 10:00  siv lead                   Initech            source=organic
  4 Wed 08-05 10:00  siv mql                    Initech
  5 Wed 08-12 10:00  siv sql                    Initech
  6 Thu 08-20 10:00  ana opportunity            Initech
  7 Tue 08-25 10:00  siv demo-booked            Initech
  8 Tue 09-01 10:00  siv lead                   Hooli              source=email
  9 Thu 09-03 10:00  ana deal-won               Initech    30,000  mrr=2,500
 10 Thu 09-03 10:00  siv mql                    Hooli
 11 Tue 09-08 10:00  siv sql                    Hooli
 12 Thu 09-10 10:00  siv lead                   Acme               source=referral
 13 Mon 09-14 10:00  ana opportunity            Hooli
 14 Tue 09-15 10:00  siv mql                    Acme
 15 Sun 09-20 10:00  siv demo-booked            Hooli
 16 Sun 09-27 10:00  siv sql                    Acme
 17 Mon 09-28 00:30  siv lead                   Cyberdyne          source=webinar
                                                                BACKDATED: logged Oct 3
 18 Mon 09-28 10:00  ana deal-lost              Hooli              reason=price vs contoso
                                                                superseded (reopened)
 19 Thu 10-01 00:30  siv mql                    Cyberdyne          Sep 30 22:30 UTC
 20 Thu 10-01 09:00  mgr spend                              3,000  source=paid-search
 21 Thu 10-01 09:00  mgr spend                              1,000  source=social
 22 Thu 10-01 09:00  mgr spend                              1,000  source=display
 23 Thu 10-01 10:00  ana opportunity            Acme       20,000
 24 Fri 10-02 10:00  siv lead                   Globex             source=paid-search
 25 Fri 10-02 11:00  ana opportunity            Hooli              REOPENS Hooli
 26 Fri 10-02 12:00  bo  call 4                                    BACKDATED 4 days
 27 Sat 10-03 23:50  mgr website-visit 1,000                       source=organic
 28 Sat 10-03 23:50  mgr website-bounce 400
 29 Sat 10-03 23:50  mgr cta-click 30
 30 Sat 10-03 23:50  mgr social-engagement 50
 31 Sun 10-04 10:00  ana deal-won               Hooli      18,000  no mrr
 32 Mon 10-05 09:00  siv email-sent 200
 33 Mon 10-05 09:00  siv email-delivered 192
 34 Mon 10-05 09:00  siv email-bounced 8
 35 Mon 10-05 10:00  siv lead                   Vandelay           source=organic
 36 Mon 10-05 10:00  bo  opportunity            Globex             skips mql, sql
 37 Mon 10-05 14:00  siv email-opened 90
 38 Mon 10-05 14:00  siv email-clicked 12
 39 Mon 10-05 14:00  siv email-replied 8
 40 Mon 10-05 14:00  siv spam-complaint
 41 Tue 10-06 10:00  siv mql                    Vandelay
 42 Tue 10-06 10:00  siv demo-booked            Acme
 43 Tue 10-06 11:00  siv meeting-booked         Vandelay
 44 Wed 10-07 09:00  siv inbound-request
 45 Wed 10-07 09:01  siv inbound-responded                         60s
 46 Wed 10-07 10:00  siv lead                   Soylent            source=social
 47 Thu 10-08 10:00  siv sql                    Vandelay
 48 Thu 10-08 10:00  ana demo-held              Acme
 49 Thu 10-08 10:30  siv discovery-booked       Vandelay
 50 Thu 10-08 11:00  bo  meeting-held           Vandelay
 51 Fri 10-09 10:00  siv mql                    Soylent
 52 Fri 10-09 10:00  siv demo-booked            Globex
 53 Fri 10-09 15:00  siv connection-sent 40
 54 Sat 10-10 15:00  siv connection-accepted 12
 55 Sun 10-11 10:00  bo  demo-held              Globex
 56 Sun 10-11 15:00  siv connection-replied 3
 57 Mon 10-12 10:00  siv lead                   Tyrell             source=organic
 58 Mon 10-12 10:00  bo  opportunity            Vandelay
 59 Mon 10-12 11:00  ana proposal               Acme       24,000
 60 Mon 10-12 12:00  siv demo-request 4
 61 Mon 10-12 13:00  siv demo-request-replied 3
 62 Tue 10-13 09:00  siv inbound-request
 63 Tue 10-13 09:03  siv inbound-responded                         180s; = the 3 min target
 64 Tue 10-13 10:00  siv mql                    Tyrell
 65 Tue 10-13 11:00  siv meeting-booked         Tyrell
 66 Wed 10-14 10:00  siv lead                   Wayne              source=organic
 67 Wed 10-14 10:00  ana mrr-change             Initech      -500  downgrade
 68 Wed 10-14 11:00  siv meeting-booked         Wayne
 69 Thu 10-15 10:00  siv sql                    Tyrell
 70 Thu 10-15 10:30  siv discovery-booked       Tyrell
 71 Fri 10-16 09:00  siv inbound-request
 72 Fri 10-16 09:03  siv inbound-responded                         200s
 73 Fri 10-16 10:00  bo  churned                Umbrella           mrr=500; a customer at Oct 1
 74 Fri 10-16 11:00  ana meeting-held           Tyrell
 75 Sat 10-17 10:00  siv demo-booked            Vandelay
 76 Sun 10-18 23:30  siv call 7                                    W42: 21:30 UTC
 77 Mon 10-19 00:30  siv lead                   Wonka              source=direct
                                                                W43: 22:30 UTC Sun
 78 Mon 10-19 00:30  siv call 5                                    W43: 22:30 UTC Sun
 79 Mon 10-19 11:00  ana meeting-held           Wayne
 80 Tue 10-20 09:00  ana email-sent 50
 81 Tue 10-20 09:00  ana email-delivered 48
 82 Tue 10-20 09:00  ana email-bounced 2
 83 Tue 10-20 10:00  ana deal-won               Acme       24,000  mrr=2,000
 84 Tue 10-20 11:00  siv meeting-booked         Soylent            no-show
 85 Tue 10-20 15:00  ana email-opened 18
 86 Tue 10-20 15:00  ana email-replied 2
 87 Tue 10-20 15:00  ana spam-complaint
 88 Tue 10-20 23:50  mgr website-visit 500                         source=paid-search
 89 Tue 10-20 23:50  mgr website-bounce 200
 90 Tue 10-20 23:50  mgr cta-click 15
 91 Tue 10-20 23:50  mgr social-engagement 30
 92 Wed 10-21 09:00  siv inbound-request
 93 Wed 10-21 09:04  siv inbound-responded                         240s
 94 Wed 10-21 10:00  ana deal-lost              Soylent            reason=timing
 95 Wed 10-21 16:00  ana call 10                                   VOIDED
 96 Thu 10-22 00:30  siv sql                    Wonka              skips mql
 97 Thu 10-22 11:00  siv meeting-booked         Wonka
 98 Thu 10-22 16:00  ana call 6
 99 Fri 10-23 10:00  bo  deal-won               Globex     12,000  mrr=1,000
100 Sun 10-25 23:30  bo  opportunity            Wonka              CET: 22:30 UTC
101 Sun 10-25 23:30  bo  call 3                                    W43: 22:30 UTC
102 Mon 10-26 00:30  siv lead                   Stark              source=partner
                                                                W44: 23:30 UTC Sun
103 Mon 10-26 00:30  bo  call 11                                   W44: 23:30 UTC Sun
104 Mon 10-26 10:00  bo  deal-lost              Vandelay           reason=competitor vs northwind
105 Mon 10-26 11:00  bo  meeting-held           Wonka
106 Tue 10-27 09:00  siv inbound-request
107 Tue 10-27 11:00  siv inbound-responded                         7200s; 2 hours
108 Wed 10-28 09:00  siv inbound-request                           never answered
109 Thu 10-29 10:00  bo  churned                Globex             mrr=1,000
                                                                won + churned in Oct
110 Fri 10-30 10:00  ana deal-won               Wayne      50,000  VOIDED
111 Mon 11-02 10:00  siv lead                   Oscorp             source=referral
112 Tue 11-10 10:00  ana deal-won               Oscorp      8,000  mrr=700; skips mql..demo
113 Wed 11-18 10:00  siv lead                   Duff               source=organic

Amounts are USD (minor units in the database). Deal names are case-folded into keys ("acme").

The deals after the stage rules (SPEC 5: a stage's time is its first event, a skipped stage is
reached with the next reached stage, a reopened deal counts once by its final outcome); a deal's
owner is the rep of its last stage event:

  deal       source       lead   mql    sql    opp    demo   outcome                   owner
  Umbrella   partner      07-01  07-20  07-20  07-20  07-20  won 07-20 (6,000),        bo
                                                             churned 10-16
  Initech    organic      08-03  08-05  08-12  08-20  08-25  won 09-03 (30,000)        ana
  Hooli      email        09-01  09-03  09-08  09-14  09-20  won 10-04 (18,000)        ana
                          (lost 09-28 is superseded by the reopen 10-02 and the win 10-04)
  Acme       referral     09-10  09-15  09-27  10-01  10-06  won 10-20 (24,000)        ana
  Cyberdyne  other        09-28* 10-01*                      open at mql               siv
  Globex     paid-search  10-02  10-05  10-05  10-05  10-09  won 10-23 (12,000),       bo
                                                             churned 10-29
  Vandelay   organic      10-05  10-06  10-08  10-12  10-17  lost 10-26 (competitor)   bo
  Soylent    social       10-07  10-09                       lost 10-21 (timing)       ana
  Tyrell     organic      10-12  10-13  10-15                open at sql               siv
  Wayne      organic      10-14                              open at lead (void win)   siv
  Wonka      direct       10-19* 10-22* 10-22* 10-25*        open at opportunity       bo
  Stark      partner      10-26*                             open at lead              siv
  Oscorp     referral     11-02  11-10  11-10  11-10  11-10  won 11-10 (8,000)         ana
  Duff       organic      11-18                              open at lead              siv
  (* = a time near midnight, see the table; every other stage event is at 10:00 local.)

Periods (Europe/Oslo; start included, end excluded), as UTC instants:
  2026-10     2026-09-30 22:00 .. 2026-10-31 23:00   (CEST until the 25th, then CET)
  2026-W43    2026-10-18 22:00 .. 2026-10-25 23:00   (Mon 19 .. Sun 25 Oct: the DST week,
                                                      169 hours long)
  2027-Q3     2026-09-30 22:00 .. 2026-12-31 23:00   (fiscal: a fiscal year is named by the
                                                      year it ends in (reports/periods.py), so
                                                      FY2027 = Apr 2026 .. Mar 2027 and its Q3
                                                      is October-December 2026)
  2027-Q2     2026-06-30 22:00 .. 2026-09-30 22:00   (fiscal Q2 = calendar Q3: Jul-Sep 2026)
  2026-09     2026-08-31 22:00 .. 2026-09-30 22:00
  2026-06     an empty month: every rate is n/a (None), every count 0.

Traps: the calls at 23:30 / 00:30 either side of W43 (a UTC week or a fixed +02:00 offset counts
the wrong ones); Cyberdyne's mql at 00:30 on Oct 1 is September in UTC; the void call and the
void 50,000 win; the backdated lead (logged in October, counted in September) and backdated call;
Hooli's September loss, which no longer counts; Globex, won and churned inside October; stage
skips that give zero-length stays; a 25-hour day inside week 43.

Medians of an even count are the mean of the two middle values; every p90 below is the same
under linear interpolation and nearest rank (the top values are equal), so the expected values
do not depend on the percentile method. Days are (UTC instant difference) / 86,400 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports.events import normalize_source
from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_event, void_event
from storage.workspaces import ensure_user, ensure_workspace

TZ = "Europe/Oslo"
OSLO = ZoneInfo(TZ)
FISCAL_YEAR_START = 4
WORKSPACE = "slack:TGOLDEN"
USERS = {"ana": ("UANA", "Ana (AE)"), "bo": ("UBO", "Bo (AE)"), "siv": ("USIV", "Siv (SDR)"),
         "mgr": ("UMGR", "Manager")}
ANA, BO, SIV = "UANA", "UBO", "USIV"
DAY = 86_400.0


def local(text: str) -> datetime:
    """A wall-clock time in Oslo ("2026-10-25 23:30") as a UTC instant."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=OSLO).astimezone(UTC)


def usd(major: float) -> int:
    """Money in minor units (cents), as facts and KPI results carry it."""
    return round(major * 100)


NOW = local("2026-11-21 12:00")  # Saturday, 11:00 UTC


@dataclass(frozen=True)
class Row:
    when: str  # local (Europe/Oslo) wall-clock time
    who: str
    kind: str
    deal: str | None = None
    count: int = 1
    amount: int | None = None  # major units
    mrr: int | None = None  # major units
    duration: int | None = None  # seconds
    source: str | None = None
    reason: str | None = None
    competitor: str | None = None
    logged: str | None = None  # when it was logged, if later (backdated)
    void: str | None = None  # when it was voided
    note: str = ""


SCENARIO = (
    Row("2026-07-01 10:00", "siv", "lead", "Umbrella", source="partner"),
    Row("2026-07-20 10:00", "bo", "deal-won", "Umbrella", amount=6_000, mrr=500,
        note="skips mql..demo"),
    Row("2026-08-03 10:00", "siv", "lead", "Initech", source="organic"),
    Row("2026-08-05 10:00", "siv", "mql", "Initech"),
    Row("2026-08-12 10:00", "siv", "sql", "Initech"),
    Row("2026-08-20 10:00", "ana", "opportunity", "Initech"),
    Row("2026-08-25 10:00", "siv", "demo-booked", "Initech"),
    Row("2026-09-01 10:00", "siv", "lead", "Hooli", source="email"),
    Row("2026-09-03 10:00", "ana", "deal-won", "Initech", amount=30_000, mrr=2_500),
    Row("2026-09-03 10:00", "siv", "mql", "Hooli"),
    Row("2026-09-08 10:00", "siv", "sql", "Hooli"),
    Row("2026-09-10 10:00", "siv", "lead", "Acme", source="referral"),
    Row("2026-09-14 10:00", "ana", "opportunity", "Hooli"),
    Row("2026-09-15 10:00", "siv", "mql", "Acme"),
    Row("2026-09-20 10:00", "siv", "demo-booked", "Hooli"),
    Row("2026-09-27 10:00", "siv", "sql", "Acme"),
    Row("2026-09-28 00:30", "siv", "lead", "Cyberdyne", source="webinar",
        logged="2026-10-03 10:00", note="BACKDATED: logged Oct 3"),
    Row("2026-09-28 10:00", "ana", "deal-lost", "Hooli", reason="price", competitor="contoso",
        note="superseded (reopened)"),
    Row("2026-10-01 00:30", "siv", "mql", "Cyberdyne", note="Sep 30 22:30 UTC"),
    Row("2026-10-01 09:00", "mgr", "spend", amount=3_000, source="paid-search"),
    Row("2026-10-01 09:00", "mgr", "spend", amount=1_000, source="social"),
    Row("2026-10-01 09:00", "mgr", "spend", amount=1_000, source="display"),
    Row("2026-10-01 10:00", "ana", "opportunity", "Acme", amount=20_000),
    Row("2026-10-02 10:00", "siv", "lead", "Globex", source="paid-search"),
    Row("2026-10-02 11:00", "ana", "opportunity", "Hooli", note="REOPENS Hooli"),
    Row("2026-10-02 12:00", "bo", "call", count=4, logged="2026-10-06 10:00",
        note="BACKDATED 4 days"),
    Row("2026-10-03 23:50", "mgr", "website-visit", count=1_000, source="organic"),
    Row("2026-10-03 23:50", "mgr", "website-bounce", count=400),
    Row("2026-10-03 23:50", "mgr", "cta-click", count=30),
    Row("2026-10-03 23:50", "mgr", "social-engagement", count=50),
    Row("2026-10-04 10:00", "ana", "deal-won", "Hooli", amount=18_000, note="no mrr"),
    Row("2026-10-05 09:00", "siv", "email-sent", count=200),
    Row("2026-10-05 09:00", "siv", "email-delivered", count=192),
    Row("2026-10-05 09:00", "siv", "email-bounced", count=8),
    Row("2026-10-05 10:00", "siv", "lead", "Vandelay", source="organic"),
    Row("2026-10-05 10:00", "bo", "opportunity", "Globex", note="skips mql, sql"),
    Row("2026-10-05 14:00", "siv", "email-opened", count=90),
    Row("2026-10-05 14:00", "siv", "email-clicked", count=12),
    Row("2026-10-05 14:00", "siv", "email-replied", count=8),
    Row("2026-10-05 14:00", "siv", "spam-complaint"),
    Row("2026-10-06 10:00", "siv", "mql", "Vandelay"),
    Row("2026-10-06 10:00", "siv", "demo-booked", "Acme"),
    Row("2026-10-06 11:00", "siv", "meeting-booked", "Vandelay"),
    Row("2026-10-07 09:00", "siv", "inbound-request"),
    Row("2026-10-07 09:01", "siv", "inbound-responded", duration=60),
    Row("2026-10-07 10:00", "siv", "lead", "Soylent", source="social"),
    Row("2026-10-08 10:00", "siv", "sql", "Vandelay"),
    Row("2026-10-08 10:00", "ana", "demo-held", "Acme"),
    Row("2026-10-08 10:30", "siv", "discovery-booked", "Vandelay"),
    Row("2026-10-08 11:00", "bo", "meeting-held", "Vandelay"),
    Row("2026-10-09 10:00", "siv", "mql", "Soylent"),
    Row("2026-10-09 10:00", "siv", "demo-booked", "Globex"),
    Row("2026-10-09 15:00", "siv", "connection-sent", count=40),
    Row("2026-10-10 15:00", "siv", "connection-accepted", count=12),
    Row("2026-10-11 10:00", "bo", "demo-held", "Globex"),
    Row("2026-10-11 15:00", "siv", "connection-replied", count=3),
    Row("2026-10-12 10:00", "siv", "lead", "Tyrell", source="organic"),
    Row("2026-10-12 10:00", "bo", "opportunity", "Vandelay"),
    Row("2026-10-12 11:00", "ana", "proposal", "Acme", amount=24_000),
    Row("2026-10-12 12:00", "siv", "demo-request", count=4),
    Row("2026-10-12 13:00", "siv", "demo-request-replied", count=3),
    Row("2026-10-13 09:00", "siv", "inbound-request"),
    Row("2026-10-13 09:03", "siv", "inbound-responded", duration=180, note="= the 3 min target"),
    Row("2026-10-13 10:00", "siv", "mql", "Tyrell"),
    Row("2026-10-13 11:00", "siv", "meeting-booked", "Tyrell"),
    Row("2026-10-14 10:00", "siv", "lead", "Wayne", source="organic"),
    Row("2026-10-14 10:00", "ana", "mrr-change", "Initech", amount=-500, note="downgrade"),
    Row("2026-10-14 11:00", "siv", "meeting-booked", "Wayne"),
    Row("2026-10-15 10:00", "siv", "sql", "Tyrell"),
    Row("2026-10-15 10:30", "siv", "discovery-booked", "Tyrell"),
    Row("2026-10-16 09:00", "siv", "inbound-request"),
    Row("2026-10-16 09:03", "siv", "inbound-responded", duration=200),
    Row("2026-10-16 10:00", "bo", "churned", "Umbrella", mrr=500, note="a customer at Oct 1"),
    Row("2026-10-16 11:00", "ana", "meeting-held", "Tyrell"),
    Row("2026-10-17 10:00", "siv", "demo-booked", "Vandelay"),
    Row("2026-10-18 23:30", "siv", "call", count=7, note="W42: 21:30 UTC"),
    Row("2026-10-19 00:30", "siv", "lead", "Wonka", source="direct",
        note="W43: 22:30 UTC Sun"),
    Row("2026-10-19 00:30", "siv", "call", count=5, note="W43: 22:30 UTC Sun"),
    Row("2026-10-19 11:00", "ana", "meeting-held", "Wayne"),
    Row("2026-10-20 09:00", "ana", "email-sent", count=50),
    Row("2026-10-20 09:00", "ana", "email-delivered", count=48),
    Row("2026-10-20 09:00", "ana", "email-bounced", count=2),
    Row("2026-10-20 10:00", "ana", "deal-won", "Acme", amount=24_000, mrr=2_000),
    Row("2026-10-20 11:00", "siv", "meeting-booked", "Soylent", note="no-show"),
    Row("2026-10-20 15:00", "ana", "email-opened", count=18),
    Row("2026-10-20 15:00", "ana", "email-replied", count=2),
    Row("2026-10-20 15:00", "ana", "spam-complaint"),
    Row("2026-10-20 23:50", "mgr", "website-visit", count=500, source="paid-search"),
    Row("2026-10-20 23:50", "mgr", "website-bounce", count=200),
    Row("2026-10-20 23:50", "mgr", "cta-click", count=15),
    Row("2026-10-20 23:50", "mgr", "social-engagement", count=30),
    Row("2026-10-21 09:00", "siv", "inbound-request"),
    Row("2026-10-21 09:04", "siv", "inbound-responded", duration=240),
    Row("2026-10-21 10:00", "ana", "deal-lost", "Soylent", reason="timing"),
    Row("2026-10-21 16:00", "ana", "call", count=10, void="2026-10-21 16:05",
        note="VOIDED"),
    Row("2026-10-22 00:30", "siv", "sql", "Wonka", note="skips mql"),
    Row("2026-10-22 11:00", "siv", "meeting-booked", "Wonka"),
    Row("2026-10-22 16:00", "ana", "call", count=6),
    Row("2026-10-23 10:00", "bo", "deal-won", "Globex", amount=12_000, mrr=1_000),
    Row("2026-10-25 23:30", "bo", "opportunity", "Wonka", note="CET: 22:30 UTC"),
    Row("2026-10-25 23:30", "bo", "call", count=3, note="W43: 22:30 UTC"),
    Row("2026-10-26 00:30", "siv", "lead", "Stark", source="partner",
        note="W44: 23:30 UTC Sun"),
    Row("2026-10-26 00:30", "bo", "call", count=11, note="W44: 23:30 UTC Sun"),
    Row("2026-10-26 10:00", "bo", "deal-lost", "Vandelay", reason="competitor",
        competitor="northwind"),
    Row("2026-10-26 11:00", "bo", "meeting-held", "Wonka"),
    Row("2026-10-27 09:00", "siv", "inbound-request"),
    Row("2026-10-27 11:00", "siv", "inbound-responded", duration=7_200, note="2 hours"),
    Row("2026-10-28 09:00", "siv", "inbound-request", note="never answered"),
    Row("2026-10-29 10:00", "bo", "churned", "Globex", mrr=1_000,
        note="won + churned in Oct"),
    Row("2026-10-30 10:00", "ana", "deal-won", "Wayne", amount=50_000, void="2026-10-30 10:05",
        note="VOIDED"),
    Row("2026-11-02 10:00", "siv", "lead", "Oscorp", source="referral"),
    Row("2026-11-10 10:00", "ana", "deal-won", "Oscorp", amount=8_000, mrr=700,
        note="skips mql..demo"),
    Row("2026-11-18 10:00", "siv", "lead", "Duff", source="organic"),
)

QUOTAS = (  # (user, metric, cadence, target)
    (ANA, "revenue", "monthly", usd(30_000)),
    (BO, "revenue", "monthly", usd(15_000)),
    (SIV, "demo-booked", "monthly", 3),
)


def _new_event(n: int, row: Row) -> NewEvent:
    user_id = USERS[row.who][0]
    return NewEvent(
        kind=row.kind, user_id=user_id, logged_by=user_id, occurred_at=local(row.when),
        idempotency_key=f"golden:{n}", count=row.count,
        amount_minor=usd(row.amount) if row.amount is not None else None,
        currency="USD" if row.amount is not None else None,
        duration_seconds=row.duration,
        mrr_minor=usd(row.mrr) if row.mrr is not None else None,
        deal_key=row.deal.casefold() if row.deal else None, deal_name=row.deal,
        channel_id="CSALES",
        source=normalize_source(row.source) if row.source else None, source_raw=row.source,
        reason=row.reason, competitor=row.competitor,
    )


def record_scenario(database, *, quotas: bool = True) -> None:
    """Log the table above, event by event, as the bot would (undo included), plus quotas."""
    with database.write() as session:
        workspace = ensure_workspace(
            session=session, workspace_id=WORKSPACE, platform="slack", timezone=TZ,
            currency="USD", fiscal_year_start=FISCAL_YEAR_START, name="Golden",
            now=local("2026-06-01 09:00"))
        for user_id, name in USERS.values():
            ensure_user(session=session, workspace_id=WORKSPACE, user_id=user_id,
                        display_name=name, now=local("2026-06-01 09:00"))
    for n, row in enumerate(SCENARIO, 1):
        with database.write() as session:
            workspace = session.get(Workspace, WORKSPACE)
            recorded = record_event(session=session, workspace=workspace,
                                    new=_new_event(n, row), now=local(row.logged or row.when))
            if row.void:
                void_event(session=session, workspace=workspace, event_id=recorded.event.id,
                           voided_by=USERS[row.who][0], now=local(row.void))
    if not quotas:
        return
    from storage.quotas import set_quota

    with database.write() as session:
        for user_id, metric, cadence, target in QUOTAS:
            set_quota(session=session, workspace_id=WORKSPACE, user_id=user_id, metric=metric,
                      cadence=cadence, target=target, set_by="UMGR",
                      now=local("2026-09-25 09:00"))


# ---------------------------------------------------------------------------------------------
# Checking results against the hand computations
# ---------------------------------------------------------------------------------------------

ANY: Any = object()  # "not checked"


@dataclass(frozen=True)
class Case:
    """One hand-computed KPI answer."""

    kpi: str
    period: str
    value: float | None
    numerator: float | None = ANY
    denominator: float | None = ANY
    rows: dict[str, dict[str, Any]] | None = None  # key -> {"value"/"numerator"/... : expected}
    exact_rows: bool = False  # the rows are exactly these keys
    details: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _same(actual: Any, expected: Any) -> bool:
    if expected is ANY:
        return True
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, dict):
        return isinstance(actual, dict) and set(actual) == set(expected) and all(
            _same(actual[k], v) for k, v in expected.items())
    if isinstance(expected, (list, tuple)):
        return isinstance(actual, (list, tuple)) and len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


def _row_field(row: Any, name: str) -> Any:
    if name in ("value", "numerator", "denominator"):
        return getattr(row, name)
    return row.extra.get(name, ANY if name not in row.extra else None)


class Golden:
    """Runs cases against the engine and collects every mismatch (so one run lists them all)."""

    def __init__(self, database) -> None:
        self.database = database
        self.problems: list[str] = []

    def result(self, name: str, period: str, *, user: str | None = None, options=None):
        with self.database.read() as session:
            workspace = session.get(Workspace, WORKSPACE)
            facts = SqlFacts(session=session, workspace=workspace)
            resolved = parse_period(period, now=NOW, tz=TZ, fiscal_year_start=FISCAL_YEAR_START)
            return compute_kpi(name, facts=facts, period=resolved, now=NOW, user=user,
                               options=options)

    def check(self, cases: list[Case]) -> None:
        for case in cases:
            label = f"{case.kpi} {case.period}" + (f" @{case.user}" if case.user else "")
            try:
                result = self.result(case.kpi, case.period, user=case.user,
                                     options=case.options)
            except Exception as error:  # noqa: BLE001  (report every KPI, not just the first)
                self.problems.append(f"{label}: raised {error!r}")
                continue
            for what in ("value", "numerator", "denominator"):
                expected, actual = getattr(case, what), getattr(result, what)
                if not _same(actual, expected):
                    self.problems.append(f"{label}: {what} expected {expected!r}, got {actual!r}")
            for key, expected in case.details.items():
                if key.startswith("~"):  # any details key containing the text
                    found = [v for k, v in result.details.items() if key[1:] in k]
                    actual = found[0] if len(found) == 1 else f"<{len(found)} keys match>"
                else:
                    actual = result.details.get(key, "<missing>")
                if not _same(actual, expected):
                    self.problems.append(
                        f"{label}: details[{key!r}] expected {expected!r}, got {actual!r}")
            if case.rows is not None:
                rows = {row.key: row for row in result.rows}
                if case.exact_rows and set(rows) != set(case.rows):
                    self.problems.append(
                        f"{label}: row keys expected {sorted(case.rows)}, got {sorted(rows)}")
                for key, fields in case.rows.items():
                    if key not in rows:
                        self.problems.append(f"{label}: no row {key!r} (rows: {sorted(rows)})")
                        continue
                    for name, expected in fields.items():
                        actual = _row_field(rows[key], name)
                        if not _same(actual, expected):
                            self.problems.append(f"{label}: row {key!r} {name} expected "
                                                 f"{expected!r}, got {actual!r}")

    def assert_clean(self) -> None:
        assert not self.problems, "\n" + "\n".join(self.problems)

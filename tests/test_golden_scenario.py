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

import argparse
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from reports.events import normalize_source
from reports.kpis.catalog import CATALOG, compute_kpi
from reports.periods import parse_period
from storage.events import NewEvent, ensure_user, ensure_workspace, record_event, void_event
from storage.facts import SqlFacts
from storage.models import Deal, User, Workspace

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


@pytest.fixture
def golden(database) -> Golden:
    record_scenario(database)
    return Golden(database)



# ---------------------------------------------------------------------------------------------
# The hand computations. Event numbers (#n) refer to the table in the module docstring.
# ---------------------------------------------------------------------------------------------

OCT, SEP, JUN, NOV = "2026-10", "2026-09", "2026-06", "2026-11"
W42, W43, W44 = "2026-W42", "2026-W43", "2026-W44"
# Fiscal years are named by the calendar year they end in (reports/periods.py): with the year
# from April, FY2027 = Apr 2026 .. Mar 2027, so 2027-Q3 = Oct-Dec 2026, 2027-Q2 = Jul-Sep 2026.
FISCAL_Q3, FISCAL_Q2 = "2027-Q3", "2027-Q2"

OUTREACH = [
    # email-sent: 200 (#32) + 50 (#80) = 250; email-delivered: 192 (#33) + 48 (#81) = 240
    Case("delivery-rate", OCT, 240 / 250, 240, 250),
    # email-opened: 90 (#37) + 18 (#85) = 108
    Case("open-rate", OCT, 108 / 240, 108, 240),
    # email-clicked: 12 (#38)
    Case("click-rate", OCT, 12 / 240, 12, 240),
    # email-replied: 8 (#39) + 2 (#86) = 10
    Case("reply-rate", OCT, 10 / 240, 10, 240),
    # spam-complaint: 1 (#40) + 1 (#87) = 2
    Case("spam-rate", OCT, 2 / 240, 2, 240),
    # email-bounced: 8 (#34) + 2 (#82) = 10, over emails SENT
    Case("bounce-rate", OCT, 10 / 250, 10, 250),
    # discovery-booked: #49 + #70 = 2, over the 10 replies
    Case("reply-to-discovery", OCT, 2 / 10, 2, 10),
    # demo-request-replied 3 (#61) / demo-request 4 (#60)
    Case("demo-request-response", OCT, 3 / 4, 3, 4),
    # connection-accepted 12 (#54) / connection-sent 40 (#53)
    Case("connection-acceptance", OCT, 12 / 40, 12, 40),
    # connection-replied 3 (#56) / connection-accepted 12
    Case("connection-reply", OCT, 3 / 12, 3, 12),
]

WEB_MEETINGS_ACTIVITIES = [
    # website-visit: 1,000 (#27) + 500 (#88) = 1,500
    Case("website-visits", OCT, 1_500),
    # website-bounce: 400 (#28) + 200 (#89) = 600
    Case("website-bounce-rate", OCT, 600 / 1_500, 600, 1_500),
    # cta-click: 30 (#29) + 15 (#90) = 45
    Case("ctr", OCT, 45 / 1_500, 45, 1_500),
    # social-engagement: 50 (#30) + 30 (#91) = 80
    Case("engagement", OCT, 80),
    # meeting-booked: #43, #65, #68, #84, #97 = 5; meeting-held: #50, #74, #79, #105 = 4.
    # SPEC: "meeting-booked and meeting-held counts": the held count must be reported too
    # (under any details key containing "held").
    Case("meetings", OCT, 5, 5, details={"~held": 4}),
    Case("show-rate", OCT, 4 / 5, 4, 5),
    # Per rep (credited user), October: calls, emails sent, meetings held, demos held
    #   siv: calls 7 (#76) + 5 (#78) = 12; emails 200 (#32); meetings 0; demos 0  -> 212
    #   ana: calls 6 (#98; the 10 of #95 are void); emails 50 (#80); meetings 2 (#74, #79);
    #        demos 1 (#48)  -> 59
    #   bo:  calls 4 (#26, backdated into October) + 3 (#101) + 11 (#103) = 18; emails 0;
    #        meetings 2 (#50, #105); demos 1 (#55)  -> 21
    #   team: calls 36, emails 250, meetings 4, demos 2  -> 292
    Case("activities", OCT, 292, 292, exact_rows=True, rows={
        SIV: {"value": 212, "calls": 12, "emails": 200, "meetings": 0, "demos": 0},
        ANA: {"value": 59, "calls": 6, "emails": 50, "meetings": 2, "demos": 1},
        BO: {"value": 21, "calls": 18, "emails": 0, "meetings": 2, "demos": 1},
    }, details={"calls": 36, "emails": 250, "meetings": 4, "demos": 2}),
    Case("activities", OCT, 21, user=BO, exact_rows=True,
         rows={BO: {"calls": 18, "emails": 0, "meetings": 2, "demos": 1}}),
]

FUNNEL = [
    # Leads created in October (lead_at in the month): Globex, Vandelay, Soylent, Tyrell, Wayne,
    # Wonka, Stark = 7. Not Cyberdyne (its lead is backdated to Sep 28).
    Case("leads", OCT, 7),
    # By source (leads, won since -> lead-to-won): organic 3 (Vandelay, Tyrell, Wayne), 0 won;
    # paid-search 1 (Globex), 1 won; social 1 (Soylent); direct 1 (Wonka); partner 1 (Stark).
    # Overall 1 won of 7.
    Case("lead-sources", OCT, 7, 1, 7, exact_rows=True, rows={
        "organic": {"value": 0.0, "numerator": 0, "denominator": 3, "leads": 3},
        "paid-search": {"value": 1.0, "numerator": 1, "denominator": 1, "leads": 1},
        "social": {"value": 0.0, "numerator": 0, "denominator": 1, "leads": 1},
        "direct": {"value": 0.0, "numerator": 0, "denominator": 1, "leads": 1},
        "partner": {"value": 0.0, "numerator": 0, "denominator": 1, "leads": 1},
    }),
    # mql_at in October: Cyberdyne (Oct 1 00:30 local = Sep 30 22:30 UTC), Globex (skipped,
    # = its opportunity Oct 5), Vandelay, Soylent, Tyrell, Wonka (skipped, = its sql Oct 22) = 6
    Case("mql", OCT, 6),
    # sql_at in October: Globex (skipped, Oct 5), Vandelay, Tyrell, Wonka = 4 (Acme: Sep 27)
    Case("sql", OCT, 4),
    # cohort: of the 6 October MQLs, reached sql by now: Globex, Vandelay, Tyrell, Wonka = 4
    Case("mql-to-sql", OCT, 4 / 6, 4, 6),
    # cohort: of the 7 October leads, won by now: Globex = 1 (Wayne's win is void)
    Case("conversion-rate", OCT, 1 / 7, 1, 7),
    # period variant: deals won in October (Hooli, Acme, Globex; #110 is void) = 3 / leads
    # created in October = 7
    Case("conversion-rate-period", OCT, 3 / 7, 3, 7),
    # closed in October (final close): won Hooli (Oct 4), Acme (Oct 20), Globex (Oct 23) = 3;
    # lost Soylent (Oct 21), Vandelay (Oct 26) = 2  ->  3 / (3 + 2)
    Case("win-rate", OCT, 3 / 5, 3, 5),
    # deals won in October (3) / opportunities created in October (opportunity_at in the
    # month: Acme Oct 1, Globex Oct 5, Vandelay Oct 12, Wonka Oct 25 = 4; Hooli's reopening
    # opportunity on Oct 2 is not its first, Sep 14)
    Case("close-rate", OCT, 3 / 4, 3, 4),
    # cohort: deals whose demo fell in October: Acme (Oct 6), Globex (Oct 9), Vandelay (Oct 17)
    # = 3; won since: Acme, Globex = 2; lost: Vandelay = 1
    Case("demo-to-won", OCT, 2 / 3, 2, 3),
    Case("demo-to-lost", OCT, 1 / 3, 1, 3),
    # deals reaching each stage in October: lead 7, mql 6, sql 4, opportunity 4, demo 3, won 3.
    # The conversion into a stage: of the deals that reached the stage before in October, how
    # many have reached this one by now (SPEC 6; a skipped stage counts as reached, SPEC 5):
    #   mql: the 7 October leads; reached mql: Globex (skipped, = Oct 5), Vandelay, Soylent,
    #        Tyrell, Wonka (skipped, = Oct 22); not Wayne, Stark  ->  5 / 7
    #   sql: the 6 October MQLs (Cyberdyne, Globex, Vandelay, Soylent, Tyrell, Wonka); reached
    #        sql: Globex (skipped), Vandelay, Tyrell, Wonka; not Cyberdyne (open at mql),
    #        Soylent (lost)  ->  4 / 6
    #   opportunity: the 4 October SQLs (Globex, Vandelay, Tyrell, Wonka); reached
    #        opportunity: Globex, Vandelay, Wonka; not Tyrell  ->  3 / 4. Acme entered
    #        October at opportunity (its sql was Sep 27): one of the 4 opportunities, but not
    #        of this cohort (the old count / count said 4 / 4).
    #   demo: the 4 October opportunities (Acme, Globex, Vandelay, Wonka; Hooli's first
    #        opportunity is Sep 14); reached demo: Acme, Globex, Vandelay  ->  3 / 4
    #   won: the 3 October demos (Acme, Globex, Vandelay); won: Acme, Globex  ->  2 / 3.
    #        Hooli (demo Sep 20) is one of the 3 October wins, not of this cohort.
    # lead to won: the 7 October leads, won by now: Globex  ->  1 / 7 (the old 3 / 7 counted
    # the wins of September leads). Median days in each stage as in stage-time below; 5
    # stalled deals (see stalled-deals).
    Case("funnel", OCT, 1 / 7, 1, 7, exact_rows=True, rows={
        "lead": {"value": 7, "numerator": None, "denominator": None, "conversion": None,
                 "median_days": 2.5},
        "mql": {"value": 6, "numerator": 5, "denominator": 7, "conversion": 5 / 7,
                "median_days": 1},
        "sql": {"value": 4, "numerator": 4, "denominator": 6, "conversion": 4 / 6,
                "median_days": 4},
        "opportunity": {"value": 4, "numerator": 3, "denominator": 4, "conversion": 3 / 4,
                        "median_days": 5},
        "demo": {"value": 3, "numerator": 3, "denominator": 4, "conversion": 3 / 4,
                 "median_days": 14},
        "won": {"value": 3, "numerator": 2, "denominator": 3, "conversion": 2 / 3,
                "median_days": None},
    }, details={"won": 3, "lost": 2, "revenue": usd(54_000), "stalled": 5}),
    # The cohort view follows the 7 October leads by now: mql 5 (above); sql: Globex,
    # Vandelay, Tyrell, Wonka = 4 (Soylent was lost at mql); opportunity: Globex, Vandelay,
    # Wonka = 3; demo: Globex, Vandelay = 2; won: Globex = 1. Stage to stage: 5/7, 4/5, 3/4,
    # 2/3, 1/2.
    Case("funnel", OCT, 1 / 7, 1, 7, exact_rows=True, options={"cohort": True}, rows={
        "lead": {"value": 7, "numerator": None, "conversion": None},
        "mql": {"value": 5, "numerator": 5, "denominator": 7, "conversion": 5 / 7},
        "sql": {"value": 4, "numerator": 4, "denominator": 5, "conversion": 4 / 5},
        "opportunity": {"value": 3, "numerator": 3, "denominator": 4, "conversion": 3 / 4},
        "demo": {"value": 2, "numerator": 2, "denominator": 3, "conversion": 2 / 3},
        "won": {"value": 1, "numerator": 1, "denominator": 2, "conversion": 1 / 2},
    }),
    # November: Oscorp (lead Nov 2, won Nov 10, skipping mql..demo: each reached Nov 10) and
    # Duff (lead Nov 18). lead 2, then 1 at every stage; conversions: 1/2 (not Duff), then
    # 1/1 through every skipped stage, and 1/1 into won. lead to won 1 / 2.
    Case("funnel", NOV, 1 / 2, 1, 2, exact_rows=True, rows={
        "lead": {"value": 2, "conversion": None},
        "mql": {"value": 1, "numerator": 1, "denominator": 2, "conversion": 1 / 2},
        "sql": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "opportunity": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "demo": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "won": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
    }),
    # Week 43 (Oct 19-25, the DST week): deals reaching a stage: lead Wonka; mql Wonka
    # (skipped, Oct 22); sql Wonka; opportunity Wonka (Oct 25 23:30 CET, still W43); demo
    # none; won Acme (Oct 20), Globex (Oct 23), both demos of earlier weeks.
    # Conversions: 1/1 (Wonka), 1/1, 1/1, then 0/1 (Wonka is open at opportunity), and into
    # won 0/0 = n/a: the 2 wins came from no demo of this week (the old count / count said
    # 2 / 0). lead to won 0 / 1.
    Case("funnel", W43, 0.0, 0, 1, exact_rows=True, rows={
        "lead": {"value": 1, "conversion": None},
        "mql": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "sql": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "opportunity": {"value": 1, "numerator": 1, "denominator": 1, "conversion": 1.0},
        "demo": {"value": 0, "numerator": 0, "denominator": 1, "conversion": 0.0},
        "won": {"value": 2, "numerator": 0, "denominator": 0, "conversion": None},
    }),
]

REVENUE_AND_TIME = [
    # won in October: Hooli 18,000 + Acme 24,000 + Globex 12,000 = 54,000 (Wayne's is void)
    Case("revenue", OCT, usd(54_000)),
    Case("revenue", OCT, usd(42_000), user=ANA),  # Hooli + Acme
    Case("revenue", OCT, usd(12_000), user=BO),  # Globex
    Case("deals-won", OCT, 3),
    Case("deals-won", OCT, 2, user=ANA),
    Case("avg-deal-size", OCT, usd(54_000) / 3, usd(54_000), 3),
    Case("win-rate", OCT, 2 / 3, 2, 3, user=ANA),  # won Hooli, Acme; lost Soylent
    Case("win-rate", OCT, 1 / 2, 1, 2, user=BO),  # won Globex; lost Vandelay
    # days from the first stage event to the win, deals won in October (all at 08:00 UTC):
    #   Hooli: Sep 1 -> Oct 4 = 33; Acme: Sep 10 -> Oct 20 = 40; Globex: Oct 2 -> Oct 23 = 21
    #   median 33; mean (33 + 40 + 21) / 3 = 94 / 3
    Case("sales-cycle", OCT, 33, denominator=3, details={"mean": 94 / 3, "n": 3}),
    # days in each stage, deals that left it (reached the next stage) in October:
    #   lead (mql_at in Oct): Cyberdyne Sep 28 00:30 -> Oct 1 00:30 = 3, Globex Oct 2 -> Oct 5
    #     (skipped mql) = 3, Vandelay 1, Soylent 2, Wonka Oct 19 00:30 -> Oct 22 00:30 = 3,
    #     Tyrell 1  ->  [1, 1, 2, 3, 3, 3]: median (2 + 3) / 2 = 2.5, p90 3
    #   mql (sql_at in Oct): Globex 0 (skipped), Vandelay Oct 6 -> 8 = 2, Tyrell Oct 13 -> 15
    #     = 2, Wonka 0 (skipped)  ->  [0, 0, 2, 2]: median 1, p90 2
    #   sql (opportunity_at in Oct): Acme Sep 27 -> Oct 1 = 4, Globex 0, Vandelay Oct 8 -> 12
    #     = 4, Wonka Oct 22 00:30 CEST -> Oct 25 23:30 CET = 4 (96 hours: the DST change makes
    #     up the local-clock hour)  ->  [0, 4, 4, 4]: median 4, p90 4
    #   opportunity (demo_at in Oct): Acme Oct 1 -> 6 = 5, Globex Oct 5 -> 9 = 4, Vandelay
    #     Oct 12 -> 17 = 5  ->  [4, 5, 5]: median 5, p90 5
    #   demo (won_at in Oct): Hooli Sep 20 -> Oct 4 = 14, Acme Oct 6 -> 20 = 14, Globex
    #     Oct 9 -> 23 = 14  ->  median 14, p90 14
    Case("stage-time", OCT, ANY, exact_rows=True, rows={
        "lead": {"value": 2.5, "median_days": 2.5, "p90_days": 3, "n": 6},
        "mql": {"value": 1, "median_days": 1, "p90_days": 2, "n": 4},
        "sql": {"value": 4, "median_days": 4, "p90_days": 4, "n": 4},
        "opportunity": {"value": 5, "median_days": 5, "p90_days": 5, "n": 3},
        "demo": {"value": 14, "median_days": 14, "p90_days": 14, "n": 3},
    }),
]

NOW_BASED = [
    # Open deals at Nov 21 11:00 UTC and their time since the last stage change:
    #   Cyberdyne mql since Sep 30 22:30 UTC (51.5 days), Tyrell sql since Oct 15 (37.1),
    #   Wayne lead since Oct 14 (38.1), Wonka opportunity since Oct 25 22:30 (26.5),
    #   Stark lead since Oct 25 23:30 (26.5), Duff lead since Nov 18 (3.1).
    # Thresholds = max(7 days, 2 x the stage's median stay over the trailing 90 days, Aug 23
    # .. Nov 21, deals leaving the stage then):
    #   lead: [1, 1, 2, 2, 3, 3, 3, 5, 8] median 3 -> 7; mql: [0, 0, 0, 2, 2, 5, 12] median 2
    #   -> 7; sql: [0, 0, 4, 4, 4, 6] median 4 -> 8; opportunity: [0, 4, 5, 5, 5, 6] (Initech
    #   Aug 20 -> 25 counts: its demo is inside the window) median 5 -> 10; demo: [0, 9, 14, 14,
    #   14] median 14 -> 28.
    # Every open deal but Duff is far past its threshold: 5 stalled of 6 open deals.
    Case("stalled-deals", "this-month", 5, 5, 6, exact_rows=True, rows={
        "Cyberdyne": {"value": 51 + 12.5 / 24, "deal": "cyberdyne", "stage": "mql"},
        "Wayne": {"value": 38 + 3 / 24, "deal": "wayne", "stage": "lead"},
        "Tyrell": {"value": 37 + 3 / 24, "deal": "tyrell", "stage": "sql"},
        "Wonka": {"value": 26 + 12.5 / 24, "deal": "wonka", "stage": "opportunity"},
        "Stark": {"value": 26 + 11.5 / 24, "deal": "stark", "stage": "lead"},
    }, details={"threshold_days": {"lead": 7, "mql": 7, "sql": 8, "opportunity": 10,
                                   "demo": 28}}),
    # Trailing 90 days (Aug 23 .. Nov 21): won Initech 30,000 (Sep 3), Hooli 18,000, Acme
    # 24,000, Globex 12,000, Oscorp 8,000 (Nov 10) = 5 wins, 92,000; lost Soylent, Vandelay = 2.
    #   win rate 5 / 7; average deal 92,000 / 5 = 18,400
    #   cycles of those wins: Initech Aug 3 -> Sep 3 = 31, Hooli 33, Acme 40, Globex 21,
    #   Oscorp Nov 2 -> Nov 10 = 8  ->  median 31 days
    #   open opportunities now: Wonka = 1
    #   velocity = 1 x 5/7 x 18,400 / 31 = 423.96 USD a day
    Case("sales-velocity", "this-month", 1 * (5 / 7) * usd(18_400) / 31, details={
        "open_opportunities": 1, "win_rate_90d": 5 / 7, "avg_deal_size_90d": usd(18_400),
        "median_cycle_days_90d": 31,
    }),
]

QUOTA = [
    # October (a past month: elapsed share 1, so pace = attainment):
    #   ana: won Hooli 18,000 + Acme 24,000 = 42,000 / 30,000 = 1.4
    #   bo: won Globex 12,000 / 15,000 = 0.8
    #   siv (demo-booked): #42, #52, #75 = 3 / 3 = 1.0 (exactly at quota counts as at quota)
    #   team (revenue quotas): (42,000 + 12,000) / (30,000 + 15,000) = 54,000 / 45,000 = 1.2
    Case("quota-attainment", OCT, usd(54_000) / usd(45_000), usd(54_000), usd(45_000),
         exact_rows=True, rows={
             ANA: {"value": 1.4, "numerator": usd(42_000), "denominator": usd(30_000),
                   "pace": 1.4},
             BO: {"value": 0.8, "numerator": usd(12_000), "denominator": usd(15_000),
                  "pace": 0.8},
             SIV: {"value": 1.0, "numerator": 3, "denominator": 3, "pace": 1.0},
         }, details={"pace": 1.2, "elapsed": 1.0, "reps_at_quota": 2, "reps_with_quota": 3}),
    # reps at >= 100%: ana, siv = 2 of the 3 reps with a quota
    Case("reps-at-quota", OCT, 2 / 3, 2, 3),
    # November to date (Nov 1 00:00 .. Nov 21 12:00 CET = 20.5 of 30 days elapsed):
    #   ana: Oscorp 8,000 / 30,000; bo: 0 / 15,000; siv: 0 / 3
    #   team: 8,000 / 45,000; pace = (8,000 / 45,000) / (20.5 / 30)
    Case("quota-attainment", "this-month", usd(8_000) / usd(45_000), usd(8_000), usd(45_000),
         details={"pace": (8_000 / 45_000) / (20.5 / 30), "elapsed": 20.5 / 30},
         rows={
             ANA: {"value": 8_000 / 30_000, "pace": (8_000 / 30_000) / (20.5 / 30)},
             BO: {"value": 0.0},
             SIV: {"value": 0.0},
         }),
    Case("reps-at-quota", "this-month", 0 / 3, 0, 3),
    # Month to date: 8,000 (Oscorp) against the 45,000 team quota; the same point of October
    # (Oct 1 .. Oct 21 12:00) had 42,000 (Hooli Oct 4 + Acme Oct 20).
    Case("monthly-progress", "this-month", usd(8_000) / usd(45_000), usd(8_000), usd(45_000),
         details={"revenue_mtd": usd(8_000), "same_day_last_month": usd(42_000)}),
]

CUSTOMERS_AND_MONEY = [
    # customers at Oct 1: Umbrella (won Jul 20), Initech (won Sep 3) = 2 (Hooli was lost then);
    # churned in October among them: Umbrella = 1. Globex was won (Oct 23) and churned (Oct 29)
    # inside October: in neither part.
    Case("churn-rate", OCT, 1 / 2, 1, 2),
    # MRR at Oct 1: 2,500 + 500 = 3,000. October: -500 (#67), -500 (#73), +2,000 (#83),
    # +1,000 (#99), -1,000 (#109)  ->  4,000 at the month's end.
    Case("mrr", OCT, usd(4_000)),
    Case("mrr", "this-month", usd(4_700)),  # + Oscorp 700 (Nov 10), at now
    # churned MRR in October: 500 (Umbrella) + 1,000 (Globex) = 1,500; downgrades: 500 (#67);
    # over the MRR at Oct 1 (3,000): (1,500 + 500) / 3,000
    Case("mrr-churn", OCT, usd(2_000) / usd(3_000), usd(2_000), usd(3_000)),
    # spend in October: 3,000 + 1,000 + 1,000 (#20-#22) = 5,000
    # new customers (first win in October): Hooli, Acme, Globex = 3
    Case("cac", OCT, usd(5_000) / 3, usd(5_000), 3),
    Case("cpl", OCT, usd(5_000) / 7, usd(5_000), 7),  # 7 leads
    Case("cost-per-mql", OCT, usd(5_000) / 6, usd(5_000), 6),  # 6 MQLs
    Case("cost-per-sql", OCT, usd(5_000) / 4, usd(5_000), 4),  # 4 SQLs
    Case("cost-per-opportunity", OCT, usd(5_000) / 4, usd(5_000), 4),  # 4 opportunities
    # customers active in October: the 2 at its start + the 3 new = 5; 54,000 / 5 = 10,800
    Case("arpc", OCT, usd(54_000) / 5, usd(54_000), 5),
    # monthly ARPC 10,800 / monthly churn rate 1/2 = 21,600; clv:cac = 21,600 / (5,000 / 3)
    Case("clv", OCT, usd(10_800) / (1 / 2), usd(10_800), 1 / 2, details={
        "arpc_monthly": usd(10_800), "monthly_churn_rate": 1 / 2,
        "clv_to_cac": 21_600 / (5_000 / 3)}),
    # revenue 54,000 / 7 leads
    Case("lead-value", OCT, usd(54_000) / 7, usd(54_000), 7),
    # (54,000 - 5,000) / 5,000 = 9.8
    Case("roi", OCT, 49_000 / 5_000, usd(49_000), usd(5_000)),
]

INBOUND_AND_LOSSES = [
    # inbound-responded durations: 60 (#45), 180 (#63), 200 (#72), 240 (#93), 7,200 (#107)
    #   median 200 s; within the 3 min target (<= 180 s): 60, 180 = 2 of 5;
    #   response rate: 5 answered / 6 requests (#108 never answered)
    Case("inbound-response-time", OCT, 200, denominator=5, details={
        "within_target": 2, "share_within_target": 2 / 5, "response_rate": 5 / 6,
        "requests": 6, "responded": 5}),
    # lost in October: Soylent (timing, no competitor), Vandelay (competitor, northwind) = 2.
    # Price caused 0 of the 2; a competitor 1 of the 2.
    Case("loss-reasons", OCT, 2, 2, exact_rows=True, rows={
        "reason: timing": {"value": 1, "numerator": 1, "denominator": 2, "share": 1 / 2},
        "reason: competitor": {"value": 1, "numerator": 1, "denominator": 2, "share": 1 / 2},
        "competitor: northwind": {"value": 1, "numerator": 1, "denominator": 2,
                                  "share": 1 / 2},
    }, details={"price_share": 0.0, "competitor_share": 1 / 2}),
]

DST_WEEK = [
    # W43 = Mon Oct 19 00:00 CEST .. Mon Oct 26 00:00 CET (Oct 18 22:00 .. Oct 25 23:00 UTC)
    # calls: siv 5 (#78, Oct 18 22:30 UTC), ana 6 (#98), bo 3 (#101, Oct 25 22:30 UTC);
    # not siv's 7 (#76, W42), bo's 11 (#103, W44), ana's void 10 (#95)
    Case("activities", W43, ANY, rows={SIV: {"calls": 5}, ANA: {"calls": 6},
                                       BO: {"calls": 3}}),
    Case("activities", W42, ANY, rows={SIV: {"calls": 7}}),
    Case("activities", W44, ANY, rows={BO: {"calls": 11}}),
    Case("leads", W43, 1),  # Wonka (#77); Stark (#102) is W44
    Case("leads", W42, 2),  # Tyrell, Wayne
    Case("leads", W44, 1),  # Stark
    Case("mql", W43, 1),  # Wonka's skipped mql (= its sql, Oct 22)
    Case("sql", W43, 1),  # Wonka
    Case("deals-won", W43, 2),  # Acme (Oct 20), Globex (Oct 23)
    Case("revenue", W43, usd(36_000)),  # 24,000 + 12,000
    Case("win-rate", W43, 2 / 3, 2, 3),  # + Soylent lost Oct 21
    # emails: ana sent 50, delivered 48, opened 18, clicked 0 (a zero numerator: 0%, not n/a)
    Case("open-rate", W43, 18 / 48, 18, 48),
    Case("click-rate", W43, 0.0, 0, 48),
    # meetings booked #84, #97 = 2; held #79 = 1
    Case("show-rate", W43, 1 / 2, 1, 2),
    # cycles of Acme (40) and Globex (21): median (21 + 40) / 2 = 30.5
    Case("sales-cycle", W43, 30.5),
]

FISCAL_QUARTER = [
    # 2027-Q3 with the fiscal year from April = Oct 1 .. Dec 31 2026
    # won: Hooli 18,000, Acme 24,000, Globex 12,000, Oscorp 8,000 = 62,000
    Case("revenue", FISCAL_Q3, usd(62_000)),
    Case("revenue", "this-quarter", usd(62_000)),
    Case("deals-won", FISCAL_Q3, 4),
    Case("win-rate", FISCAL_Q3, 4 / 6, 4, 6),  # lost: Soylent, Vandelay
    Case("leads", FISCAL_Q3, 9),  # 7 in October + Oscorp, Duff
    # customers at Oct 1: Umbrella, Initech; churned in the quarter among them: Umbrella
    Case("churn-rate", FISCAL_Q3, 1 / 2, 1, 2),
    # spend 5,000 / new customers Hooli, Acme, Globex, Oscorp = 4
    Case("cac", FISCAL_Q3, usd(5_000) / 4, usd(5_000), 4),
    # 2027-Q2 = Jul 1 .. Sep 30 2026: won Umbrella 6,000 (Jul 20) + Initech 30,000 (Sep 3);
    # no loss (Hooli's was superseded): win rate 2 / 2
    Case("revenue", FISCAL_Q2, usd(36_000)),
    Case("win-rate", FISCAL_Q2, 1.0, 2, 2),
    # 2026-Q3 is Oct-Dec 2025: before the history
    Case("revenue", "2026-Q3", 0),
    # fiscal years: FY2026 = Apr 2025 .. Mar 2026 (nothing); FY2027 = Apr 2026 .. Mar 2027:
    # 6,000 + 30,000 + 54,000 + 8,000 = 98,000
    Case("revenue", "2026", 0),
    Case("revenue", "2027", usd(98_000)),
]

SEPTEMBER = [
    # Hooli's loss on Sep 28 was reopened and won on Oct 4: it counts once, as an October win.
    # September closes: Initech won (Sep 3) only.
    Case("win-rate", SEP, 1.0, 1, 1),
    Case("deals-won", SEP, 1),
    Case("revenue", SEP, usd(30_000)),
    Case("loss-reasons", SEP, 0, 0, rows={}, exact_rows=True,
         details={"price_share": None, "competitor_share": None}),
    # leads: Hooli (Sep 1), Acme (Sep 10), Cyberdyne (backdated to Sep 28 00:30 local)
    Case("leads", SEP, 3),
    # customers at Sep 1: Umbrella; none churned in September
    Case("churn-rate", SEP, 0.0, 0, 1),
    Case("mrr", SEP, usd(3_000)),  # Umbrella 500 + Initech 2,500
]

NOVEMBER = [
    # November so far: no spend. cac = 0 / 1 new customer (Oscorp) = 0, while roi has a zero
    # denominator: (8,000 - 0) / 0 -> n/a
    Case("cac", NOV, 0.0, 0, 1),
    Case("roi", NOV, None, usd(8_000), 0),
    Case("cpl", NOV, 0.0, 0, 2),  # leads: Oscorp, Duff
    Case("lead-value", NOV, usd(8_000) / 2, usd(8_000), 2),
]

_RATIOS = (
    "delivery-rate", "open-rate", "click-rate", "reply-rate", "spam-rate", "bounce-rate",
    "reply-to-discovery", "demo-request-response", "demo-to-won", "demo-to-lost",
    "connection-acceptance", "connection-reply", "website-bounce-rate", "ctr", "show-rate",
    "mql-to-sql", "conversion-rate", "conversion-rate-period", "close-rate", "win-rate",
    "avg-deal-size", "sales-cycle", "churn-rate", "mrr-churn", "cac", "cpl", "cost-per-mql",
    "cost-per-sql", "cost-per-opportunity", "arpc", "clv", "lead-value", "roi",
    "inbound-response-time", "funnel",
)
_COUNTS = ("website-visits", "engagement", "meetings", "leads", "mql", "sql", "revenue",
           "deals-won", "mrr", "loss-reasons", "activities", "lead-sources")

ZERO_DENOMINATORS = [
    # June 2026: nothing happened (the first event is Jul 1): every ratio is n/a, never 0%
    *(Case(name, JUN, None) for name in _RATIOS),
    *(Case(name, JUN, 0) for name in _COUNTS),
]

ALL_GROUPS = {
    "outreach": OUTREACH,
    "web_meetings_activities": WEB_MEETINGS_ACTIVITIES,
    "funnel": FUNNEL,
    "revenue_and_time": REVENUE_AND_TIME,
    "now_based": NOW_BASED,
    "quota": QUOTA,
    "customers_and_money": CUSTOMERS_AND_MONEY,
    "inbound_and_losses": INBOUND_AND_LOSSES,
    "dst_week": DST_WEEK,
    "fiscal_quarter": FISCAL_QUARTER,
    "september_reopened_and_backdated": SEPTEMBER,
    "november_partial_zero": NOVEMBER,
    "zero_denominators": ZERO_DENOMINATORS,
}

# SPEC section 6, plus the engine's extra names.
SPEC_CATALOG = (
    "delivery-rate", "open-rate", "click-rate", "reply-rate", "spam-rate", "bounce-rate",
    "reply-to-discovery", "demo-request-response", "demo-to-won", "demo-to-lost",
    "connection-acceptance", "connection-reply", "website-visits", "website-bounce-rate", "ctr",
    "engagement", "meetings", "show-rate", "activities", "leads", "lead-sources", "mql", "sql",
    "mql-to-sql", "conversion-rate", "win-rate", "revenue", "deals-won", "avg-deal-size",
    "sales-cycle", "stage-time", "stalled-deals", "sales-velocity", "quota-attainment",
    "monthly-progress", "churn-rate", "mrr", "mrr-churn", "cac", "cpl", "cost-per-mql",
    "cost-per-sql", "cost-per-opportunity", "arpc", "clv", "lead-value", "roi",
    "inbound-response-time", "loss-reasons",
)
ENGINE_EXTRAS = ("close-rate", "conversion-rate-period", "reps-at-quota", "funnel")


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


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
        deals = {d.key: d for d in session.exec(select(Deal)).all()}
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


# ---------------------------------------------------------------------------------------------
# Comparisons, activity quotas and a second win, through the running bot (signed Slack requests)
# ---------------------------------------------------------------------------------------------

SECRET = "golden-signing-secret"
TEAM = WORKSPACE.removeprefix("slack:")


@pytest.fixture
def bot(golden, database, slack_api, clock):
    """The golden scenario behind the running app, its clock at NOW; yields (ask, settings)."""
    from bot.settings import build_settings
    from bot.wiring import build_bot
    from tests.support.bot_server import running_server
    from tests.support.slack_signing import post_slash_command

    clock.now = NOW
    url = database.engine.url.render_as_string(hide_password=False)
    settings = build_settings(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-test",
                              SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url,
                              KPIBOT_TIMEZONE=TZ)
    app = build_bot(settings, database=database, clock=clock)
    with running_server(app) as base_url:
        def ask(text: str, user: str = ANA) -> str:
            status, body, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                                 user_id=user)
            assert status == 200
            return json.dumps(body, ensure_ascii=False)
        yield ask, settings


def _compared(golden: Golden, name: str, period: str, *, user: str | None = None):
    from reports.kpis.catalog import compute_compared

    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        resolved = parse_period(period, now=NOW, tz=TZ, fiscal_year_start=FISCAL_YEAR_START)
        return compute_compared(name, facts=facts, period=resolved, now=NOW, user=user)


def test_a_running_period_is_compared_with_the_same_days_before(golden):
    """SPEC 6: on Sat Nov 21 this-month runs: Nov 1-21 against Oct 1-21 (not all October)."""
    revenue = _compared(golden, "revenue", "this-month")
    spans = revenue.spans
    assert spans.partial
    assert (spans.current.start, spans.current.end) == (local("2026-11-01 00:00"),
                                                        local("2026-11-22 00:00"))
    assert (spans.previous.start, spans.previous.end) == (local("2026-10-01 00:00"),
                                                          local("2026-10-22 00:00"))
    assert spans.describe() == "Nov 1 – Nov 21, 2026 vs Oct 1 – Oct 21, 2026"
    # Nov 1-21: Oscorp 8,000. Oct 1-21: Hooli 18,000 (Oct 4) + Acme 24,000 (Oct 20) = 42,000;
    # not Globex (Oct 23). The whole of October (54,000) would have said -85%, not -81%.
    assert revenue.result.value == usd(8_000) and revenue.previous.value == usd(42_000)
    assert revenue.change.relative == pytest.approx((8_000 - 42_000) / 42_000)
    # leads Nov 1-21: Oscorp, Duff = 2; Oct 1-21: Globex, Vandelay, Soylent, Tyrell, Wayne,
    # Wonka (Oct 19 00:30) = 6, not Stark (Oct 26)
    leads = _compared(golden, "leads", "this-month")
    assert (leads.current.value, leads.previous.value) == (2, 6)
    # the fiscal quarter (2027-Q3 = Oct 1 .. Dec 31) on Nov 21: Oct 1 – Nov 21 (54,000 +
    # 8,000) against Jul 1 – Aug 21 of 2027-Q2 (Umbrella 6,000 on Jul 20)
    quarter = _compared(golden, "revenue", "this-quarter")
    assert quarter.spans.describe() == "Oct 1 – Nov 21, 2026 vs Jul 1 – Aug 21, 2026"
    assert (quarter.current.value, quarter.previous.value) == (usd(62_000), usd(6_000))
    # a whole period against the whole one before: October (54,000) vs September (30,000)
    whole = _compared(golden, "revenue", "last-month")
    assert not whole.spans.partial and whole.result is whole.current
    assert whole.spans.describe() == "October 2026 vs September 2026"
    assert (whole.current.value, whole.previous.value) == (usd(54_000), usd(30_000))


def test_every_view_names_both_spans_of_a_change(bot):
    ask, settings = bot
    both = "Nov 1 – Nov 21, 2026 vs Oct 1 – Oct 21, 2026"
    # 8,000 against 42,000: down 80.95% -> 81%
    reply = ask("revenue this-month")
    assert "▼ 81%" in reply and both in reply
    # ana's /kpi me: deals won 1 (Oscorp) against 2 (Hooli, Acme): -50%. Her quota: shown is
    # November against its whole target, 8,000 / 30,000 = 27%, pace 27% / (20.5 / 30) = 39%.
    # Its change is what she attained in the compared days, 8,000 against 42,000: -81%. (In
    # points of targets cut to those days, 38.1% against 206.7%, it read "▼ 168.6 pts" next to
    # a 27% that cannot explain it.)
    me = ask("me this-month")
    assert f"changes: {both}" in me
    assert "Deals won: 1 ▼ 50%" in me
    assert "27% ($8K/$30K) ▼ 81%" in me and "39%" in me
    board = ask("leaderboard revenue this-month")
    assert f"change: {both}" in board and "▼ 81%" in board  # ana: 8,000 vs 42,000
    churn = ask("churn this-month")
    assert both in churn
    from bot.cli import kpi as kpi_cli

    args = argparse.Namespace(name="revenue", period="this-month", workspace=WORKSPACE,
                              user=None, json=True)
    out = io.StringIO()
    assert kpi_cli.run(args, settings, out=out, now=NOW) == 0
    comparison = json.loads(out.getvalue())["comparison"]
    assert comparison["current"]["label"] == "2026-11-01..2026-11-21"
    assert comparison["previous"]["label"] == "2026-10-01..2026-10-21"
    assert comparison["describe"] == both and comparison["partial"] is True
    assert (comparison["current_value"], comparison["previous_value"]) == (usd(8_000),
                                                                         usd(42_000))
    out = io.StringIO()
    assert kpi_cli.run(argparse.Namespace(**{**vars(args), "json": False}), settings,
                       out=out, now=NOW) == 0
    assert f"▼ 81% ({both})" in out.getvalue()


def test_an_activity_quota_counts_in_me(bot):
    """siv's quota is 3 demo-booked a month: October #42, #52, #75 = 3 of 3; September #15 =
    1 of 3; so 100% (3/3 demo-booked), up 66.7 points, never `n/a ($0.00/$0.00)`."""
    ask, _settings = bot
    me = ask("me last-month", user=SIV)
    assert "Quota attainment (demo-booked)" in me
    assert "100% (3/3 demo-booked) ▲ 66.7 pts" in me
    assert "changes: October 2026 vs September 2026" in me
    assert "Quota attainment: n/a" not in me and "$0.00/$0.00" not in me
    # the leaderboard: one line per quota, each in its metric; ana 42,000 of 30,000 (Sep:
    # Initech 30,000 of 30,000), siv 3 of 3 demos (Sep: 1 of 3), bo 12,000 of 15,000 (Sep: 0)
    board = ask("leaderboard quota-attainment last-month")
    assert "(demo-booked)  100% (3/3 demo-booked)  ▲ 66.7 pts" in board
    assert "140% ($42K/$30K)        ▲ 40 pts" in board and "80% ($12K/$15K)" in board


def test_a_second_win_says_what_changed_and_undo_restores_the_first(bot, golden):
    ask, _settings = bot
    # Acme was won on Oct 20 for 24,000. A second win (logged Nov 21) restates the amount:
    # the win stays in October (its revenue 54,000 - 24,000 + 30,000 = 60,000), counted once
    # (3 deals won), and November keeps 8,000.
    reply = ask("log won acme 30k")
    assert ("acme was already won for $24,000.00 on Oct 20, 2026; now $30,000.00. "
            "/kpi undo") in reply and "restores $24,000.00" in reply
    assert golden.result("revenue", OCT).value == usd(60_000)
    assert golden.result("deals-won", OCT).value == 3
    assert golden.result("revenue", NOV).value == usd(8_000)
    undone = ask("undo")
    assert "Acme is won for $24,000.00 (on Oct 20, 2026)" in undone
    assert golden.result("revenue", OCT).value == usd(54_000)
    # A new deal won twice today: 12,000 then 15,000 -> one win of 15,000; undo -> 12,000
    first = ask("log won initrode 12k")
    assert "already won" not in first
    second = ask("log won initrode 15k")
    assert "initrode was already won for $12,000.00 on Nov 21, 2026; now $15,000.00." in second
    assert golden.result("revenue", NOV).value == usd(8_000 + 15_000)
    assert golden.result("deals-won", NOV).value == 2
    assert "initrode is won for $12,000.00" in ask("undo")
    assert golden.result("revenue", NOV).value == usd(8_000 + 12_000)
    assert golden.result("deals-won", NOV).value == 2


def test_the_funnel_reads_the_same_in_every_view(bot, golden):
    """October's conversions (FUNNEL above: 5/7, 4/6, 3/4, 3/4, 2/3) in the Slack reply, the
    CLI text and JSON, and the monthly digest; none above 100%."""
    from bot.cli import kpi as kpi_cli
    from reports.digest.build import build_digest
    from reports.digest.render import render_text

    ask, settings = bot
    expected = ["71% (5/7)", "67% (4/6)", "75% (3/4)", "75% (3/4)", "67% (2/3)"]
    reply = ask("funnel 2026-10")
    for stage, deals, conversion in zip(("mql", "sql", "opportunity", "demo", "won"),
                                        (6, 4, 4, 3, 3), expected, strict=True):
        assert re.search(rf"{stage} +{deals} +{re.escape(conversion)}", reply), stage
    args = argparse.Namespace(name="funnel", period="2026-10", workspace=WORKSPACE, user=None,
                              json=False)
    out = io.StringIO()
    assert kpi_cli.run(args, settings, out=out, now=NOW) == 0
    text = out.getvalue()
    assert all(conversion in text for conversion in expected)
    assert "revenue: $54K" in text and "True" not in text and "False" not in text
    out = io.StringIO()
    assert kpi_cli.run(argparse.Namespace(**{**vars(args), "json": True}), settings, out=out,
                       now=NOW) == 0
    rows = json.loads(out.getvalue())["rows"]
    assert [(r["numerator"], r["denominator"]) for r in rows[1:]] == [
        (5, 7), (4, 6), (3, 4), (3, 4), (2, 3)]
    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        digest = build_digest(facts=facts, cadence="monthly", now=NOW, tz=TZ,
                              fiscal_year_start=FISCAL_YEAR_START)
    assert [stage.conversion for stage in digest.funnel[1:]] == expected
    assert all(conversion in render_text(digest) for conversion in expected)


def test_an_activity_quota_counts_in_the_digest(golden):
    """The monthly digest due on Nov 21 (October): siv's 3 of 3 demo-booked is a quota line in
    counts, at quota, and one of the 2 reps of 3 at quota (ana 140%, bo 80%)."""
    from reports.digest.build import build_digest
    from reports.digest.render import render_text

    with golden.database.read() as session:
        facts = SqlFacts(session=session, workspace=session.get(Workspace, WORKSPACE))
        digest = build_digest(facts=facts, cadence="monthly", now=NOW, tz=TZ,
                              fiscal_year_start=FISCAL_YEAR_START,
                              names={user_id: name for user_id, name in USERS.values()})
    october = digest.quotas[0]
    lines = {(line.rep, line.metric): line for line in october.rows}
    siv = lines[("Siv (SDR)", "demo-booked")]
    assert (siv.attained, siv.target, siv.attainment, siv.at_quota) == ("3", "3", "100%", True)
    assert lines[("Ana (AE)", "revenue")].attained == "$42K"
    assert october.reps_at_quota.startswith("2")
    assert "Siv (SDR) (demo-booked)" in render_text(digest)


# Dated records, owners and amounts (SPEC 5 "Time of a dated record", "Owners and amounts")
# ---------------------------------------------------------------------------------------------

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
        deals = {d.key: d for d in session.exec(select(Deal).where(
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
        assert revenue.value == usd(9_000) and revenue.warnings == (warning,)
        assert revenue.details["wins_without_amount"] == 2
        size = kpi("avg-deal-size")
        assert (size.value, size.denominator, size.warnings) == (usd(9_000), 1, (warning,))
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
        omicron = session.exec(select(Deal).where(Deal.workspace_id == DATED_WORKSPACE,
                                                  Deal.key == "omicron")).one()
        assert (omicron.outcome, omicron.won_at) == ("won", local("2026-10-27 01:30"))

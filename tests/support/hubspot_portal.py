"""A generated HubSpot portal for the sync tests: two pipelines, owners, and 330+ deals.

* "Sales Pipeline" (`default`): HubSpot's default stages and internal ids, closedwon
  (probability 1.0) and closedlost (0.0).
* "Partner Pipeline": custom numeric stage ids labelled New lead, MQL, Discovery, Demo,
  Legal review (a label kpibot does not know), Won and Lost (closed, 1.0 and 0.0).

Deals walk their pipeline's open stages in order, skipping some, and end open, won or lost;
each stage entered has its `hs_v2_date_entered_<id>` (a few old deals have none: only a
create date). Some have no amount, no owner or no source; a few are in another currency; some
sit in Legal review. Some are deleted (archived) and some merged into another deal. Everything
is decided by the seed, and every time is before `NOW`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.support.hubspot_api import HubSpotApi, hubspot_time

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
SALES = [("appointmentscheduled", "Appointment Scheduled", 0.2),
         ("qualifiedtobuy", "Qualified To Buy", 0.4),
         ("presentationscheduled", "Presentation Scheduled", 0.6),
         ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
         ("contractsent", "Contract Sent", 0.9)]
PARTNER = [("7001", "New lead", 0.05), ("7002", "MQL", 0.1), ("7003", "Discovery", 0.3),
           ("7004", "Demo", 0.5), ("7005", "Legal review", 0.8)]
CLOSED = {"default": ("closedwon", "closedlost"), "7000": ("7006", "7007")}
OWNERS = [("101", "ana@example.com", "Ana", "Silva", False),
          ("102", "ben@example.com", "Ben", "Okafor", False),
          ("103", "cara@example.com", "Cara", "Lind", False),
          ("104", "dan@example.com", "Dan", "Moss", True)]  # left the company: archived
SOURCES = ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
           "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL"]
REASONS = ["Price", "Timing", "Went with a competitor", "No budget"]


@dataclass
class Portal:
    api: HubSpotApi
    deleted: list[str] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)  # merged away → primary


def build_portal(api: HubSpotApi, *, deals: int = 330, seed: int = 17) -> Portal:
    rng = random.Random(seed)
    api.add_pipeline("default", "Sales Pipeline",
                     [(i, label, p, False) for i, label, p in SALES]
                     + [("closedwon", "Closed Won", 1.0, True),
                        ("closedlost", "Closed Lost", 0.0, True)])
    api.add_pipeline("7000", "Partner Pipeline",
                     [(i, label, p, False) for i, label, p in PARTNER]
                     + [("7006", "Won", 1.0, True), ("7007", "Lost", 0.0, True)])
    for owner_id, email, first, last, archived in OWNERS:
        api.add_owner(owner_id, email, first, last, archived=archived)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for n in range(deals):
        deal_id = str(5_000_000 + n * 7)
        pipeline = "default" if rng.random() < 0.6 else "7000"
        stages = SALES if pipeline == "default" else PARTNER
        created = start + timedelta(days=rng.uniform(0, 280), minutes=rng.randrange(600))
        company = rng.choice(["Acme", "Globex", "Initech", "Umbrella", "Hooli"])
        props: dict[str, str] = {"dealname": f"Deal {n:03d} {company}", "pipeline": pipeline,
                                 "createdate": hubspot_time(created)}
        outcome = rng.choices(["open", "won", "lost"], weights=[45, 32, 23])[0]
        if pipeline == "default" or outcome != "open":
            last = rng.randrange(len(stages))
        else:  # an open partner deal sits in Legal review now and then
            last = len(stages) - 1 if rng.random() < 0.1 else rng.randrange(len(stages) - 1)
        path = [s for i, s in enumerate(stages[:last + 1])
                if i in (0, last) or rng.random() < 0.7]  # skipped stages
        at = created
        entered: list[tuple[str, datetime]] = []
        for index, (stage_id, _label, _p) in enumerate(path):
            if index:
                at += timedelta(days=rng.uniform(0.5, 20), minutes=rng.randrange(300))
            entered.append((stage_id, at))
        if outcome != "open":
            at += timedelta(days=rng.uniform(1, 25), minutes=rng.randrange(300))
            closed_stage = CLOSED[pipeline][0 if outcome == "won" else 1]
            entered.append((closed_stage, at))
            props["closedate"] = hubspot_time(at)
            props["dealstage"] = closed_stage
            if outcome == "lost" and rng.random() < 0.8:
                props["closed_lost_reason"] = rng.choice(REASONS)
        else:
            props["dealstage"] = path[-1][0]
            if rng.random() < 0.5:  # an expected close date in the future: not a close
                props["closedate"] = hubspot_time(NOW + timedelta(days=rng.uniform(5, 60)))
        props["hs_is_closed_won"] = "true" if outcome == "won" else "false"
        if rng.random() >= 0.06:  # a few old deals carry no stage entry dates
            for stage_id, when in entered:
                props[f"hs_v2_date_entered_{stage_id}"] = hubspot_time(when)
        if rng.random() < 0.85:
            props["amount"] = str(rng.randrange(500, 90_000)) + rng.choice(["", ".5", ".25"])
        props["deal_currency_code"] = "EUR" if rng.random() < 0.02 else "USD"
        if rng.random() < 0.92:
            props["hubspot_owner_id"] = rng.choice(OWNERS)[0]
        if rng.random() < 0.9:
            props["hs_analytics_source"] = rng.choice(SOURCES)
        modified = min(at + timedelta(hours=rng.uniform(1, 48)), NOW - timedelta(hours=1))
        api.add_deal(deal_id, props, modified=modified)
    portal = Portal(api)
    ids = list(api.deals)
    for deal_id in rng.sample(ids, 6):
        api.deals[deal_id].archived_at = NOW - timedelta(days=3)
        portal.deleted.append(deal_id)
    others = [i for i in ids if i not in portal.deleted]
    chosen = rng.sample(others, 6)
    for secondary, primary in zip(chosen[:3], chosen[3:], strict=True):
        api.deals[secondary].merged_into = primary
        api.deals[primary].properties["hs_merged_object_ids"] = secondary
        portal.merged[secondary] = primary
    return portal

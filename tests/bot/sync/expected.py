"""What a sync of the stand-in portal must give, computed here from the portal's raw deals
(HubSpot's documented properties) and SPEC section 5, without the sync's own mapping.

The stage meanings are those the portal was built with (tests/support/hubspot_portal.py):
HubSpot's default pipeline as the HubSpot deals preset reads it, the partner pipeline's labels
as kpibot's own words, closed stages by their probability; Legal review means nothing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tests.support.hubspot_api import HubSpotApi, StoredDeal

TRUTH: dict[str, str | None] = {
    "appointmentscheduled": "sql", "qualifiedtobuy": "sql", "presentationscheduled": "demo",
    "decisionmakerboughtin": "demo", "contractsent": "demo", "closedwon": "won",
    "closedlost": "lost", "7001": "lead", "7002": "mql", "7003": "opportunity", "7004": "demo",
    "7005": None, "7006": "won", "7007": "lost"}
FUNNEL = ["lead", "mql", "sql", "opportunity", "demo", "won"]
OWNER_USERS = {"101": "U_ANA", "102": "rep:ben-okafor", "103": "rep:cara-lind",
               "104": "rep:dan-moss", None: "rep:unassigned"}
SOURCE_GROUPS = {"ORGANIC_SEARCH": "organic", "PAID_SEARCH": "paid-search",
                 "EMAIL_MARKETING": "email", "SOCIAL_MEDIA": "social", "REFERRALS": "referral",
                 "OTHER_CAMPAIGNS": "other", "DIRECT_TRAFFIC": "direct", "OFFLINE": "other",
                 "PAID_SOCIAL": "social"}
ENTERED = "hs_v2_date_entered_"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class ExpectedDeal:
    id: str
    outcome: str
    stage_at: dict[str, datetime]  # lead..won, skipped stages filled
    closed_at: datetime | None
    amount_minor: int | None
    owner: str
    source: str | None
    events: int  # events the deal implies


def expected_deal(deal: StoredDeal) -> ExpectedDeal | None:
    """None when the deal cannot be synced (its stage means nothing, another currency)."""
    p = deal.properties
    current = TRUTH[p["dealstage"]]
    if current is None or p.get("deal_currency_code", "USD") != "USD":
        return None
    outcome = current if current in ("won", "lost") else "open"
    reached: dict[str, datetime] = {}
    for name, value in p.items():
        if not name.startswith(ENTERED):
            continue
        stage = TRUTH[name.removeprefix(ENTERED)]
        if stage not in FUNNEL[:5]:
            continue
        if outcome == "open" and FUNNEL.index(stage) > FUNNEL.index(current):
            continue
        reached[stage] = min(reached.get(stage, when(value)), when(value))
    if not reached:
        reached = {current if outcome == "open" else "opportunity": when(p["createdate"])}
    first_stage = min(reached, key=lambda s: (reached[s], FUNNEL.index(s)))
    closed_at = when(p["closedate"]) if outcome != "open" else None
    stage_at = dict(reached)
    if outcome == "won":
        stage_at["won"] = closed_at
    later = None  # SPEC 5: a skipped stage is reached when the next reached stage was
    for stage in reversed(FUNNEL):
        if stage in stage_at:
            later = stage_at[stage]
        elif later is not None:
            stage_at[stage] = later
    amount = None
    if outcome == "won" and p.get("amount"):
        amount = int((Decimal(p["amount"]) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    source = SOURCE_GROUPS.get(p.get("hs_analytics_source", "")) \
        if first_stage != "demo" else None
    return ExpectedDeal(deal.id, outcome, stage_at, closed_at, amount,
                        OWNER_USERS[p.get("hubspot_owner_id")], source,
                        len(reached) + (outcome != "open"))


def expected_deals(api: HubSpotApi) -> dict[str, ExpectedDeal]:
    found = {}
    for deal in api.live_deals():
        expected = expected_deal(deal)
        if expected is not None:
            found[deal.id] = expected
    return found


@dataclass
class ExpectedKpis:
    won: int
    lost: int
    revenue_minor: int
    wins_without_amount: int
    funnel: dict[str, int]
    stage_median_days: dict[str, float]
    stage_n: dict[str, int]
    cycle_median_days: float


def expected_kpis(deals: dict[str, ExpectedDeal]) -> ExpectedKpis:
    """Over the whole of 2026 (every date of the portal is in it)."""
    won = [d for d in deals.values() if d.outcome == "won"]
    funnel = {stage: sum(stage in d.stage_at for d in deals.values()) for stage in FUNNEL}
    medians, counts = {}, {}
    for stage, following in zip(FUNNEL[:5], FUNNEL[1:], strict=True):
        days = [(d.stage_at[following] - d.stage_at[stage]).total_seconds() / 86400
                for d in deals.values() if following in d.stage_at]
        medians[stage], counts[stage] = statistics.median(days), len(days)
    cycle = [(d.closed_at - min(d.stage_at.values())).total_seconds() / 86400 for d in won]
    return ExpectedKpis(
        won=len(won), lost=sum(d.outcome == "lost" for d in deals.values()),
        revenue_minor=sum(d.amount_minor or 0 for d in won),
        wins_without_amount=sum(d.amount_minor is None for d in won),
        funnel=funnel, stage_median_days=medians, stage_n=counts,
        cycle_median_days=statistics.median(cycle))

"""The event vocabulary: every kind a rep can log, its group, aliases and what it carries.

Pure data and lookups; no I/O. SPEC section 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Group(StrEnum):
    OUTREACH = "outreach"
    WEB = "web"
    INBOUND = "inbound"
    FUNNEL = "funnel"
    CUSTOMERS = "customers"
    MONEY = "money"


class Stage(StrEnum):
    """Funnel stages in order. `lost` ends a deal at any stage and is not in STAGE_ORDER."""

    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    DEMO = "demo"
    WON = "won"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


@dataclass(frozen=True)
class EventKind:
    name: str
    group: Group
    summary: str
    amount: str = "none"  # "none" | "optional" | "required" | "signed" (may be negative)
    duration: bool = False  # carries a duration (inbound-responded)
    stage: Stage | None = None  # the funnel stage this event moves a deal to
    closes: str | None = None  # "won" | "lost" for events that end a deal
    needs_deal: bool = False  # must name a deal or account
    example: str = ""
    team_ok: bool = False  # may have no rep: credited to the team ("unassigned"), SPEC 5
    amount_may_be_unknown: bool = False  # a record without the amount is still stored


def _k(name: str, group: Group, summary: str, **kw) -> EventKind:
    return EventKind(name=name, group=group, summary=summary, **kw)


_KINDS: tuple[EventKind, ...] = (
    # outreach
    _k("email-sent", Group.OUTREACH, "emails sent", example="email-sent 40"),
    _k("email-delivered", Group.OUTREACH, "emails delivered", example="email-delivered 38"),
    _k("email-opened", Group.OUTREACH, "emails opened", example="email-opened 20"),
    _k("email-clicked", Group.OUTREACH, "emails with a click", example="email-clicked 4"),
    _k("email-replied", Group.OUTREACH, "email replies", example="email-replied 3"),
    _k("email-bounced", Group.OUTREACH, "bounced emails", example="email-bounced 2"),
    _k("spam-complaint", Group.OUTREACH, "spam complaints", example="spam-complaint"),
    _k("call", Group.OUTREACH, "calls made", example="call 12"),
    _k("call-connected", Group.OUTREACH, "calls that connected", example="call-connected 5"),
    _k("connection-sent", Group.OUTREACH, "connection requests sent", example="connection-sent 25"),
    _k("connection-accepted", Group.OUTREACH, "connections accepted",
       example="connection-accepted 9"),
    _k("connection-replied", Group.OUTREACH, "connection replies", example="connection-replied 2"),
    _k("demo-request", Group.OUTREACH, "demo requests received", example="demo-request acme"),
    _k("demo-request-replied", Group.OUTREACH, "demo requests answered",
       example="demo-request-replied acme"),
    # web
    _k("website-visit", Group.WEB, "website visits", team_ok=True,
       example="website-visit 1200"),
    _k("website-bounce", Group.WEB, "website bounces", team_ok=True,
       example="website-bounce 700"),
    _k("cta-click", Group.WEB, "call-to-action clicks", team_ok=True,
       example="cta-click 35"),
    _k("social-engagement", Group.WEB, "social engagements", team_ok=True,
       example="social-engagement 80"),
    # inbound
    _k("inbound-request", Group.INBOUND, "inbound requests", example="inbound-request acme"),
    _k("inbound-responded", Group.INBOUND, "inbound requests answered (with response time)",
       duration=True, example="inbound-responded acme 4m"),
    # funnel
    _k("lead", Group.FUNNEL, "new lead (source=...)", stage=Stage.LEAD, needs_deal=True,
       team_ok=True,
       example="lead acme source=referral"),
    _k("mql", Group.FUNNEL, "marketing-qualified lead", stage=Stage.MQL, needs_deal=True,
       example="mql acme"),
    _k("sql", Group.FUNNEL, "sales-qualified lead", stage=Stage.SQL, needs_deal=True,
       example="sql acme"),
    _k("discovery-booked", Group.FUNNEL, "discovery call booked", needs_deal=False,
       example="discovery-booked acme"),
    _k("meeting-booked", Group.FUNNEL, "meeting booked", example="meeting-booked acme"),
    _k("meeting-held", Group.FUNNEL, "meeting held", example="meeting-held acme"),
    _k("demo-booked", Group.FUNNEL, "demo booked (moves the deal to demo)", stage=Stage.DEMO,
       example="demo-booked acme"),
    _k("demo-held", Group.FUNNEL, "demo held", example="demo-held acme"),
    _k("opportunity", Group.FUNNEL, "opportunity opened", stage=Stage.OPPORTUNITY,
       needs_deal=True, amount="optional", example="opportunity acme 20k"),
    _k("proposal", Group.FUNNEL, "proposal sent", amount="optional", example="proposal acme 20k"),
    _k("deal-won", Group.FUNNEL, "deal won (amount; optional mrr=)", stage=Stage.WON,
       closes="won", needs_deal=True, amount="required", amount_may_be_unknown=True,
       example="deal-won acme 12k mrr=1k"),
    _k("deal-lost", Group.FUNNEL, "deal lost (reason=, optional competitor=)", closes="lost",
       needs_deal=True, example="deal-lost acme reason=price competitor=rival"),
    # customers
    _k("churned", Group.CUSTOMERS, "customer churned (optional mrr=)", needs_deal=True,
       example="churned acme mrr=1k"),
    _k("mrr-change", Group.CUSTOMERS, "MRR change for an account (signed amount)",
       needs_deal=True, amount="signed", example="mrr-change acme -200"),
    # money
    _k("spend", Group.MONEY, "marketing spend (source=channel)", amount="required", team_ok=True,
       example="spend 5k source=paid-search"),
)

KINDS: dict[str, EventKind] = {k.name: k for k in _KINDS}

# The team: the user marketing events without a rep are credited to, shown as "Unassigned"
# in per-rep views (a named rep of that name, as a CRM deal without an owner gets).
UNASSIGNED_USER = "rep:unassigned"
UNASSIGNED_NAME = "Unassigned"
TEAM_KINDS: tuple[str, ...] = tuple(k.name for k in _KINDS if k.team_ok)


# What a record may carry beyond its kind: the same rules for every way in (chat, CSV, API).
MAX_NAME = 120  # characters of a deal, account, reason, competitor or source
MAX_NOTE = 500
MAX_DURATION = 365 * 24 * 3600  # seconds of a response time
MAX_USER_ID = 80  # characters of a user id (a chat id, or a named rep's rep: id)
MAX_REP_NAME = 200  # characters of a named rep's display name
MAX_KEY = 200  # characters of an idempotency key (a CSV key column, an API item key)
SOURCE_KINDS: tuple[str, ...] = ("lead", "spend", "mql", "sql", "opportunity",
                                 "inbound-request", "website-visit")
OPTION_KINDS: dict[str, tuple[str, ...]] = {  # which kinds take source, reason, competitor, mrr
    "reason": ("deal-lost", "churned"),
    "competitor": ("deal-lost",),
    "mrr": ("deal-won", "churned"),
    "source": SOURCE_KINDS,
}


def text_length(text: str) -> int:
    """The length a text limit counts: as written or case-folded, whichever is longer (deal and
    account keys are stored case-folded, within the same limit: `ß` counts 2)."""
    return max(len(text), len(text.casefold()))


def option_problem(kind: EventKind, option: str) -> str | None:
    """Why `kind` cannot carry `option` (source, reason, competitor, mrr), or None if it can."""
    allowed = OPTION_KINDS.get(option)
    if allowed is None or kind.name in allowed:
        return None
    return f"{kind.name} takes no {option} (it goes with " + " or ".join(allowed) + ")"


def record_problem(kind: EventKind, *, has_user: bool, has_amount: bool) -> str | None:
    """Why a dated record (a CSV row, an API item) of `kind` lacking a rep or an amount cannot
    be stored, or None when it can (SPEC 5 "Owners and amounts").

    Marketing events (leads, web events, social engagement, spend) may have no rep: they are
    credited to UNASSIGNED_USER. A won deal whose amount is unknown is still a win (revenue
    views count such wins apart). Every other kind needs its rep, and a kind whose amount is
    required needs it. Chat may still ask for the amount of a win (`kind.amount`).
    """
    if not has_user and not kind.team_ok:
        return (f"{kind.name} needs the rep it is credited to (the user is empty; only "
                + ", ".join(TEAM_KINDS) + " may be unassigned)")
    if not has_amount and kind.amount == "required" and not kind.amount_may_be_unknown:
        return f"{kind.name} needs an amount"
    return None

ALIASES: dict[str, str] = {
    "demo": "demo-booked",
    "demo-book": "demo-booked",
    "won": "deal-won",
    "win": "deal-won",
    "closed-won": "deal-won",
    "lost": "deal-lost",
    "loss": "deal-lost",
    "closed-lost": "deal-lost",
    "calls": "call",
    "dial": "call",
    "connected": "call-connected",
    "email": "email-sent",
    "emails": "email-sent",
    "sent": "email-sent",
    "delivered": "email-delivered",
    "opened": "email-opened",
    "open": "email-opened",
    "clicked": "email-clicked",
    "replied": "email-replied",
    "reply": "email-replied",
    "bounced": "email-bounced",
    "bounce": "email-bounced",
    "spam": "spam-complaint",
    "meeting": "meeting-booked",
    "meeting-book": "meeting-booked",
    "held": "meeting-held",
    "discovery": "discovery-booked",
    "demo-done": "demo-held",
    "opp": "opportunity",
    "oppty": "opportunity",
    "quote": "proposal",
    "visit": "website-visit",
    "visits": "website-visit",
    "click": "cta-click",
    "churn": "churned",
    "inbound": "inbound-request",
    "responded": "inbound-responded",
    "leads": "lead",
}

LEAD_SOURCES: tuple[str, ...] = (
    "direct", "organic", "social", "email", "partner", "referral", "paid-search", "display",
    "other",
)

_SOURCE_ALIASES = {
    "ppc": "paid-search",
    "sem": "paid-search",
    "paid": "paid-search",
    "google-ads": "paid-search",
    "seo": "organic",
    "search": "organic",
    "linkedin": "social",
    "twitter": "social",
    "facebook": "social",
    "referrals": "referral",
    "partners": "partner",
    "banner": "display",
    "ads": "display",
}

# The lead-source values CRMs document, by the group they belong to (SPEC 5). HubSpot: the
# "Original Source" property (hs_analytics_source, labels and internal values); Salesforce: the
# default LeadSource picklist and the values of older orgs; Pipedrive: the deal "Source
# channel" options and the "Source origin" values (how the deal was created).
CRM_SOURCES: dict[str, tuple[str, ...]] = {
    "direct": ("Direct Traffic", "DIRECT_TRAFFIC", "Phone Inquiry", "Direct", "Web visitors",
               "Live chat", "Chatbot"),
    "organic": ("Organic Search", "ORGANIC_SEARCH", "Web", "Web forms", "Web form",
                "LeadBooster", "Organic"),
    "social": ("Social Media", "SOCIAL_MEDIA", "Organic Social", "Paid Social", "PAID_SOCIAL",
               "Social", "Messaging inbox"),
    "email": ("Email Marketing", "EMAIL_MARKETING", "Email", "Campaigns"),
    "partner": ("Partner Referral", "Partner", "Seminar - Partner"),
    "referral": ("Referrals", "REFERRALS", "AI Referrals", "AI_REFERRALS", "Referral",
                 "Employee Referral", "External Referral", "Word of mouth"),
    "paid-search": ("Paid Search", "PAID_SEARCH"),
    "display": ("Advertisement", "Display", "Display ads"),
    "other": ("Other Campaigns", "OTHER_CAMPAIGNS", "Offline Sources", "OFFLINE", "Other",
              "Purchased List", "Public Relations", "Seminar - Internal", "Trade Show",
              "Events", "Manually created", "API", "Import", "Prospector", "Marketplace app",
              "Workflow automation", "None"),
}


def source_key(text: str) -> str:
    """Source text compared loosely: case, spaces, `_`, `-` and punctuation alike."""
    return re.sub(r"[\W_]+", "-", text.strip().casefold()).strip("-")


_SOURCE_GROUPS: dict[str, str] = {
    **{source_key(group): group for group in LEAD_SOURCES},
    **{source_key(alias): group for alias, group in _SOURCE_ALIASES.items()},
    **{source_key(label): group for group, labels in CRM_SOURCES.items() for label in labels},
}


@lru_cache(maxsize=4096)  # an import asks about the same few labels a million times
def source_group(raw: str) -> str | None:
    """The lead-source group a known source word or CRM label names, or None."""
    return _SOURCE_GROUPS.get(source_key(raw))


def resolve_kind(word: str) -> EventKind | None:
    """The event kind a word names (canonical name or alias, case-insensitive), or None."""
    key = word.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    return KINDS.get(key)


def normalize_source(raw: str) -> str:
    """The lead-source group a free-text source belongs to; unknown text groups as `other`."""
    return source_group(raw) or "other"


def kinds_in_group(group: Group) -> list[EventKind]:
    return [k for k in _KINDS if k.group == group]


def stage_index(stage: Stage) -> int:
    return STAGE_ORDER.index(stage)

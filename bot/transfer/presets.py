"""The two CSV formats kpibot reads, and the column maps of common CRM exports.

Events format (`--format events`, also what `kpibot export` writes): one row per event. The
header starts with the eleven canonical columns of SPEC section 10, in this order, followed by
the extra columns an exact round trip needs (all optional on import):

    occurred_at,event,count,amount,currency,deal,account,user,source,reason,note,
    mrr,duration_seconds,competitor,deal_id,user_id,key,voided_at

Deals format (`--format deals`): one row per deal/opportunity as CRMs export them. Its fields
(the names `--map COLUMN=FIELD` takes) are `DEAL_FIELDS`; columns are recognised by the names
in `DEAL_ALIASES`, by a preset's exact CRM column names, or by `--map`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- events format -----------------------------------------------------------------------------

CANONICAL_COLUMNS: tuple[str, ...] = (
    "occurred_at", "event", "count", "amount", "currency", "deal", "account", "user", "source",
    "reason", "note",
)
EXTRA_COLUMNS: tuple[str, ...] = (
    "mrr",  # deal-won / churned: monthly recurring revenue, major units like amount
    "duration_seconds",  # inbound-responded: response time in seconds (4m, 1h30m also read)
    "competitor",  # deal-lost
    "deal_id",  # the deal key when it is not simply the deal name case-folded (CRM imports)
    "user_id",  # the exact user id the event is credited to (`user` holds the name)
    "key",  # the event's idempotency key: re-importing an export adds nothing
    "voided_at",  # set on voided events (exported with --include-void only)
)
EXPORT_COLUMNS: tuple[str, ...] = CANONICAL_COLUMNS + EXTRA_COLUMNS
EVENT_FIELDS: frozenset[str] = frozenset(EXPORT_COLUMNS)
EVENT_REQUIRED: tuple[str, ...] = ("occurred_at", "event")  # no user: the team's
EVENT_ALIASES: dict[str, str] = {
    "duration": "duration_seconds",
    "kind": "event",
    "date": "occurred_at",
    "occurred": "occurred_at",
    "idempotency_key": "key",
}

# --- deals format ------------------------------------------------------------------------------

DEAL_FIELDS: tuple[str, ...] = (
    "id",  # the CRM's deal id: becomes the deal key (falls back to the name)
    "name",  # deal name
    "owner",  # rep: name or email, matched to a chat user or kept as a named rep
    "account",  # company / organization
    "stage",  # pipeline stage name
    "status",  # open / won / lost (when the CRM keeps it apart from the stage)
    "created",  # created date: the opportunity event
    "close_date",  # close date: the deal-won / deal-lost event (ignored for open deals)
    "won_date",  # won time (Pipedrive): used for won deals before close_date
    "lost_date",  # lost time (Pipedrive): used for lost deals before close_date
    "stage_date",  # when the deal entered its current stage (demo-booked date)
    "amount",
    "currency",
    "source",  # lead source
    "reason",  # lost reason
    "competitor",
)
DEAL_FIELD_SET: frozenset[str] = frozenset(DEAL_FIELDS)

# Generic header names (matched case-insensitively, spaces/underscores/dashes alike).
DEAL_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "deal id", "record id", "opportunity id", "deal key"),
    "name": ("name", "deal name", "deal", "title", "deal title", "opportunity name",
             "opportunity"),
    "owner": ("owner", "deal owner", "opportunity owner", "rep", "sales rep", "user",
              "owner email", "owner name", "assigned to"),
    "account": ("account", "account name", "company", "company name", "organization",
                "organisation", "associated company", "customer"),
    "stage": ("stage", "deal stage", "pipeline stage"),
    "status": ("status", "deal status", "outcome", "state"),
    "created": ("created", "create date", "created date", "created at", "creation date",
                "date created", "deal created", "add time", "opened"),
    "close_date": ("close date", "closed date", "closed at", "closed on", "close", "closed",
                   "closing date"),
    "won_date": ("won time", "won date", "won at", "won on"),
    "lost_date": ("lost time", "lost date", "lost at", "lost on"),
    "stage_date": ("stage date", "last stage change", "last stage change date",
                   "date entered current stage", "stage change time"),
    "amount": ("amount", "value", "deal value", "deal amount", "revenue"),
    "currency": ("currency", "currency code", "amount currency", "deal currency"),
    "source": ("source", "lead source", "original source", "original source type",
               "deal source"),
    "reason": ("reason", "lost reason", "loss reason", "closed lost reason", "reason lost"),
    "competitor": ("competitor", "competitors", "main competitor", "main competitor(s)",
                   "lost to"),
}


@dataclass(frozen=True)
class Preset:
    """The column names one CRM's deals export uses, per kpibot deal field (first found wins),
    and the stage and source values its documentation lists (shown when a value is unknown)."""

    name: str
    title: str
    columns: dict[str, tuple[str, ...]]
    stages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    "hubspot": Preset("hubspot", "HubSpot deals export", {
        "id": ("Record ID", "Deal ID", "Record ID - Deal"),
        "name": ("Deal Name",),
        "stage": ("Deal Stage",),
        "created": ("Create Date",),
        "close_date": ("Close Date",),
        "amount": ("Amount",),
        "currency": ("Currency", "Deal currency code"),
        "owner": ("Deal owner", "Deal Owner", "HubSpot Owner"),
        "account": ("Associated Company", "Associated Company (Primary)", "Company name"),
        "source": ("Original Source Type", "Original Source", "Lead Source"),
        "reason": ("Closed Lost Reason",),
        "stage_date": ("Date entered current stage",),
    }, stages=("Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled",
               "Decision Maker Bought-In", "Contract Sent", "Closed Won", "Closed Lost"),
       sources=("Organic Search", "Paid Search", "Email Marketing", "Social Media",
                "Organic Social", "Paid Social", "Referrals", "AI Referrals", "Other Campaigns",
                "Direct Traffic", "Offline Sources")),
    "salesforce": Preset("salesforce", "Salesforce opportunities report", {
        "id": ("Opportunity ID", "Opportunity ID (18)"),
        "name": ("Opportunity Name",),
        "account": ("Account Name",),
        "stage": ("Stage",),
        "amount": ("Amount",),
        "currency": ("Amount Currency", "Opportunity Currency"),
        "close_date": ("Close Date",),
        "created": ("Created Date",),
        "owner": ("Opportunity Owner",),
        "source": ("Lead Source",),
        "reason": ("Loss Reason", "Closed Lost Reason", "Reason Lost"),
        "competitor": ("Main Competitor(s)", "Competitor"),
        "stage_date": ("Last Stage Change Date",),
    }, stages=("Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
               "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote",
               "Negotiation/Review", "Closed Won", "Closed Lost"),
       sources=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other",
                "Advertisement", "Employee Referral", "External Referral", "Partner",
                "Public Relations", "Seminar - Internal", "Seminar - Partner", "Trade Show",
                "Word of mouth")),
    "pipedrive": Preset("pipedrive", "Pipedrive deals export", {
        "id": ("Deal - ID",),
        "name": ("Deal - Title",),
        "account": ("Deal - Organization",),
        "amount": ("Deal - Value",),
        "currency": ("Deal - Currency", "Deal - Currency of value"),
        "status": ("Deal - Status",),
        "stage": ("Deal - Stage",),
        "created": ("Deal - Deal created", "Deal - Add time", "Deal - Deal created on"),
        "close_date": ("Deal - Deal closed on", "Deal - Closed on", "Deal - Close time"),
        "won_date": ("Deal - Won time",),
        "lost_date": ("Deal - Lost time",),
        "owner": ("Deal - Owner",),
        "reason": ("Deal - Lost reason",),
        "source": ("Deal - Source channel", "Deal - Source", "Deal - Source origin",
                   "Deal - Lead source"),
        "stage_date": ("Deal - Last stage change", "Deal - Stage change time"),
    }, stages=("Lead In", "Qualified", "Contact Made", "Demo Scheduled", "Proposal Made",
               "Negotiations Started", "Prospect Qualified", "Needs Defined"),
       sources=("Organic search", "Paid search", "Direct traffic", "Email marketing",
                "Social media", "Paid social", "Referral", "Display ads", "Events",
                "Offline sources", "Other", "Manually created", "Web forms", "API", "Import",
                "LeadBooster", "Chatbot", "Live chat", "Prospector", "Web visitors",
                "Campaigns", "Messaging inbox", "Marketplace app", "Workflow automation")),
}

# --- stages ------------------------------------------------------------------------------------

# kpibot stages a CRM stage may map to; won/lost close a deal.
STAGE_TARGETS: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "demo", "won", "lost")

# CRM stage names (default pipelines of HubSpot, Salesforce and Pipedrive, labels and HubSpot's
# internal ids) and common words, normalised by `stage_key`.
STAGE_NAMES: dict[str, str] = {
    # HubSpot default sales pipeline
    "appointment scheduled": "sql", "appointmentscheduled": "sql",
    "qualified to buy": "sql", "qualifiedtobuy": "sql",
    "presentation scheduled": "demo", "presentationscheduled": "demo",
    "decision maker bought in": "demo", "decisionmakerboughtin": "demo",
    "contract sent": "demo", "contractsent": "demo",
    "closed won": "won", "closedwon": "won",
    "closed lost": "lost", "closedlost": "lost",
    # Salesforce standard opportunity stages
    "prospecting": "sql", "qualification": "sql", "needs analysis": "opportunity",
    "value proposition": "demo", "id decision makers": "demo", "perception analysis": "demo",
    "proposal price quote": "demo", "negotiation review": "demo",
    # Pipedrive default pipeline
    "lead in": "lead", "qualified": "sql", "contact made": "opportunity",
    "needs defined": "opportunity", "prospect qualified": "sql", "demo scheduled": "demo",
    "proposal made": "demo", "negotiations started": "demo",
    # kpibot's own words and common ones
    "lead": "lead", "new": "lead", "new lead": "lead",
    "mql": "mql", "marketing qualified": "mql", "marketing qualified lead": "mql",
    "sql": "sql", "sales qualified": "sql", "sales qualified lead": "sql",
    "opportunity": "opportunity", "discovery": "opportunity", "open": "opportunity",
    "demo": "demo", "demo booked": "demo", "demo held": "demo", "presentation": "demo",
    "proposal": "demo", "negotiation": "demo",
    "won": "won", "deal won": "won", "win": "won",
    "lost": "lost", "deal lost": "lost",
}
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("won", "won"), ("lost", "lost"), ("demo", "demo"), ("present", "demo"),
    ("proposal", "demo"), ("negotiat", "demo"), ("contract", "demo"), ("quote", "demo"),
    ("qualif", "sql"), ("mql", "mql"), ("sql", "sql"),
)

STATUS_NAMES: dict[str, str] = {
    "open": "open", "in progress": "open", "active": "open",
    "won": "won", "closed won": "won", "win": "won",
    "lost": "lost", "closed lost": "lost", "loss": "lost",
    "deleted": "deleted",
}


def stage_key(text: str) -> str:
    """Stage/status/header text compared loosely: case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold().replace("_", " ")).split())


# kpibot's own stage words, known in every file.
OWN_STAGES: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "demo", "won", "lost")


def map_stage(text: str, overrides: dict[str, str] | None = None,
              preset: str | None = None) -> str | None:
    """The kpibot stage (or won/lost) a CRM stage name means, or None when it is unknown.

    `--stage` overrides first, then the CRM stage names and kpibot's own words (STAGE_NAMES).
    Without a preset, a stage name that contains a telling word (won, lost, demo, proposal,
    negotiation, contract, quote, qualified, mql, sql) means that stage; a preset's file names
    stages exactly, so anything else is unknown there (SPEC 10: never guessed).
    """
    key = stage_key(text)
    if overrides and key in overrides:
        return overrides[key]
    if key in STAGE_NAMES:
        return STAGE_NAMES[key]
    if preset is None:
        words = key.split()
        for needle, target in _KEYWORDS:
            if any(word.startswith(needle) for word in words):
                return target
    return None


def known_stages(preset: str | None) -> tuple[str, ...]:
    """The stage names to list when a stage is unknown: the preset's, then kpibot's words."""
    return (PRESETS[preset].stages if preset else ()) + OWN_STAGES


def header_key(text: str) -> str:
    """A header compared loosely: BOM, case, spacing, `_`/`-` and punctuation ignored."""
    return stage_key(text.replace("\ufeff", ""))

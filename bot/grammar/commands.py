"""The typed commands the grammar returns: one frozen dataclass per command, and their union."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time


@dataclass(frozen=True)
class HelpCommand:
    topic: str | None = None
    public: bool = False


@dataclass(frozen=True)
class ListCommand:
    public: bool = False


@dataclass(frozen=True)
class PingCommand:
    """`/kpi ping`: answered without touching the database (the benchmark's floor)."""

    public: bool = False


@dataclass(frozen=True)
class LogCommand:
    kind: str  # canonical event kind
    deal: str | None = None  # as typed: trimmed, quotes removed, inner whitespace collapsed
    deal_key: str | None = None  # deal.casefold()
    account: str | None = None
    count: int = 1
    amount_minor: int | None = None
    currency: str | None = None  # the workspace currency when an amount is given
    duration_seconds: int | None = None
    mrr_minor: int | None = None
    on_behalf_of: str | None = None  # user id of the @mention
    source: str | None = None  # lead-source group (normalize_source)
    source_raw: str | None = None
    reason: str | None = None
    competitor: str | None = None
    on_date: date | None = None
    note: str | None = None
    public: bool = False


@dataclass(frozen=True)
class UndoCommand:
    event_id: int | None = None
    public: bool = False


@dataclass(frozen=True)
class FunnelCommand:
    period: str | None = None  # raw period text; the handler resolves it in the workspace tz
    user: str | None = None
    cohort: bool = False
    public: bool = False


@dataclass(frozen=True)
class QuotaCommand:
    period: str | None = None
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class QuotaSetCommand:
    user: str
    target: int  # minor units for revenue, a count for an event-kind metric
    cadence: str = "monthly"  # "monthly" | "quarterly"
    metric: str = "revenue"  # "revenue" or a canonical event kind
    public: bool = False
    effective_from: date | None = None  # `from DATE`; None: the start of this month


@dataclass(frozen=True)
class QuotaHistoryCommand:
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class ChurnCommand:
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class KpiCommand:
    name: str  # as spelled in kpi_names
    period: str | None = None
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class LeaderboardCommand:
    kpi: str | None = None
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class MeCommand:
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class DigestHereCommand:
    cadence: str = "weekly"  # "weekly" | "monthly"
    day: int = 0  # weekly: 0=Mon..6=Sun; monthly: 1..28, or -1 for the last day
    time: time = field(default_factory=lambda: time(9, 0))
    tz: str | None = None
    lang: str | None = None
    webhook: str | None = None  # Teams Workflows webhook URL (a secret)
    public: bool = False


@dataclass(frozen=True)
class DigestCommand:
    action: str  # "off" | "list" | "preview" | "now" | "status"
    public: bool = False


@dataclass(frozen=True)
class RepListCommand:
    """`/kpi rep list`: the named reps an import created, not yet linked to a chat user."""

    public: bool = False


@dataclass(frozen=True)
class RepLinkCommand:
    """`/kpi rep link REP @user` (admins).

    `rep` is as typed (quotes removed, inner whitespace collapsed): an id `rep:jane-doe`, a
    slug `jane-doe` or a name `Jane Doe`. The grammar reads no database, so the handler
    resolves it among the workspace's named reps.
    """

    rep: str
    user_id: str
    public: bool = False


Command = (
    HelpCommand | ListCommand | LogCommand | UndoCommand | FunnelCommand | QuotaCommand
    | QuotaSetCommand | QuotaHistoryCommand | ChurnCommand | KpiCommand | LeaderboardCommand
    | MeCommand
    | DigestHereCommand | DigestCommand | PingCommand | RepListCommand | RepLinkCommand
)

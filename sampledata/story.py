"""The story's shape: its rates and weights, the names it draws from, how big a team and how
long a history a size gets, and the team itself (see the package docstring)."""

from __future__ import annotations

import random
from dataclasses import dataclass

DAY = 86_400
HOUR = 3_600

# Share of the event budget that deals (and what hangs off them) take; outreach fills the rest.
DEAL_SHARE = 0.20
# Average number of events one lead produces over its life (measured on generated histories).
EVENTS_PER_LEAD = 4.3

LEAD_SOURCE_WEIGHTS: tuple[tuple[str, float, float], ...] = (
    # (source, share of leads, conversion multiplier)
    ("organic", 0.22, 1.0),
    ("direct", 0.10, 1.1),
    ("paid-search", 0.16, 0.8),
    ("social", 0.10, 0.75),
    ("email", 0.12, 0.9),
    ("referral", 0.10, 1.45),
    ("partner", 0.08, 1.3),
    ("display", 0.07, 0.7),
    ("other", 0.05, 0.9),
)
INBOUND_SOURCES = frozenset({"organic", "direct", "paid-search", "social", "display"})
OTHER_SOURCE_TEXT = ("webinar", "conference", "trade-show", "podcast")
SPEND_PER_MONTH: tuple[tuple[str, int, int], ...] = (
    # (source, low, high) in major units for a team of 6; scaled with the team
    ("paid-search", 4_000, 9_000),
    ("display", 1_000, 3_500),
    ("social", 1_500, 4_000),
    ("email", 300, 1_200),
    ("partner", 1_000, 3_000),
    ("other", 500, 2_500),
)
WEB_SOURCES: tuple[tuple[str, float], ...] = (
    ("organic", 0.45), ("direct", 0.25), ("paid-search", 0.18), ("social", 0.12),
)
LOSS_REASONS: tuple[tuple[str, float], ...] = (
    ("price", 0.30), ("timing", 0.20), ("no-decision", 0.30), ("competitor", 0.20),
)
# A deal that stops short of a stage is closed lost some days later: (median days, reasons).
DROP: dict[str, tuple[float, tuple[tuple[str, float], ...]]] = {
    "mql": (6.0, (("no-response", 0.6), ("unqualified", 0.4))),  # unworked leads
    "sql": (7.0, (("unqualified", 0.5), ("no-response", 0.3), ("timing", 0.2))),
    "opportunity": (9.0, (("no-decision", 0.4), ("timing", 0.3), ("unqualified", 0.3))),
    "demo-booked": (10.0, (("no-decision", 0.6), ("timing", 0.4))),
}
PATIENCE_DAYS = 21  # a deal whose next stage would take longer is closed lost instead (DROP)
DARK_DAYS = 32.0  # a demo whose buyer went quiet is given up after about this long
COMPETITORS = ("northwind", "contoso", "fabrikam", "tailspin", "globomantics")
CHURN_REASONS = ("budget", "switched", "no-usage", "closed-down")
COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "soylent", "tyrell", "wonka",
    "cyberdyne", "stark", "wayne", "gringotts", "oscorp", "massive", "nakatomi", "duff", "krusty",
    "monarch", "pied-piper", "aperture", "black-mesa", "blue-sun", "dunder", "sterling", "lacuna",
    "virtucon", "wernham", "bluth", "prestige", "octan", "zorg", "weyland", "sirius", "yoyodyne",
    "ollivander", "kwik-e", "spacely", "cogswell", "genco",
)
FIRST_NAMES = (
    "Ingrid", "Lars", "Maja", "Ola", "Sofia", "Erik", "Nora", "Jonas", "Elena", "Andrei",
    "Ioana", "Mihai", "Li", "Wei", "Mei", "Anna", "Johan", "Astrid", "Karin", "Nils", "Priya",
    "Sam", "Alex", "Maria", "David", "Sara", "Tom", "Emma", "Lucas", "Olivia",
)
LAST_NAMES = (
    "Berg", "Hansen", "Lindqvist", "Johansson", "Popescu", "Ionescu", "Chen", "Wang", "Nilsen",
    "Larsen", "Dumitru", "Svensson", "Olsen", "Haugen", "Zhang", "Patel", "Moreno", "Smith",
    "Brown", "Novak",
)

# Bumped whenever the same arguments generate a different history, so that cached copies
# (the benchmark's) are generated again. 2: every deal ends (DROP, PATIENCE_DAYS, DARK_DAYS).
STORY_VERSION = 2

MANAGER_ID = "UGENMGR"
MARKETING_ID = "UGENMKT"
CHANNEL_ID = "CGENSALES"


def history_days(target_events: int) -> int:
    """Days of history for a target size: 10k ≈ 182 days, 1M ≈ 1,097 days (a power law)."""
    days = 182 * (max(target_events, 1) / 10_000) ** 0.39
    return int(min(max(days, 28), 5 * 365))


def team_size(target_events: int) -> int:
    return min(40, target_events // 100_000 + 6)


@dataclass(frozen=True)
class Rep:
    user_id: str
    display_name: str
    role: str  # "sdr" | "ae"
    activity: float  # relative busyness



def make_team(rng: random.Random, size: int) -> list[Rep]:
    size = max(2, size)
    sdrs = max(1, round(size * 0.4))
    names: set[str] = set()
    team = []
    for i in range(size):
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if name not in names:
                names.add(name)
                break
        role = "sdr" if i < sdrs else "ae"
        team.append(Rep(f"UGEN{i + 1:03d}", name, role, rng.lognormvariate(0, 0.25)))
    return team

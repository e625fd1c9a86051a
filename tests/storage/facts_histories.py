"""Small hand-made histories for the SqlFacts tests, and helpers to write and read them.

The workspace is in Europe/Oslo (UTC+1 in November, UTC+2 until Sun 25 Oct 2026). Times in
the histories are Oslo wall-clock times; `osl()` turns them into UTC instants. Deal stage
times are 10:00 local unless noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from storage.event_queries import find_by_idempotency_key
from storage.facts import SqlFacts
from storage.models import Workspace
from storage.recording import NewEvent, record_event, record_events, void_event
from storage.workspaces import ensure_workspace

TZ = "Europe/Oslo"
OSLO = ZoneInfo(TZ)
WS, OTHER = "slack:TFACTS", "slack:TOTHER"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = 86_400


def osl(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An Oslo wall-clock time in 2026 as a UTC instant."""
    return datetime(2026, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


NOVEMBER = (osl(11, 1, 0), osl(12, 1, 0))
OCTOBER = (osl(10, 1, 0), osl(11, 1, 0))
# Starts and ends off local midnight: 2 Nov 15:00 .. 5 Nov 09:00 (whole days: 3 and 4 Nov).
WINDOW = (osl(11, 2, 15), osl(11, 5, 9))


def ev(key: str, kind: str, when: datetime, *, user: str = "U1", deal: str | None = None,
       **fields) -> NewEvent:
    return NewEvent(kind=kind, user_id=user, logged_by=user, occurred_at=when,
                    idempotency_key=key, deal_key=deal, deal_name=deal.title() if deal else None,
                    **fields)


def write(database, events: Iterable[NewEvent], *, void: Iterable[str] = (),
          workspace_id: str = WS, bulk: bool = True) -> None:
    """Record `events` (with record_events, or one by one with record_event), then void the
    `void` keys. Both paths give the same facts (test_workspaces_never_count_...)."""
    events = list(events)
    with database.write() as s:
        workspace = ensure_workspace(session=s, workspace_id=workspace_id, platform="slack",
                                     timezone=TZ, currency="EUR", now=NOW)
        if bulk:
            record_events(session=s, workspace=workspace, new_events=events, now=NOW)
        else:
            for new in events:
                record_event(session=s, workspace=workspace, new=new, now=NOW)
        for key in void:
            event = find_by_idempotency_key(session=s, workspace_id=workspace_id, key=key)
            void_event(session=s, workspace=workspace, event_id=event.id, voided_by="U1",
                       now=NOW)


def lerp(low: float, high: float, tenths: int) -> float:
    """Linear interpolation as SqlFacts computes it: low + (high - low) * tenths / 10."""
    return low + (high - low) * tenths / 10


def facts(session, workspace_id: str = WS) -> SqlFacts:
    return SqlFacts(session=session, workspace=session.get(Workspace, workspace_id))


# --------------------------------------------------------------------------------- histories

ACTIVITY = [
    ev("c1", "call", osl(11, 2, 14, 59), count=1),  # a minute before the window
    ev("c2", "call", osl(11, 2, 15), count=2),  # the window's first instant (leading edge)
    ev("c3", "call", osl(11, 2, 23, 59), count=4),  # leading edge
    ev("c4", "call", osl(11, 3, 0), count=8),  # local midnight: a whole day (rollups)
    ev("c5", "call", osl(11, 3, 12), count=256),  # voided
    ev("c6", "call", osl(11, 4, 10), count=512, user="U2"),
    ev("c7", "call", osl(11, 4, 23, 30), count=16),  # 22:30 UTC: still 4 Nov locally
    ev("c8", "call", osl(11, 5, 8, 59), count=32, user="U2"),  # trailing edge
    ev("c9", "call", osl(11, 5, 9), count=64),  # the window's end: excluded
    ev("c10", "call", osl(11, 5, 12), count=128),  # same local day, after the end
    ev("m1", "email-sent", osl(11, 3, 9), count=40),
    ev("s1", "spend", osl(11, 2, 16), amount_minor=1000, currency="EUR", source="paid-search",
       user="U3"),
    ev("s2", "spend", osl(11, 4, 9), amount_minor=2000, currency="EUR", user="U3"),  # no source
    ev("s3", "spend", osl(11, 5, 8), amount_minor=4000, currency="EUR", source="other",
       user="U3"),
    ev("s4", "spend", osl(11, 3, 9), amount_minor=8000, currency="EUR", source="social",
       user="U3"),  # voided
    # inbound response times (seconds)
    ev("d1", "inbound-responded", osl(11, 2, 16), duration_seconds=60),
    ev("d2", "inbound-responded", osl(11, 3, 10), duration_seconds=180),
    ev("d3", "inbound-responded", osl(11, 3, 11), duration_seconds=200, user="U2"),
    ev("d4", "inbound-responded", osl(11, 4, 10), duration_seconds=240),
    ev("d5", "inbound-responded", osl(11, 4, 11), duration_seconds=7200, user="U2"),
    ev("d6", "inbound-responded", osl(11, 4, 12), duration_seconds=5),  # voided
    ev("d7", "inbound-responded", osl(11, 4, 13)),  # no duration
    ev("d8", "inbound-responded", osl(11, 5, 10), duration_seconds=300),  # after WINDOW
]
ACTIVITY_VOID = ("c5", "s4", "d6")

# Deals (owner = the user of the last stage event):
#   a  referral   lead 1 Nov, mql 2, sql 4, opportunity 6, demo 8, won 10 Nov (1,000.00)  U1
#   b  organic    lead 1 Nov, opportunity 3 (mql, sql skipped), lost 9 Nov (price, rival) U2
#   c  (none)     lead 2, mql 3, lost 5 Nov, reopened: sql 7, won 12 Nov (500.00)        U2
#   d  referral   lead 4, mql 6: open at mql                                              U2
#   e  paid-search lead 5: open at lead                                                   U3
#   f  organic    lead 3; its win (9 Nov) is void: open at lead                           U3
#   g  organic    lead 20 Oct (CEST), won 3 Nov (CET; mql..demo skipped) (300.00)         U1
#   h  (none)     demo-booked 7 Nov only (lead..opportunity skipped): open at demo        U1
#   i  (none)     lead 15, lost 16 Nov (no reason, no competitor)                         U1
DEALS = [
    ev("a1", "lead", osl(11, 1), user="U3", deal="a", source="referral"),
    ev("a2", "mql", osl(11, 2), user="U3", deal="a"),
    ev("a3", "sql", osl(11, 4), user="U3", deal="a"),
    ev("a4", "opportunity", osl(11, 6), deal="a"),
    ev("a5", "demo-booked", osl(11, 8), deal="a"),
    ev("a6", "deal-won", osl(11, 10), deal="a", amount_minor=100_000, currency="EUR"),
    ev("b1", "lead", osl(11, 1), user="U3", deal="b", source="organic"),
    ev("b2", "opportunity", osl(11, 3), user="U2", deal="b"),
    ev("b3", "deal-lost", osl(11, 9), user="U2", deal="b", reason="price", competitor="rival"),
    ev("c1", "lead", osl(11, 2), user="U3", deal="c"),
    ev("c2", "mql", osl(11, 3), user="U3", deal="c"),
    ev("c3", "deal-lost", osl(11, 5), user="U2", deal="c", reason="timing"),
    ev("c4", "sql", osl(11, 7), user="U2", deal="c"),
    ev("c5", "deal-won", osl(11, 12), user="U2", deal="c", amount_minor=50_000, currency="EUR"),
    ev("d1", "lead", osl(11, 4), user="U3", deal="d", source="referral"),
    ev("d2", "mql", osl(11, 6), user="U2", deal="d"),
    ev("e1", "lead", osl(11, 5), user="U3", deal="e", source="paid-search"),
    ev("f1", "lead", osl(11, 3), user="U3", deal="f", source="organic"),
    ev("f2", "deal-won", osl(11, 9), deal="f", amount_minor=999_900, currency="EUR"),
    ev("g1", "lead", osl(10, 20), deal="g", source="organic"),
    ev("g2", "deal-won", osl(11, 3), deal="g", amount_minor=30_000, currency="EUR"),
    ev("h1", "demo-booked", osl(11, 7), deal="h"),
    ev("i1", "lead", osl(11, 15), deal="i"),
    ev("i2", "deal-lost", osl(11, 16), deal="i"),
]
DEALS = [NewEvent(**{**e.__dict__, "idempotency_key": "deal-" + e.idempotency_key})
         for e in DEALS]
DEALS_VOID = ("deal-f2",)

# Accounts: alpha (won 1 Oct, MRR 100.00; -40.00 on 4 Nov; a void churn and a void -9.99);
# bravo (deals bravo-1 won 5 Oct MRR 200.00, bravo-2 won 3 Nov MRR 50.00, both naming account
# bravo; +30.00 on 20 Oct; churned 10 Nov without mrr=, so at its MRR then: 280.00); charlie
# (won 2 Nov MRR 300.00, churned 6 Nov with mrr=300.00: won and churned in November); delta
# (its only win is void).
CUSTOMERS = [
    ev("a1", "lead", osl(9, 20), deal="alpha"),
    ev("a2", "deal-won", osl(10, 1), deal="alpha", amount_minor=1, mrr_minor=10_000),
    ev("b1", "lead", osl(9, 25), deal="bravo-1"),
    ev("b2", "deal-won", osl(10, 5), deal="bravo-1", account_key="bravo", amount_minor=1,
       mrr_minor=20_000),
    ev("b3", "mrr-change", osl(10, 20), account_key="bravo", amount_minor=3_000),
    ev("b4", "lead", osl(10, 28), deal="bravo-2", account_key="bravo"),
    ev("b5", "deal-won", osl(11, 3), deal="bravo-2", amount_minor=1, mrr_minor=5_000),
    ev("c1", "lead", osl(10, 30), deal="charlie"),
    ev("c2", "deal-won", osl(11, 2), deal="charlie", amount_minor=1, mrr_minor=30_000),
    ev("a3", "mrr-change", osl(11, 4), deal="alpha", amount_minor=-4_000),
    ev("c3", "churned", osl(11, 6), deal="charlie", mrr_minor=30_000),
    ev("a4", "churned", osl(11, 7), deal="alpha"),  # voided
    ev("a5", "mrr-change", osl(11, 8), deal="alpha", amount_minor=-999),  # voided
    ev("b6", "churned", osl(11, 10), account_key="bravo"),
    ev("d1", "lead", osl(11, 1), deal="delta"),
    ev("d2", "deal-won", osl(11, 20), deal="delta", amount_minor=1, mrr_minor=70_000),  # void
]
CUSTOMERS = [NewEvent(**{**e.__dict__, "idempotency_key": "cust-" + e.idempotency_key})
             for e in CUSTOMERS]
CUSTOMERS_VOID = ("cust-a4", "cust-a5", "cust-d2")

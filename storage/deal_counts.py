"""Deal counts and sums over any period at the cost of a few months.

A period `[start, end)` is read in three pieces, in one UNION ALL statement:
- UTC months from `deal_counts` (kept by triggers on `deals`, migration 0015: per milestone,
  UTC month, owner, source, and for losses reason and competitor; without a rep or a source
  to filter or group by, the team's rows, one per month and milestone);
- at each edge, the deals of the partial month's part inside the period, added, or of its
  part outside the period, taken away from its whole month (`plan`: the shorter span), read
  from `deals` through the stage indexes (`ix_deals_lead` ... `ix_deals_demo`) and
  `ix_deals_closed` as range predicates.
A piece that spans nothing (an edge on a UTC month start, no whole month) is left out of the
statement.
The months and the deals count the same deals the same way, so the answers are those of a
count over `deals` in any time zone, and a period costs at most about a month of deals.

Milestones: a stage name ("lead" ... "demo": its timestamp in the period), "won" / "lost"
(`closed_at` in the period and outcome won / lost). Values (summed per group): "deals", "to_<x>"
(how many have reached stage x: its timestamp set; "to_won" / "to_lost": the outcome),
"amount_sum" (amounts, none = 0), "no_amount" (deals without an amount), "mrr_sum", and "zero"
(padding). Group keys: owner_id, source, reason, competitor; "" stands for none (a NULL and an
empty value count together).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from reports.events import STAGE_ORDER, Stage
from storage.prepared import Prepared

if TYPE_CHECKING:  # the builders import them: the light read path (storage/lite.py) does not
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

NO_SOURCE = "other"  # the key for events/deals without a lead source (by="source")
NO_VALUE = "(none)"  # the key for deals without an owner, lost deals without a reason...

Request = tuple[str, tuple[str, ...]]  # (milestone, value names)

_TIMES = {"lead": "lead_at", "mql": "mql_at", "sql": "sql_at",  # Deal's columns
          "opportunity": "opportunity_at", "demo": "demo_at"}
_OUTCOMES = ("won", "lost")
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # before every deal


# ------------------------------------------------ the deal facts (reports' Facts Protocol)

def deals_reaching(session: Session, workspace_id: str, stage: Stage, start: datetime,
                   end: datetime, *, user: str | None = None, by: str | None = None
                   ) -> dict[str, int]:
    """Deals whose `stage` timestamp is in the window (WON: won deals, closed_at in it)."""
    groups = _by(session, workspace_id, [(_milestone(stage), ("deals",))], start, end,
                 user=user, by=by)
    return {key: n for key, (n,) in groups[0].items()}


def cohort_conversion(session: Session, workspace_id: str, from_stage: Stage,
                      to_stage: Stage | str, start: datetime, end: datetime, *,
                      user: str | None = None, by: str | None = None
                      ) -> dict[str, tuple[int, int]]:
    """Deals whose `from_stage` timestamp is in the window, and how many of them have reached
    `to_stage` (its timestamp set; "won": outcome won; "lost": outcome lost)."""
    reached = "to_lost" if to_stage == "lost" else f"to_{Stage(to_stage).value}"
    groups = _by(session, workspace_id, [(_milestone(from_stage), ("deals", reached))],
                 start, end, user=user, by=by)
    return {key: (n, converted) for key, (n, converted) in groups[0].items()}


def closed_deals(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                 user: str | None = None, by: str | None = None
                 ) -> dict[str, tuple[int, int, int]]:
    """(won, lost, won amount) of the deals whose final close is in the window."""
    check_by(by, ("user",))
    won, lost = _by(session, workspace_id, [("won", ("deals", "amount_sum")),
                                            ("lost", ("deals",))], start, end,
                    user=user, by=by, keep_empty=True)
    result = {}
    for key in {**won, **lost}:
        n_won, amount = won.get(key, (0, 0))
        n_lost = lost.get(key, (0,))[0]
        if n_won or n_lost:
            result[key] = (n_won, n_lost, amount)
    return result


def won_amounts(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                user: str | None = None, by: str | None = None) -> dict[str, int]:
    """The won amount of the groups with deals won in the window (closed_deals' wins)."""
    check_by(by, ("user",))
    (won,) = _by(session, workspace_id, [("won", ("deals", "amount_sum"))], start, end,
                 user=user, by=by)
    return {key: amount for key, (_n, amount) in won.items()}


def wins_without_amount(session: Session, workspace_id: str, start: datetime,
                        end: datetime, *, user: str | None = None) -> int:
    """Won deals closed in the window without an amount."""
    found = count_deals(session, workspace_id, [("won", ("no_amount",))], start, end,
                        user=user)
    return sum(values[0] for values in found[0].values())


def loss_breakdown(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                   user: str | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Lost deals closed in the window, per reason and per competitor ("(none)")."""
    reasons: dict[str, int] = {}
    competitors: dict[str, int] = {}
    found = count_deals(session, workspace_id, [("lost", ("deals",))], start, end, user=user,
                        keys=("reason", "competitor"))
    for (reason, competitor), (n,) in found[0].items():
        if n:
            reasons[reason or NO_VALUE] = reasons.get(reason or NO_VALUE, 0) + n
            competitors[competitor or NO_VALUE] = competitors.get(competitor or NO_VALUE,
                                                                  0) + n
    return reasons, competitors


@dataclass(frozen=True)
class FunnelFigures:
    """What the funnel counts over a window, read in one statement (`funnel_figures`)."""

    counts: dict[Stage, tuple[int, int]]  # funnel_counts
    lead_to_won: dict[str, tuple[int, int]]  # cohort_conversion(LEAD, WON)
    closed: dict[str, tuple[int, int, int]]  # closed_deals


# The leads' request also reads the lead-to-won cohort (one scan of their rows for both).
_FUNNEL_REQUESTS: tuple[Request, ...] = (
    ("lead", ("deals", "to_mql", "to_won")),
    *((stage.value, ("deals", f"to_{following.value}"))
      for stage, following in zip(STAGE_ORDER[1:], STAGE_ORDER[2:], strict=False)),
    ("won", ("deals", "amount_sum")), ("lost", ("deals",)))


def funnel_figures(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                   user: str | None = None) -> FunnelFigures:
    """`funnel_counts`, the lead-to-won cohort and `closed_deals` of the window (the team's
    or `user`'s, by=None), as those functions answer them, in one statement."""
    found = count_deals(session, workspace_id, _FUNNEL_REQUESTS, start, end, user=user)
    groups = [group.get((), [0, 0, 0]) for group in found]
    counts = {}
    for stage, (n, converted, *_zero) in zip(STAGE_ORDER[:-1], groups, strict=False):
        counts[stage] = (n, converted if n else 0)
    leads, _to_mql, leads_won = groups[0]
    (won, amount, *_zero), (lost, *_zeros) = groups[-2:]
    counts[Stage.WON] = (won, 0)
    return FunnelFigures(counts=counts,
                         lead_to_won={"all": (leads, leads_won)} if leads else {},
                         closed={"all": (won, lost, amount)} if won or lost else {})


def funnel_counts(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                  user: str | None = None) -> dict[Stage, tuple[int, int]]:
    """Per stage: deals reaching it in the window and how many of them reached the next
    stage, in one statement."""
    return funnel_figures(session, workspace_id, start, end, user=user).counts


def won_mrr_before(session: Session, workspace_id: str, instant: datetime) -> int:
    """The MRR of the won deals closed before `instant` (none: 0)."""
    found = count_deals(session, workspace_id, [("won", ("mrr_sum",))], EARLIEST, instant)
    return sum(values[0] for values in found[0].values())


def _milestone(stage: Stage | str) -> str:
    return Stage(stage).value


def _by(session: Session, workspace_id: str, requests: Sequence[Request], start: datetime,
        end: datetime, *, user: str | None, by: str | None, keep_empty: bool = False
        ) -> list[dict[str, tuple[int, ...]]]:
    """count_deals grouped as the Facts want them: key "all" (by=None), the owner
    ("user"; none: "(none)") or the lead source ("source"; none: "other"), per request; only
    groups with deals (the first value) unless `keep_empty`."""
    check_by(by, ("user", "source"))
    keys = {None: (), "user": ("owner_id",), "source": ("source",)}[by]
    empty = NO_SOURCE if by == "source" else NO_VALUE
    result = []
    for groups in count_deals(session, workspace_id, requests, start, end, user=user,
                              keys=keys):
        merged: dict[str, list[int]] = {}
        for key, values in groups.items():
            label = (key[0] or empty) if key else "all"
            if label in merged:  # a NULL and a literal "other" source fold together
                merged[label] = [a + b for a, b in zip(merged[label], values, strict=True)]
            else:
                merged[label] = list(values)
        result.append({label: tuple(values) for label, values in merged.items()
                       if keep_empty or values[0]})
    return result


def check_by(by: str | None, allowed: tuple[str, ...]) -> None:
    if by is not None and by not in allowed:
        raise ValueError(f"by must be None or one of {allowed}, not {by!r}")


# ------------------------------------------------------------------------ the reading

def count_deals(session: Session, workspace_id: str, requests: Sequence[Request],
                start: datetime, end: datetime, *, user: str | None = None,
                keys: tuple[str, ...] = ()) -> list[dict[tuple[str, ...], list[int]]]:
    """Per request (in order): {group key values: the summed values} of the deals that reached
    the request's milestone in `[start, end)` (owned by `user` when given). Groups may hold only
    zeros (deal_counts keeps emptied rows); without `keys`, the one group is ()."""
    requests = tuple((milestone, tuple(values)) for milestone, values in requests)
    statement, params, signs = _request(session, workspace_id, requests, start, end, user, keys)
    found: list[dict[tuple[str, ...], list[int]]] = [{} for _ in requests]
    width = 1 + len(keys)  # the part, then the group key's values
    for row in statement.rows(session.connection(), params):
        request, piece = divmod(int(row[0]), 3)
        sign = signs[piece]
        values = [sign * int(value or 0) for value in row[width:]]
        groups = found[request]
        key = tuple(row[1:width])
        sums = groups.get(key)
        if sums is None:
            groups[key] = values
        else:
            for i, value in enumerate(values):
                sums[i] += value
    return found


def _request(session: Session, workspace_id: str, requests: tuple, start: datetime,
             end: datetime, user: str | None, keys: tuple[str, ...]
             ) -> tuple[Prepared, dict[str, Any], tuple[int, int, int]]:
    """`count_deals`' statement, its parameters and the signs of its pieces."""
    params, signs = plan(start, end)
    statement = _statement(session.get_bind().dialect.name, requests, user is not None, keys,
                           _read_pieces(params))
    params["workspace"] = workspace_id
    if user is not None:
        params["user"] = user
    return statement, params, signs


def funnel_request(session: Session, workspace_id: str, start: datetime, end: datetime, *,
                   user: str | None = None) -> tuple[Prepared, dict[str, Any]]:
    """The statement and parameters `funnel_figures` runs (storage/pg_batch.py reads it
    ahead)."""
    requests = tuple((milestone, tuple(values)) for milestone, values in _FUNNEL_REQUESTS)
    statement, params, _signs = _request(session, workspace_id, requests, start, end, user, ())
    return statement, params


def plan(start: datetime, end: datetime) -> tuple[dict[str, Any], tuple[int, int, int]]:
    """How `[start, end)` is read: the bind parameters of the three pieces (months
    [month_first, month_stop) of deal_counts; deals in [a1, b1) and in [a2, b2)) and the sign
    each piece is counted with.

    A partial month at an edge is either added from the deals (the part of it inside the
    period) or taken away from its whole month (the part outside), whichever is the shorter
    span, so that an edge costs at most about half a month of deals. A period inside one
    month is read from its deals, or as its month less both sides."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first, last = _month_of(start), _month_of(end)
    if start >= end:
        return _pieces(first, first, (end, end), (end, end)), (1, 1, 1)
    if first == last:
        inside = end - start
        outside = _midnight(_next_month(first)) - _midnight(first) - inside
        if inside <= outside:
            return _pieces(first, first, (start, end), (end, end)), (1, 1, 1)
        return (_pieces(first, _next_month(first), (_midnight(first), start),
                        (end, _midnight(_next_month(first)))), (1, -1, -1))
    month_first, month_stop = first, last
    head, tail = (start, start), (end, end)
    signs = [1, -1, 1]
    if start - _midnight(first) > _midnight(_next_month(first)) - start:
        month_first, head, signs[1] = _next_month(first), (start, _midnight(_next_month(first))), 1
    else:
        head = (_midnight(first), start)
    if end - _midnight(last) > _midnight(_next_month(last)) - end:
        month_stop, tail, signs[2] = _next_month(last), (end, _midnight(_next_month(last))), -1
    else:
        tail = (_midnight(last), end)
    return _pieces(month_first, month_stop, head, tail), (signs[0], signs[1], signs[2])


def _read_pieces(params: dict[str, Any]) -> tuple[bool, bool, bool]:
    """Which of the three pieces span anything (months, head, tail); an empty period reads
    its empty months."""
    pieces = (params["month_first"] < params["month_stop"], params["a1"] < params["b1"],
              params["a2"] < params["b2"])
    return pieces if any(pieces) else (True, False, False)


def _pieces(month_first: date, month_stop: date, head: tuple[datetime, datetime],
            tail: tuple[datetime, datetime]) -> dict[str, Any]:
    return {"month_first": month_first, "month_stop": month_stop, "a1": head[0],
            "b1": head[1], "a2": tail[0], "b2": tail[1]}


def _month_of(at: datetime) -> date:
    return date(at.year, at.month, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


_STATEMENTS: dict[tuple, Any] = {}  # (dialect, requests, with_user, keys) -> statement
_LOCK = threading.Lock()


def _statement(dialect: str, requests: tuple[Request, ...], with_user: bool,
               keys: tuple[str, ...], pieces: tuple[bool, bool, bool]) -> Prepared:
    """Built once per dialect and shape (building it costs more than running it on a small
    history), with bind parameters, and run as a `Prepared` statement. `pieces`: which of
    the months, the head and the tail are read at all (`_read_pieces`). An empty range still
    costs the database an index descent per request and piece: a period whose edges fall on
    UTC month starts (a month, a quarter or a year in UTC) has no edges (14 of the funnel's 21
    parts), a period inside one month no months."""
    shape = (dialect, requests, with_user, keys, pieces)
    with _LOCK:
        statement = _STATEMENTS.get(shape)
        if statement is None:
            statement = _STATEMENTS[shape] = Prepared.keyed(
                ("storage.deal_counts", requests, with_user, keys, pieces),
                partial(_build, requests, with_user, keys, pieces))
    return statement


def _build(requests: tuple[Request, ...], with_user: bool, keys: tuple[str, ...],
           pieces: tuple[bool, bool, bool]) -> sa.CompoundSelect:
    import sqlalchemy as sa

    width = max(len(values) for _milestone, values in requests)
    # Without an owner or source to filter or group by, the team's rows (one per month and
    # milestone, lost: per reason and competitor).
    team = not with_user and not {"owner_id", "source"} & set(keys)
    parts = []
    for i, (milestone, values) in enumerate(requests):
        values = values + ("zero",) * (width - len(values))
        def part(piece: int, i: int = i) -> Any:
            return sa.literal_column(str(3 * i + piece)).label("part")
        if pieces[0]:
            parts.append(_months(part(0), f"team:{milestone}" if team else milestone,
                                 values, with_user, keys))
        for piece, (low, high) in enumerate((("a1", "b1"), ("a2", "b2")), 1):
            if pieces[piece]:
                parts.append(_deals(part(piece), milestone, values, with_user, keys, low,
                                    high))
    return sa.union_all(*parts)


def _months(part: Any, milestone: str, values: tuple[str, ...], with_user: bool,
            keys: tuple[str, ...]) -> sa.Select:
    import sqlalchemy as sa

    from storage.models import DealCount

    table = DealCount.__table__.c
    conditions = [table.workspace_id == sa.bindparam("workspace"),
                  table.milestone == sa.literal_column(f"'{milestone}'"),
                  table.month >= sa.bindparam("month_first"),
                  table.month < sa.bindparam("month_stop")]
    if with_user:
        conditions.append(table.owner_id == sa.bindparam("user"))
    grouped = [table[k] for k in keys]
    sums = [sa.literal_column("0") if v == "zero" else sa.func.sum(table[v]) for v in values]
    return sa.select(part, *grouped, *sums).where(*conditions).group_by(*grouped)


def _deals(part: Any, milestone: str, values: tuple[str, ...], with_user: bool,
           keys: tuple[str, ...], low: str, high: str) -> sa.Select:
    import sqlalchemy as sa

    from storage.models import Deal

    at = Deal.closed_at if milestone in _OUTCOMES else getattr(Deal, _TIMES[milestone])
    conditions = [Deal.workspace_id == sa.bindparam("workspace"),
                  at >= sa.bindparam(low), at < sa.bindparam(high)]
    if milestone in _OUTCOMES:
        conditions.append(Deal.outcome == milestone)
    if with_user:
        conditions.append(Deal.owner_id == sa.bindparam("user"))
    grouped = [sa.func.coalesce(getattr(Deal, k), "") for k in keys]
    sums = [_deal_value(v) for v in values]
    return sa.select(part, *grouped, *sums).where(*conditions).group_by(*grouped)


def _deal_value(name: str) -> sa.ColumnElement:
    """What a value of deal_counts sums, computed over deal rows."""
    import sqlalchemy as sa

    from storage.models import Deal

    def counted(condition: Any) -> sa.ColumnElement:
        return sa.func.sum(sa.case((condition, 1), else_=0))
    if name == "zero":
        return sa.literal_column("0")
    if name == "deals":
        return sa.func.count()
    if name in ("to_won", "to_lost"):
        return counted(Deal.outcome == name[3:])
    if name.startswith("to_"):
        return counted(getattr(Deal, _TIMES[name[3:]]).is_not(None))
    if name == "amount_sum":
        return sa.func.sum(Deal.amount_minor)
    if name == "no_amount":
        return counted(Deal.amount_minor.is_(None))
    if name == "mrr_sum":
        return sa.func.sum(Deal.mrr_minor)
    raise ValueError(f"unknown deal count {name!r}")

"""A deal's funnel state derived from its events (SPEC section 5). Pure.

Rules:
- Stages in order: lead, mql, sql, opportunity, demo, won. `deal-lost` ends a deal anywhere.
- The order of a deal's history (SPEC 5 "Time of a dated record"): by local day, and a deal's
  stage and close events on one day in funnel order (lead, mql, sql, opportunity, demo, then
  won/lost), by time within a stage. A date without a time (stored at local noon) therefore
  never reorders a day against timed records: a lead dated 5 May and a win at 02:00 on 5 May
  are a lead, then a win.
- A stage's timestamp is its first event. A skipped stage counts as reached when the next
  reached stage was (zero time in it); timestamps never run backwards along the funnel, and a
  closed deal's never pass its close.
- The outcome is the final one: a stage at opportunity or later after the last won/lost reopens
  the deal, and a reopened deal that closes again counts once, by that final close. A lead,
  mql or sql after the close is a late record of how the deal started: the outcome stands.
- The owner is the rep of the last event that counts for the outcome (late records left out),
  preferring a rep over the unassigned team.
- Wins in a row (a `deal-won` after a `deal-won`, nothing reopening the deal between them) are
  one win restated: the deal was won at the first of them, for the amount (and MRR) of the
  latest that carries one. So a second win corrects the amount without moving the win to
  another period or counting the deal twice, and voiding it (undo) brings the first back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from reports.events import KINDS, STAGE_ORDER, UNASSIGNED_USER, Stage

_CLOSE_RANK = STAGE_ORDER.index(Stage.WON)  # won and lost end a day's funnel order
_REOPENS_FROM = STAGE_ORDER.index(Stage.OPPORTUNITY)


@dataclass(frozen=True)
class DealEvent:
    id: int
    kind: str
    occurred_at: datetime
    user_id: str
    deal_name: str | None = None
    account_key: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    mrr_minor: int | None = None
    source: str | None = None
    reason: str | None = None
    competitor: str | None = None


@dataclass(frozen=True)
class DealState:
    stage_at: dict[Stage, datetime] = field(default_factory=dict)
    outcome: str = "open"  # open | won | lost
    stage: str | None = None  # current stage name, "lost" for lost deals, None before any stage
    stage_changed_at: datetime | None = None
    won_at: datetime | None = None
    lost_at: datetime | None = None
    closed_at: datetime | None = None
    first_event_at: datetime | None = None
    owner_id: str | None = None
    name: str | None = None
    account_key: str | None = None
    source: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    mrr_minor: int | None = None
    reason: str | None = None
    competitor: str | None = None


def _moves_deal(kind: str) -> bool:
    spec = KINDS.get(kind)
    return spec is not None and (spec.stage is not None or spec.closes is not None)


def changes_only_the_name(kind: str, *, account_key: str | None, source: str | None) -> bool:
    """Whether adding an event of `kind` (naming this account and source) to a deal can change
    nothing of its state but its name: it moves the deal nowhere (no stage, no close) and
    names no account and no source. `derive_deal_state` reads such an event for the deal's
    name (the latest event's that has one), account and source alone, so one that repeats the
    deal's name changes nothing at all (storage/deals.py `stamp_unchanged_deal`)."""
    return KINDS.get(kind) is not None and not _moves_deal(kind) and account_key is None \
        and source is None


def stage_it_advances_to(kind: str, *, user_id: str, account_key: str | None,
                         source: str | None) -> Stage | None:
    """The stage an event of `kind` moves a deal to when, added as the deal's latest event,
    its effect follows from the deal's row alone: a stage event after lead and short of won
    (a lead mostly starts a new deal, which has no row to follow from; no close), credited to
    a rep (not the team: the owner rule prefers a rep), naming no account and no source. It
    applies to an open deal that was never closed, at a stage no later than this
    one, owned by this rep (or with no stage yet), whose other events are all earlier: then the
    stages from the deal's stage up to this one are reached now, skipped ones included (zero
    time in them), the deal's stage is this one (changed now if it moved), its first stage
    event is its first if it had none, the owner is this rep and the name this event's; nothing
    else changes (storage/deals.py `advance_after`). None for any other event."""
    spec = KINDS.get(kind)
    if spec is None or spec.stage in (None, Stage.LEAD, Stage.WON) or spec.closes \
            or user_id == UNASSIGNED_USER or account_key is not None or source is not None:
        return None
    return spec.stage


CLOSING_KINDS: tuple[str, ...] = tuple(name for name, spec in KINDS.items() if spec.closes)


def _rank(kind: str) -> int:
    """A kind's place in a day's funnel order: its stage, won/lost last, -1 for activities."""
    spec = KINDS[kind]
    if not _moves_deal(kind):
        return -1
    return _CLOSE_RANK if spec.closes or spec.stage is None else STAGE_ORDER.index(spec.stage)


_RANKS = {name: _rank(name) for name in KINDS}
_LONGEST_DAY = timedelta(hours=26)  # a local day lasts at most 25 hours (DST)


def history_order(events: Sequence[DealEvent], tz: tzinfo = UTC) -> list[DealEvent]:
    """A deal's stage and close events in the order of its history: local day, then funnel
    order within the day, then time and id (see the module docstring).

    Time order is that order unless two events of one day are out of funnel order, and then
    two neighbours in time order, less than a day apart, go down the funnel: only then are
    local days computed (most deals never need them).
    """
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.id))
    ranks = [_RANKS.get(e.kind, -1) for e in ordered]
    if not any(ranks[i + 1] < ranks[i]
               and ordered[i + 1].occurred_at - ordered[i].occurred_at < _LONGEST_DAY
               for i in range(len(ordered) - 1)):
        return ordered
    return sorted(ordered, key=lambda e: (e.occurred_at.astimezone(tz).date(),
                                          _RANKS.get(e.kind, -1), e.occurred_at, e.id))


def _reopens(kind: str) -> bool:
    """Whether this event after a close reopens the deal (a stage at opportunity or later)."""
    spec = KINDS[kind]
    return spec.stage is not None and not spec.closes \
        and STAGE_ORDER.index(spec.stage) >= _REOPENS_FROM


def _wins_in_a_row(moves: Sequence[DealEvent], last: int) -> list[DealEvent]:
    """The `deal-won` events in a row that end at moves[last], oldest first."""
    first = last
    while first > 0 and KINDS[moves[first - 1].kind].closes == "won":
        first -= 1
    return list(moves[first:last + 1])


def derive_deal_state(events: Sequence[DealEvent], tz: tzinfo = UTC) -> DealState:
    """The state of one deal from its non-void events (any order); `tz` is the workspace's
    time zone (whose days order the history)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.id))
    moves = history_order([e for e in ordered if _RANKS.get(e.kind, -1) >= 0], tz)
    name = next((e.deal_name for e in reversed(ordered) if e.deal_name), None)
    account = next((e.account_key for e in reversed(ordered) if e.account_key), None)
    source = next((e.source for e in ordered if e.kind == "lead" and e.source), None)
    source = source or next((e.source for e in ordered if e.source), None)
    if not moves:
        return DealState(name=name, account_key=account, source=source)

    last_close_index = max(
        (i for i, e in enumerate(moves) if KINDS[e.kind].closes), default=None
    )
    after_close = moves[last_close_index + 1:] if last_close_index is not None else []
    reopened = any(_reopens(e.kind) for e in after_close)
    final_close = None if last_close_index is None or reopened else moves[last_close_index]
    outcome = KINDS[final_close.kind].closes if final_close else "open"
    # The events that count for the current stage and owner: late records left out.
    counted = moves if final_close is None else moves[: last_close_index + 1]
    wins = _wins_in_a_row(moves, last_close_index) if outcome == "won" else []
    if wins:
        final_close = wins[0]  # when the deal was won

    stage_at: dict[Stage, datetime] = {}
    for e in moves:
        stage = KINDS[e.kind].stage
        if stage is None or stage is Stage.WON:
            continue
        stage_at.setdefault(stage, e.occurred_at)
    if outcome == "won":
        stage_at[Stage.WON] = final_close.occurred_at
    # Fill skipped stages and keep timestamps monotonic along the funnel, from the top down.
    later: datetime | None = None
    for stage in reversed(STAGE_ORDER):
        at = stage_at.get(stage)
        if at is None:
            if later is not None:
                stage_at[stage] = later
            continue
        if later is not None and later < at:
            at = later
            stage_at[stage] = at
        later = at
    if final_close is not None:  # a late record is no later than the close
        close = final_close.occurred_at
        stage_at = {stage: min(at, close) for stage, at in stage_at.items()}

    if outcome == "open":
        tail = after_close if reopened else moves
        reached = [KINDS[e.kind].stage for e in tail if KINDS[e.kind].stage not in (None,)]
        top = max(reached, key=STAGE_ORDER.index) if reached else None
        current = top.value if top else None
        changed = next((e.occurred_at for e in tail if KINDS[e.kind].stage == top), None)
    else:
        current = "won" if outcome == "won" else "lost"
        changed = final_close.occurred_at

    won_event = final_close if outcome == "won" else None
    lost_event = final_close if outcome == "lost" else None
    amount = next((e for e in reversed(wins) if e.amount_minor is not None), won_event)
    mrr = next((e.mrr_minor for e in reversed(wins) if e.mrr_minor is not None), None)
    owners = [e.user_id for e in counted]
    owner = next((u for u in reversed(owners) if u != UNASSIGNED_USER), owners[-1])
    return DealState(
        stage_at=stage_at,
        outcome=outcome,
        stage=current,
        stage_changed_at=changed,
        won_at=won_event.occurred_at if won_event else None,
        lost_at=lost_event.occurred_at if lost_event else None,
        closed_at=final_close.occurred_at if final_close else None,
        first_event_at=min(e.occurred_at for e in moves),
        owner_id=owner,
        name=name,
        account_key=account,
        source=source,
        amount_minor=amount.amount_minor if won_event else None,
        currency=amount.currency if won_event else None,
        mrr_minor=mrr,
        reason=lost_event.reason if lost_event else None,
        competitor=lost_event.competitor if lost_event else None,
    )

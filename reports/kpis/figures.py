"""The figures many KPI formulas read from the facts: event counts (in all, per rep), deals
reaching a stage, closed deals, spend, wins without an amount, durations in days."""

from __future__ import annotations

from typing import Any

from reports.events import Stage
from reports.kpis.context import DAY, Ctx
from reports.kpis.facts import Distribution
from reports.kpis.ratios import count_shown
from reports.text import Message, plural_text


def kind_counts(ctx: Ctx, kinds: tuple[str, ...], *, per_rep: bool = False
                ) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """In the period, with one facts call: how many events of each of `kinds` (a kind
    without events is missing) and, with `per_rep`, {kind: {rep: count}} for every kind."""
    totals, users = ctx.facts.event_sums_by_kind(kinds, ctx.start, ctx.end, user=ctx.user,
                                                 per_user=per_rep)
    return ({kind: s.count for kind, s in totals.items()},
            {kind: {rep: s.count for rep, s in reps.items()} for kind, reps in users.items()})


def reaching(ctx: Ctx, stage: Stage, window=None, by: str | None = None) -> dict[str, int]:
    """Distinct deals first reaching `stage` in the window: {"all": n} or per `by`."""
    start, end = window or (ctx.start, ctx.end)
    return ctx.facts.deals_reaching(stage, start, end, user=ctx.user, by=by)


def reached(ctx: Ctx, stage: Stage, window=None) -> int:
    return reaching(ctx, stage, window).get("all", 0)


def closed(ctx: Ctx, window=None, by: str | None = None) -> dict[str, tuple[int, int, int]]:
    """Deals closed in the window: (won, lost, won amount), as {"all": ...} or per `by`."""
    start, end = window or (ctx.start, ctx.end)
    return ctx.facts.closed_deals(start, end, user=ctx.user, by=by)


def won_lost_amount(ctx: Ctx, window=None) -> tuple[int, int, int]:
    return closed(ctx, window).get("all", (0, 0, 0))


def unpriced(ctx: Ctx, window=None) -> tuple[int, list[Message]]:
    """Wins in the window without an amount, and the warning every revenue view shows for
    them (SPEC 5: such a win counts in deals won, not in revenue)."""
    start, end = window or (ctx.start, ctx.end)
    missing = ctx.facts.wins_without_amount(start, end, user=ctx.user)
    if not missing:
        return 0, []
    won = won_lost_amount(ctx, window)[0]
    return missing, [plural_text(
        "{missing} of {won} won deal has no amount: revenue counts the {priced} with one",
        "{missing} of {won} won deals have no amount: revenue counts the {priced} with one",
        won, missing=count_shown(missing), won=count_shown(won),
        priced=count_shown(won - missing))]


def spend(ctx: Ctx, window=None) -> int:
    """The team's spend in the window (minor units): spend is never credited to reps."""
    start, end = window or (ctx.start, ctx.end)
    sums = ctx.facts.event_sums(("spend",), start, end)
    return sums["spend"].amount if "spend" in sums else 0


def days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / DAY


def distribution_details(dist: Distribution, scale: float = DAY) -> dict[str, Any]:
    """A distribution's n, median, mean and p90, in days (or `scale` seconds)."""
    def s(x):
        return None if x is None else x / scale
    return {"n": dist.n, "median": s(dist.median), "mean": s(dist.mean), "p90": s(dist.p90)}

"""`/kpi quota [PERIOD] [@user]`, `/kpi quota set ...` and `/kpi quota history [@user]`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.grammar.commands import QuotaCommand, QuotaHistoryCommand, QuotaSetCommand
from bot.grammar.errors import MAX_QUOTA_COUNT, UsageError, did_you_mean, q
from bot.grammar.numbers import amount_at, integer, is_currency_word, starts_like_number
from bot.grammar.reading import Context, about, mention, once, read_report
from bot.grammar.tokens import Token
from reports.events import ALIASES, KINDS, resolve_kind
from reports.periods import FutureDayError, PeriodError, parse_day
from reports.text import Text


def parse_quota(tokens: Sequence[Token], ctx: Context) -> QuotaCommand:
    """`/kpi quota [PERIOD] [@user]`"""
    got = read_report(tokens, ctx, "quota", user=True)
    return QuotaCommand(period=got.period, user=got.user, public=ctx.public)


_CADENCES = ("monthly", "quarterly")


def parse_quota_history(tokens: Sequence[Token], ctx: Context) -> QuotaHistoryCommand:
    """`/kpi quota history [@user]`"""
    user = None
    for token in tokens:
        person = mention(token, ctx)
        if person is None:
            raise UsageError(Text("{word} is not a person; quota history takes only an "
                                  "@mention (or nothing, for everyone).", word=q(token.text)))
        once(user, token, Text("person"))
        user = person
    return QuotaHistoryCommand(user=user, public=ctx.public)


def _quota_from(tokens: Sequence[Token], i: int, ctx: Context) -> date:
    """The day after `from` in `quota set ... from DATE`: today or earlier."""
    if i + 1 >= len(tokens):
        raise UsageError(Text("{word} needs a day after it, like {example}.", word='"from"',
                              example="from 2026-10-01"))
    text = tokens[i + 1].text.strip()
    try:
        return parse_day(text, today=ctx.today)
    except FutureDayError as error:
        raise UsageError(Text("{start} is in the future; a quota applies from the start of the "
                              "month it is set in, so set it on or after that day.",
                              start="from " + error.day.isoformat())) from None
    except PeriodError as error:
        raise UsageError(about(text, error.text, Text("it is not a day"))) from None
    except (ValueError, ArithmeticError):
        raise UsageError(Text("{word} is not a day; write it like {example}.", word=q(text),
                              example="2026-10-01")) from None


def parse_quota_set(tokens: Sequence[Token], ctx: Context) -> QuotaSetCommand:
    """`/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]`, in any order.

    A METRIC other than revenue is an event kind (demo-booked); its AMOUNT is a plain count.
    DATE is today or earlier (a quota applies from the start of the month it is set in).
    """
    user = cadence = metric = effective_from = None
    amount: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        person = mention(token, ctx)
        kind = resolve_kind(token.text) if token.bare else None
        if person is not None:
            once(user, token, Text("person"))
            user = person
        elif token.word == "from":
            once(effective_from, token, Text("start day"))
            effective_from = _quota_from(tokens, i, ctx)
            i += 1
        elif token.word in _CADENCES:
            once(cadence, token, Text("cadence"))
            cadence = token.word
        elif token.word == "revenue" or kind is not None:
            once(metric, token, Text("metric"))
            metric = kind.name if kind is not None else "revenue"
        elif token.bare and starts_like_number(token.text):
            once(amount[0] if amount else None, token, Text("amount"))
            amount.append(token)
            if i + 1 < len(tokens) and is_currency_word(tokens[i + 1], ctx):
                amount.append(tokens[i + 1])
                i += 1
        else:
            hint = did_you_mean(token.text, ("revenue", "from", *_CADENCES, *KINDS, *ALIASES))
            raise UsageError(Text("{word} is not a target, cadence ({monthly} or {quarterly}), "
                                  "metric or {start}.", word=q(token.text), monthly="monthly",
                                  quarterly="quarterly", start="from DATE") + hint)
        i += 1
    if user is None:
        raise UsageError(Text("Whose quota? Name the person with @ right after {command}.",
                              command="quota set"))
    if not amount:
        raise UsageError(Text("{command} needs the target, like 50k for revenue or 20 for a "
                              "count.", command="quota set"))
    metric = metric or "revenue"
    if metric == "revenue":
        minor = amount_at(amount, 0, ctx, what=Text("quota"))
        if minor is None or minor[0] <= 0:
            raise UsageError(Text("{word} is not a revenue target; give an amount above zero, "
                                  "like 50k.", word=q(" ".join(t.text for t in amount))))
        target = minor[0]
    else:
        text = " ".join(t.text for t in amount)
        target = integer(text) if len(amount) == 1 else None
        if target is None or not 1 <= target <= MAX_QUOTA_COUNT:
            raise UsageError(
                Text("A {metric} quota is a count of events; {word} is not a whole number from "
                     "1 to {limit}.", metric=metric, word=q(text), limit=MAX_QUOTA_COUNT),
                example=f"/kpi quota set @alice 20 monthly {metric}")
    return QuotaSetCommand(user=user, target=target, cadence=cadence or "monthly",
                           metric=metric, public=ctx.public, effective_from=effective_from)

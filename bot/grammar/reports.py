"""The questions: `/kpi KPI`, `/kpi show KPI`, `/kpi funnel`, `/kpi churn`, `/kpi leaderboard`,
`/kpi me`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.grammar.commands import (
    ChurnCommand,
    FunnelCommand,
    KpiCommand,
    LeaderboardCommand,
    MeCommand,
)
from bot.grammar.errors import UsageError, did_you_mean, q
from bot.grammar.reading import Context, kpi_at, read_report
from bot.grammar.tokens import Token
from reports.text import Text


def parse_funnel(tokens: Sequence[Token], ctx: Context) -> FunnelCommand:
    """`/kpi funnel [PERIOD] [@user] [cohort]`"""
    got = read_report(tokens, ctx, "funnel", user=True, cohort=True)
    return FunnelCommand(period=got.period, user=got.user, cohort=got.cohort, public=ctx.public)


def parse_churn(tokens: Sequence[Token], ctx: Context) -> ChurnCommand:
    """`/kpi churn [PERIOD]`"""
    return ChurnCommand(period=read_report(tokens, ctx, "churn").period, public=ctx.public)


def parse_me(tokens: Sequence[Token], ctx: Context) -> MeCommand:
    """`/kpi me [PERIOD]`"""
    return MeCommand(period=read_report(tokens, ctx, "me").period, public=ctx.public)


def parse_leaderboard(tokens: Sequence[Token], ctx: Context) -> LeaderboardCommand:
    """`/kpi leaderboard [KPI] [PERIOD]`"""
    got = read_report(tokens, ctx, "leaderboard", kpi=True)
    return LeaderboardCommand(kpi=got.kpi, period=got.period, public=ctx.public)


def parse_show(tokens: Sequence[Token], ctx: Context) -> KpiCommand:
    """`/kpi show KPI [PERIOD] [@user]`"""
    if not tokens:
        raise UsageError(Text("Which KPI? Put its name after {word}; {command} shows every KPI.",
                              word="show", command="/kpi list"))
    return kpi_command(tokens, ctx, command="show")


def kpi_command(tokens: Sequence[Token], ctx: Context, command: str) -> KpiCommand:
    """`/kpi KPI [PERIOD] [@user]`; the KPI name (`win-rate`, `win rate`) starts tokens."""
    phrase = kpi_at(tokens, 0, ctx)
    if phrase is None:
        word = tokens[0].text
        raise UsageError(Text("{word} is not a KPI.", word=q(word))
                         + did_you_mean(word, ctx.kpis.values())
                         + Text("{command} shows every KPI.", command="/kpi list"))
    name, size = phrase
    got = read_report(tokens[size:], ctx, command, user=True)
    return KpiCommand(name=name, period=got.period, user=got.user, public=ctx.public)

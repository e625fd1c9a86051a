"""The commands about kpibot itself: `/kpi help [command|kpi]`, `/kpi list`, `/kpi ping`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.grammar.commands import HelpCommand, ListCommand, PingCommand
from bot.grammar.errors import collapse
from bot.grammar.reading import Context, no_arguments
from bot.grammar.tokens import Token


def parse_help(tokens: Sequence[Token], ctx: Context) -> HelpCommand:
    """`/kpi help [command|kpi]`"""
    topic = collapse(" ".join(token.text for token in tokens))
    return HelpCommand(topic=topic or None, public=ctx.public)


def parse_list(tokens: Sequence[Token], ctx: Context) -> ListCommand:
    """`/kpi list`"""
    no_arguments(tokens, "list")
    return ListCommand(public=ctx.public)


def parse_ping(tokens: Sequence[Token], ctx: Context) -> PingCommand:
    """`/kpi ping`"""
    no_arguments(tokens, "ping")
    return PingCommand(public=ctx.public)

"""The command table: every chat command's `CommandSpec`, in the order `/kpi help` and the
README list them. A new command is its spec (next to its handler) and its line here."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import BotContext, CommandHandler
from bot.grammar import CommandSpec, Grammar
from bot.handlers.digests import DIGEST, DIGEST_HERE
from bot.handlers.help import HELP, LIST, with_help
from bot.handlers.kpis import SHOW, kpi_help
from bot.handlers.log import LOG
from bot.handlers.ping import PING
from bot.handlers.reports import (
    CHURN,
    FUNNEL,
    LEADERBOARD,
    ME,
    QUOTA,
    QUOTA_HISTORY,
    QUOTA_SET,
)
from bot.handlers.reps import REP, REP_LINK
from bot.handlers.undo import UNDO
from reports.kpis.catalog import CATALOG

COMMANDS: tuple[CommandSpec, ...] = (
    LOG, UNDO, SHOW, ME, LEADERBOARD, FUNNEL, QUOTA, QUOTA_SET, QUOTA_HISTORY, CHURN,
    DIGEST, DIGEST_HERE, REP, REP_LINK, LIST, PING, HELP,
)
GRAMMAR = Grammar(COMMANDS)


def build_command_handler(context: BotContext,
                          commands: Sequence[CommandSpec] = COMMANDS) -> CommandHandler:
    """The bot's command handler for `commands` (default: every standard command)."""
    return CommandHandler(context, with_help(commands, kpi_help), kpi_names=tuple(CATALOG))

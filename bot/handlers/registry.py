"""Which handler answers which command."""

from __future__ import annotations

from bot import grammar
from bot.core import BotContext, CommandHandler
from bot.handlers import reports
from bot.handlers.digests import handle_digest, handle_digest_here
from bot.handlers.help import build_help_handlers
from bot.handlers.kpis import handle_kpi, kpi_help
from bot.handlers.log import handle_log
from bot.handlers.ping import handle_ping
from bot.handlers.reps import handle_rep_link, handle_rep_list
from bot.handlers.undo import handle_undo
from reports.kpis.catalog import CATALOG


def build_command_handler(context: BotContext) -> CommandHandler:
    topics = {
        "log": handle_log,
        "undo": handle_undo,
        "funnel": reports.handle_funnel,
        "quota": reports.handle_quota,
        "quota set": reports.handle_quota_set,
        "quota history": reports.handle_quota_history,
        "churn": reports.handle_churn,
        "leaderboard": reports.handle_leaderboard,
        "me": reports.handle_me,
        "show": handle_kpi,
        "digest": handle_digest,
        "ping": handle_ping,
        "rep": handle_rep_list,
        "rep link": handle_rep_link,
    }
    handle_help, handle_list = build_help_handlers(topics, kpi_help)
    handlers = {
        grammar.LogCommand: handle_log,
        grammar.UndoCommand: handle_undo,
        grammar.HelpCommand: handle_help,
        grammar.ListCommand: handle_list,
        grammar.KpiCommand: handle_kpi,
        grammar.FunnelCommand: reports.handle_funnel,
        grammar.QuotaCommand: reports.handle_quota,
        grammar.QuotaSetCommand: reports.handle_quota_set,
        grammar.QuotaHistoryCommand: reports.handle_quota_history,
        grammar.ChurnCommand: reports.handle_churn,
        grammar.LeaderboardCommand: reports.handle_leaderboard,
        grammar.MeCommand: reports.handle_me,
        grammar.DigestHereCommand: handle_digest_here,
        grammar.DigestCommand: handle_digest,
        grammar.RepListCommand: handle_rep_list,
        grammar.RepLinkCommand: handle_rep_link,
    }
    return CommandHandler(context, handlers, kpi_names=tuple(CATALOG),
                          database_free={"ping": handle_ping})

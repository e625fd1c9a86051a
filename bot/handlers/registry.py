"""Which handler answers which command."""

from __future__ import annotations

from bot import grammar
from bot.core import BotContext, CommandHandler
from bot.handlers.help import build_help_handlers
from bot.handlers.log import handle_log
from bot.handlers.undo import handle_undo


def build_command_handler(context: BotContext) -> CommandHandler:
    topics = {"log": handle_log, "undo": handle_undo}
    handle_help, handle_list = build_help_handlers(topics)
    handlers = {
        grammar.LogCommand: handle_log,
        grammar.UndoCommand: handle_undo,
        grammar.HelpCommand: handle_help,
        grammar.ListCommand: handle_list,
    }
    return CommandHandler(context, handlers)

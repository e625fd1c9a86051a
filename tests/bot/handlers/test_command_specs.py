"""A chat command is one declaration: a `CommandSpec` gives the grammar's dispatch, the handler
registry, `/kpi help`, `/kpi help NAME` and the README's command table."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import grammar
from bot.core import Invocation
from bot.grammar import CommandSpec, Context, Token, UsageError
from bot.handlers.help import command_table, with_command_table
from bot.handlers.registry import COMMANDS, GRAMMAR
from bot.replies import Reply
from tests.support.dialog import Chat, verify_dialog

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
README = Path(__file__).resolve().parents[3] / "README.md"


@dataclass(frozen=True)
class ShoutCommand:
    words: str
    public: bool = False


def parse_shout(tokens: typing.Sequence[Token], ctx: Context) -> ShoutCommand:
    if not tokens:
        raise UsageError("What should I shout? Put a word after shout.")
    return ShoutCommand(" ".join(token.text for token in tokens), public=ctx.public)


def handle_shout(command: ShoutCommand, invocation: Invocation) -> Reply:
    return Reply(text=f"{command.words.upper()}! (for {invocation.request.user_id})")


SHOUT = CommandSpec(
    word="shout", command=ShoutCommand, parse=parse_shout, handle=handle_shout,
    usage="/kpi shout WORDS", example="/kpi shout hello",
    summary="says it louder", help="Repeats your words in capitals, to everyone who asks.")


def test_a_command_declared_once_is_parsed_helped_and_dispatched(database):
    chat = Chat(database, workspace="slack:TSPEC", now=NOW, commands=(*COMMANDS, SHOUT))
    verify_dialog(chat, [
        ("shout hello there", "HELLO THERE! (for U_BOSS)"),
        ("help shout", "Repeats your words in capitals"),
        ("help shout", "Usage: /kpi shout WORDS"),
        ("help", "/kpi shout WORDS"),
        ("shout", "What should I shout?"),
        ("shout", "Example: /kpi shout hello"),
        ("shot hi", 'Did you mean "shout"?'),
        ("log call 2", "Logged"),  # the standard commands are all still there
    ])
    assert [type(command) for command in chat.ran] == [
        ShoutCommand, grammar.HelpCommand, grammar.HelpCommand, grammar.HelpCommand,
        grammar.LogCommand]
    assert chat.ask("shout loud!").public
    standard = Chat(database, workspace="slack:TSPEC", now=NOW)
    assert '"shout" is not a command' in standard.ask("shout hello").text


def test_help_for_a_command_is_that_commands_own_help(database):
    chat = Chat(database, workspace="slack:THELP", now=NOW)
    churn = chat.ask("help churn").plain_text()
    assert "Customer churn and MRR churn" in churn and "Usage: /kpi churn [PERIOD]" in churn
    for other in ("funnel", "leaderboard", "quota set"):
        assert other not in churn, other
    for spec in COMMANDS:
        reply = chat.ask(f"help {spec.word}")
        assert reply.ok and spec.help_lines(), spec.word
        assert spec.help_lines()[0] in reply.plain_text()
        assert f"Usage: {spec.usage}" in reply.plain_text()


def test_every_command_type_has_one_spec_and_a_handler():
    types = [spec.command for spec in COMMANDS]
    assert len(types) == len(set(types))
    assert set(types) == set(typing.get_args(grammar.Command))
    assert all(spec.handle is not None for spec in COMMANDS if spec.word not in ("help", "list"))
    assert list(grammar.COMMAND_USAGE) == [spec.word for spec in COMMANDS]
    assert GRAMMAR.words == tuple(dict.fromkeys(spec.word.split()[0] for spec in COMMANDS))


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: spec.word)
def test_every_example_parses_to_its_own_command(spec):
    text = spec.example.removeprefix("/kpi ").replace("@alice", "<@U0ALICE|alice>")
    command = GRAMMAR.parse(text, today=NOW.date(), currency="USD",
                            kpi_names=("win-rate", "revenue"))
    assert type(command) is spec.command


def test_the_readme_command_table_is_the_generated_one():
    readme = README.read_text(encoding="utf-8")
    assert command_table(COMMANDS) in readme, "run scripts/command-table"
    assert with_command_table(readme, COMMANDS) == readme
    assert "| `/kpi quota set @user AMOUNT [monthly\\|quarterly] [METRIC] [from DATE]` |" in readme

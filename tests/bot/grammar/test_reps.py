"""The /kpi rep grammar: `rep list`, `rep link REP @user`, and the error for each mistake."""

from __future__ import annotations

import pytest

from bot.grammar import COMMAND_USAGE, RepLinkCommand, RepListCommand
from tests.bot.grammar.common import U1, fails, parse


@pytest.mark.parametrize(("text", "command"), [
    ("rep list", RepListCommand()),
    ("REP List", RepListCommand()),
    ("rep list public", RepListCommand(public=True)),
    ("rep list!", RepListCommand(public=True)),
    (f'rep link "Jane Doe" {U1}', RepLinkCommand("Jane Doe", "U0123ABC")),
    (f"rep link rep:jane-doe {U1}", RepLinkCommand("rep:jane-doe", "U0123ABC")),
    (f"rep link jane-doe {U1}", RepLinkCommand("jane-doe", "U0123ABC")),
    (f"rep LINK {U1} jane-doe", RepLinkCommand("jane-doe", "U0123ABC")),  # either order
    ("rep link “Jane   Doe” <@U1|jane>", RepLinkCommand("Jane Doe", "U1")),  # smart quotes
    ("rep link 'José Núñez' <@U1|jose>!", RepLinkCommand("José Núñez", "U1", public=True)),
    (f"rep link \"O'Brien\" {U1} public", RepLinkCommand("O'Brien", "U0123ABC", public=True)),
    (f"rep link bob@example.com {U1}", RepLinkCommand("bob@example.com", "U0123ABC")),
])
def test_rep_commands(text, command):
    assert parse(text) == command


def test_rep_without_an_action():
    error = fails("rep", "/kpi rep needs an action: list or link.")
    assert (error.usage, error.example) == COMMAND_USAGE["rep"]


@pytest.mark.parametrize(("word", "hint"), [("lst", "list"), ("links", "link"),
                                            ("lnik", "link")])
def test_unknown_rep_action_gets_did_you_mean(word, hint):
    error = fails(f"rep {word} x", f'"{word}" is not a rep action. Did you mean "{hint}"?',
                  "Actions: list, link.")
    assert error.usage == COMMAND_USAGE["rep"][0]


def test_unknown_rep_action_without_a_close_word():
    error = fails("rep delete", '"delete" is not a rep action. Actions: list, link.')
    assert "Did you mean" not in error.problem


def test_rep_list_takes_nothing_more():
    fails("rep list all", '/kpi rep list takes nothing more; "all" was given.')


@pytest.mark.parametrize(("text", "problem"), [
    ("rep link", "Which named rep?"),
    (f"rep link {U1}", "Which named rep?"),
    ("rep link jane-doe", 'Link "jane-doe" to whom? Name the chat user with @'),
    ('rep link "Jane Doe"', 'Link "Jane Doe" to whom?'),
    (f"rep link Jane Doe {U1}", '"Doe" is one word too many. Put a name with spaces in '
                                'quotes: "Jane Doe".'),
    (f"rep link jane-doe {U1} now", '"now" is one word too many'),
    (f'rep link "Jane Doe" "Bob" {U1}', '"Bob" is a second rep; link one rep at a time.'),
    (f"rep link jane-doe {U1} <@U2>", '"<@U2>" is a second person; give only one.'),
    ("rep link jane-doe @jane", '"@jane" is typed text, not a mention'),
    ("rep link jane-doe <#C1|sales>", "is a channel; name a person with @ instead."),
    ("rep link jane-doe <!here>", "is not one person"),
    (f'rep link "" {U1}', "The rep name is empty."),
    (f'rep link "{"x" * 201}" {U1}', "is 201 characters long; the limit is 200."),
])
def test_bad_rep_link(text, problem):
    error = fails(text, problem)
    assert (error.usage, error.example) == COMMAND_USAGE["rep link"]


def test_an_unclosed_quote_shows_the_rep_usage():
    error = fails('rep link "Jane Doe <@U1>', "never closed")  # before the action is read
    assert error.usage == COMMAND_USAGE["rep"][0]


def test_usage_examples_parse():
    assert parse(COMMAND_USAGE["rep"][1].removeprefix("/kpi ")) == RepListCommand()
    example = COMMAND_USAGE["rep link"][1].removeprefix("/kpi ").replace("@alice", U1)
    assert parse(example) == RepLinkCommand("Jane Doe", "U0123ABC")

"""`/kpi rep list` and `/kpi rep link REP @user` through the real command handler.

A tiny events CSV is imported (bot/transfer/importer.py) so that "Jane Doe" and "bob@example.com"
become named reps; the commands run on SQLite and PostgreSQL (the `database` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from storage.models import DailyRollup, Deal, Event, User
from tests.support.dialog import Chat as DialogChat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TREP"
JANE = "<@U_JANE|jane>"
ROWS = """\
2026-10-01 10:00,lead,1,,,Acme,,Jane Doe,referral,,
2026-10-02 10:00,opportunity,1,20000,,Acme,,Jane Doe,,,
2026-10-03 10:00,call,5,,,,,Jane Doe,,,
2026-10-09 10:00,deal-won,1,25000,,Acme,,Jane Doe,,,
2026-10-10 10:00,call,1,,,,,bob@example.com,,,
"""


class Chat(DialogChat):
    """The command handler of a bot whose only admin is U_BOSS (tests/support/dialog.py)."""

    def __init__(self, database) -> None:
        super().__init__(database, workspace=WORKSPACE, now=NOW)

    def state(self) -> tuple:
        """Everything a link changes: event owners, rollups, deal owners, users."""
        with self.database.read() as session:
            def rows(statement):
                return sorted(tuple(row) for row in session.execute(statement).all())
            return (
                rows(sa.select(Event.id, Event.user_id).where(Event.workspace_id == WORKSPACE)),
                rows(sa.select(DailyRollup.day, DailyRollup.kind, DailyRollup.user_id,
                               DailyRollup.events, DailyRollup.count_sum)
                     .where(DailyRollup.workspace_id == WORKSPACE)),
                rows(sa.select(Deal.key, Deal.owner_id).where(Deal.workspace_id == WORKSPACE)),
                rows(sa.select(User.id, User.display_name, User.email)
                     .where(User.workspace_id == WORKSPACE)),
            )

    def events_of(self, user_id: str) -> int:
        with self.database.read() as session:
            return session.execute(sa.select(sa.func.count()).select_from(Event).where(
                Event.workspace_id == WORKSPACE, Event.user_id == user_id)).scalar_one()


@pytest.fixture
def chat(database) -> Chat:
    chat = Chat(database)
    chat.ask("help")  # first contact: the workspace and the admin (ping touches no database)
    chat.ask("help", user="U_JANE", name="jane")  # Jane's chat name matches nobody in the file
    return chat


@pytest.fixture
def imported(chat, tmp_path: Path) -> Chat:
    path = tmp_path / "events.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n" + ROWS, encoding="utf-8")
    result = import_csv(database=chat.database, path=path, now=NOW,
                        options=ImportOptions(workspace_id=WORKSPACE))
    assert result.problems == [] and result.added == 5
    assert sorted(result.new_users) == [("rep:bob-example-com", "bob@example.com"),
                                        ("rep:jane-doe", "Jane Doe")]
    return chat


def test_list_without_named_reps_says_how_they_are_made(chat):
    reply = chat.ask("rep list")
    assert reply.ok and reply.text.startswith("No named reps")
    text = reply.plain_text()
    assert "An import creates a named rep" in text
    assert '/kpi rep link "Jane Doe" @jane' in text


def test_list_shows_each_named_rep_with_its_email_and_events(imported):
    reply = imported.ask("rep list", user="U_JANE")  # anyone may list
    assert reply.ok and reply.text == "2 named reps not linked to a chat user"
    assert reply.sections[0].table == (
        ("rep", "name", "email", "events"),
        ("rep:jane-doe", "Jane Doe", "—", "4"),
        ("rep:bob-example-com", "bob@example.com", "bob@example.com", "1"),
    )
    assert '/kpi rep link "Jane Doe" @user' in reply.plain_text()
    assert imported.ask("rep list public").public


@pytest.mark.parametrize("rep", ['"Jane Doe"', "rep:jane-doe", "jane-doe", "'jane   DOE'",
                                 "REP:Jane-Doe"])
def test_link_credits_the_named_reps_events_and_deals_to_the_user(imported, rep):
    board = imported.ask("leaderboard revenue this-year").plain_text()
    assert "Jane Doe" in board and "jane" not in board.replace("Jane Doe", "")
    assert "Revenue: $0.00" in imported.ask("me this-year", user="U_JANE").plain_text()

    reply = imported.ask(f"rep link {rep} {JANE}")
    assert reply.ok, reply.plain_text()
    assert reply.text == ("Linked Jane Doe (rep:jane-doe) to jane: 4 events and 1 deal "
                          "now count for them.")
    assert imported.events_of("rep:jane-doe") == 0 and imported.events_of("U_JANE") == 4
    me = imported.ask("me this-year", user="U_JANE").plain_text()
    assert "Revenue: $25K" in me and "Deals won: 1" in me and "Activities: 5" in me
    board = imported.ask("leaderboard revenue this-year").plain_text()
    assert "jane" in board and "Jane Doe" not in board
    listing = imported.ask("rep list")
    assert [row[0] for row in listing.sections[0].table[1:]] == ["rep:bob-example-com"]

    before = imported.state()
    again = imported.ask(f"rep link {rep} {JANE}")
    assert not again.ok
    typed = " ".join(rep.strip("'\"").split())
    assert again.text.startswith(f'There is no named rep "{typed}".')
    assert "It may be linked already" in again.text and "Nothing was changed" in again.text
    assert imported.state() == before


def test_the_deal_and_rollups_follow_the_events(imported):
    imported.ask(f'rep link "Jane Doe" {JANE}')
    (events, rollups, deals, users) = imported.state()
    assert {user for _, user in events} == {"U_JANE", "rep:bob-example-com"}
    assert deals == [("acme", "U_JANE")]
    assert {row[2] for row in rollups} == {"U_JANE", "rep:bob-example-com"}
    assert "rep:jane-doe" not in {row[0] for row in users}


def test_link_by_email_and_to_a_user_the_bot_has_not_seen(imported):
    reply = imported.ask("rep link bob@example.com <@U_BOB>")
    assert reply.ok and reply.text == ("Linked bob@example.com (rep:bob-example-com) to <@U_BOB>: "
                                       "1 event and 0 deals now count for them.")
    assert imported.events_of("U_BOB") == 1
    assert ("U_BOB", None, "bob@example.com") in imported.state()[3]  # the email is kept


def test_non_admins_are_refused_and_nothing_changes(imported):
    before = imported.state()
    reply = imported.ask(f'rep link "Jane Doe" {JANE}', user="U_JANE", name="jane")
    assert not reply.ok
    assert reply.text == "Only admins can link named reps; nothing was changed."
    assert "Usage: /kpi rep link REP @user" in reply.plain_text()
    assert imported.state() == before and imported.events_of("rep:jane-doe") == 4


def test_an_unknown_rep_gets_the_close_names(imported):
    before = imported.state()
    reply = imported.ask(f'rep link "Jane Do" {JANE}')
    assert not reply.ok
    assert reply.text == ('There is no named rep "Jane Do". Did you mean Jane Doe '
                          "(rep:jane-doe)? Nothing was changed.")
    assert 'Example: /kpi rep link "Jane Doe" @user' in reply.plain_text()
    assert imported.state() == before


def test_linking_when_there_are_no_named_reps(chat):
    reply = chat.ask(f'rep link "Jane Doe" {JANE}')
    assert not reply.ok and "this workspace has none" in reply.text
    assert "imports create them" in reply.text


def test_a_named_rep_cannot_be_the_chat_user(imported):
    before = imported.state()
    reply = imported.ask("rep link jane-doe <@rep:bob-example-com>")
    assert not reply.ok
    assert reply.text == ('Cannot link: "rep:bob-example-com" is a named rep too; link to a '
                          "chat user. Nothing was changed.")
    assert imported.state() == before


def test_a_typed_name_that_means_one_chat_user_links(imported):
    reply = imported.ask('rep link "Jane Doe" @jane')  # typed, not picked: the chat user "jane"
    assert reply.ok, reply.plain_text()
    assert imported.events_of("U_JANE") == 4 and imported.events_of("rep:jane-doe") == 0


@pytest.mark.parametrize(("text", "problem"), [
    ("rep", "/kpi rep needs an action: list or link."),
    ("rep lnk", '"lnk" is not a rep action. Did you mean "link"? Actions: list, link.'),
    ("rep list everyone", '/kpi rep list takes nothing more; "everyone" was given.'),
    ("rep link", 'Which named rep? Put it after rep link, like "Jane Doe" or rep:jane-doe; '
                 "/kpi rep list shows them."),
    (f"rep link {JANE}", "Which named rep?"),
    ('rep link "Jane Doe"', 'Link "Jane Doe" to whom? Name the chat user with @ after the rep.'),
    (f"rep link Jane Doe {JANE}", 'Give one named rep; "Doe" is one word too many. Put a name '
                                  'with spaces in quotes: "Jane Doe".'),
    (f'rep link "Jane Doe" {JANE} now', '"now" is a second rep; link one rep at a time.'),
    (f'rep link "Jane Doe" {JANE} <@U_BOB>', '"<@U_BOB>" is a second person; give only one.'),
    ('rep link "Jane Doe" @nobody', '"@nobody" is typed text, not a mention'),
    ('rep link "Jane Doe" @jane.doe', '"@jane.doe" is typed text, not a mention'),  # a rep
    ('rep link "Jane Doe" <#C1|sales>', '"<#C1|sales>" is a channel'),
    (f'rep link "" {JANE}', "The rep name is empty."),
])
def test_bad_commands_name_the_problem_and_store_nothing(imported, text, problem):
    before = imported.state()
    reply = imported.ask(text)
    assert not reply.ok
    assert reply.text.startswith(problem), reply.text
    assert "Usage: /kpi rep" in reply.plain_text()
    assert imported.state() == before


def test_help_rep_explains_both_commands(chat):
    text = chat.ask("help rep").plain_text()
    assert "Usage: /kpi rep list|link" in text
    assert "`/kpi rep link REP @user` (admins)" in text and "rep:jane-doe" in text
    assert "Usage: /kpi rep link REP @user" in chat.ask("help rep link").plain_text()
    overview = chat.ask("help").plain_text()
    assert "/kpi rep link REP @user" in overview

"""The Home view model through the real handlers: a rep's week against the same span of last
week, their logs, open and stalled deals and quota; the team part for admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core import CommandRequest
from bot.handlers.home import compose_home
from storage.models import Workspace
from tests.support.dialog import Chat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # a Wednesday
WORKSPACE = "slack:THOME"


def _home(chat: Chat, user: str):
    return compose_home(chat.handler.context, CommandRequest(
        platform="slack", workspace_id=WORKSPACE, user_id=user, text="home"))


def test_a_reps_week_against_last_week_with_logs_deals_and_quota(database):
    chat = Chat(database, workspace=WORKSPACE, now=NOW)
    for text in ("log call 4 on 2026-11-16", "log call 1 on 2026-11-18",
                 "log call 2 on 2026-11-10", "log call 9 on 2026-11-13",  # Thu: after the span
                 "log lead acme on 2026-11-02", "log sql globex on 2026-11-17",
                 "log email-sent 7"):
        assert chat.ask(text, user="U1").ok, text
    assert chat.ask("quota set <@U1|ana> 10 monthly call").ok
    undone = chat.ask("log demo-held 3", user="U1")
    assert chat.ask(f"undo {undone.undo_event}", user="U1").ok
    home = _home(chat, "U1")
    fields = dict(home.week.sections[0].fields)
    assert fields["Calls"] == "5 ▲ 150%"  # Mon-Wed 16-18 Nov against Mon-Wed 9-11 Nov
    assert fields["Emails"] == "7 new" and fields["Demos"] == "0 —"
    assert fields["Activities"] == "12 ▲ 500%"
    assert fields["Quota this month (call)"] == "160% (16/10 call)"  # all of November's
    assert "Pace (call)" in fields
    assert [text.split(" ")[0] for _id, text in home.logs] == [
        "7", "sql", "lead", "9", "2", "call", "4"]  # logged this week, newest first; not the
    # undone one
    assert dict(home.open_by_stage) == {"lead": 1, "sql": 1}
    assert [(deal.name, deal.stage) for deal in home.stalled] == [("acme", "lead")]
    assert home.stalled[0].days == 16.1
    assert not home.admin and home.team == () and home.digests == ()


def test_admins_also_get_the_team_and_the_digests(database):
    chat = Chat(database, workspace=WORKSPACE, now=NOW)
    chat.ask("log lead acme", user="U1")
    home = _home(chat, "U_BOSS")
    funnel, quota = home.team
    assert home.admin and funnel.text.startswith("Funnel") and "quota" in quota.plain_text()
    assert _home(chat, "U_NOBODY").logs == ()


def test_a_workspace_nobody_used_yet_gets_an_empty_home_and_stores_nothing(database):
    chat = Chat(database, workspace=WORKSPACE, now=NOW)
    home = _home(chat, "U1")
    assert "Nothing is logged" in home.week.plain_text() and home.logs == ()
    with database.read() as session:
        assert session.get(Workspace, WORKSPACE) is None

"""Names people know: a Slack user's real name and email from users.info, cached; an imported
rep with the same email linked to them (issue 16, item 4)."""

from __future__ import annotations

from sqlalchemy import select

from bot.settings import build_settings
from bot.slack.people import Profile
from bot.transfer.importer import ImportOptions, import_csv
from bot.wiring import build_bot
from storage.models import Event, User
from tests.support.bot_server import running_server
from tests.support.slack_signing import post_slash_command

SECRET = "test-signing-secret"
TEAM = "T0001"
WORKSPACE = f"slack:{TEAM}"


def _bot(database, slack_api, clock):
    settings = build_settings(
        DATABASE_URL=str(database.engine.url.render_as_string(hide_password=False)),
        SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api.base_url, KPIBOT_TIMEZONE="Europe/Oslo")
    return build_bot(settings, database=database, clock=clock)


def _post(base_url, text, user="U_SARA", handle="alice"):
    status, body, _ = post_slash_command(base_url, text, secret=SECRET, user_id=user,
                                         user_name=handle, team_id=TEAM, channel_id="C1")
    assert status == 200
    return body


def _import_owner(database, tmp_path, owner: str) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("occurred_at,event,amount,currency,deal,user\n"
                    f"2024-05-02,deal-won,12000,USD,Fjord AS,{owner}\n"
                    f"2024-05-03,demo-booked,,,Nordlys,{owner}\n", encoding="utf-8")
    result = import_csv(database=database, path=path, options=ImportOptions(workspace_id=WORKSPACE))
    assert result.added == 2


def test_the_name_people_know_replaces_the_handle_everywhere(database, slack_api, clock):
    slack_api.set_user("U_SARA", real_name="Sara Nilsen", name="alice",
                       email="sara.nilsen@acme.example")
    with running_server(_bot(database, slack_api, clock)) as base_url:
        _post(base_url, "log deal-won fjord 5k")
        board = _post(base_url, "leaderboard revenue this-month")
        _post(base_url, "log call 3")
    text = str(board)
    assert "Sara Nilsen" in text and "alice" not in text
    with database.read() as session:
        user = session.get(User, (WORKSPACE, "U_SARA"))
    assert (user.display_name, user.email) == ("Sara Nilsen", "sara.nilsen@acme.example")
    assert len(slack_api.calls_to("users.info")) == 1  # cached for the next commands


def test_when_slack_does_not_answer_the_command_goes_on_with_the_handle(database, slack_api,
                                                                         clock):
    slack_api.fail_next("users.info", status=500)
    with running_server(_bot(database, slack_api, clock)) as base_url:
        body = _post(base_url, "log call 2")
    assert "Logged" in body["text"]
    with database.read() as session:
        user = session.get(User, (WORKSPACE, "U_SARA"))
        calls = session.scalars(select(Event).where(Event.workspace_id == WORKSPACE)).all()
    assert user.display_name == "alice" and user.email is None and len(calls) == 1


def test_an_imported_rep_with_the_same_email_is_linked_and_the_reply_says_so(
        database, slack_api, clock, tmp_path):
    _import_owner(database, tmp_path, "sara.nilsen@acme.example")
    slack_api.set_user("U_SARA", real_name="Sara Nilsen", name="alice",
                       email="Sara.Nilsen@acme.example")
    with running_server(_bot(database, slack_api, clock)) as base_url:
        first = _post(base_url, "log call 1")
        second = _post(base_url, "log call 1")
    assert "Linked the imported rep sara.nilsen@acme.example to you by your email: " \
           "2 events now count for you." in str(first)
    assert "Linked" not in str(second)
    with database.read() as session:
        owners = {e.user_id for e in session.scalars(
            select(Event).where(Event.workspace_id == WORKSPACE)).all()}
        reps = session.scalars(select(User.id).where(User.workspace_id == WORKSPACE,
                                                  User.id.startswith("rep:"))).all()
    assert owners == {"U_SARA"} and reps == []


def test_a_rep_with_another_email_stays_named(database, slack_api, clock, tmp_path):
    _import_owner(database, tmp_path, "sara@other.example")
    slack_api.set_user("U_SARA", real_name="Sara Nilsen", email="sara.nilsen@acme.example")
    with running_server(_bot(database, slack_api, clock)) as base_url:
        body = _post(base_url, "log call 1")
    assert "Linked" not in str(body)
    with database.read() as session:
        owners = {e.user_id for e in session.scalars(
            select(Event).where(Event.workspace_id == WORKSPACE)).all()}
    assert owners == {"U_SARA", "rep:sara-other-example"}


def test_the_profile_carries_the_users_language_when_kpibot_speaks_it():
    from bot.slack.people import profile_of

    user = {"real_name": "Ola", "locale": "nb-NO", "profile": {"real_name": "Ola Nordmann",
                                                               "email": " ola@x.example "}}
    assert profile_of(user) == Profile("Ola Nordmann", "ola@x.example", "nb")
    assert profile_of({"locale": "de-DE", "profile": {"display_name": "Max"}}) == \
        Profile("Max", None, None)


def test_one_users_info_serves_the_name_and_the_admin_check(database, slack_api, clock):
    slack_api.set_user("U_SARA", real_name="Sara Nilsen", is_admin=True)
    with running_server(_bot(database, slack_api, clock)) as base_url:
        body = _post(base_url, "digest here")
        again = _post(base_url, "digest off")
    assert "Digest set" in body["text"] and "turned off" in again["text"]
    assert len(slack_api.calls_to("users.info")) == 1

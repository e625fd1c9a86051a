"""Every reply kind the bot has, in all 5 languages, through the real command handler on SQLite
and PostgreSQL: each command's success reply and its main refusals (help and help for every
command, ping, KPI answers, log/undo, quota set/history, digest setup, rep list/link, the
linked-rep notice) and the Home view (Block Kit), in a seeded workspace and in an empty one.

Each is checked with tests/support/reading.py: no raw number, None, True/False or `{field}`
left; outside English no English word of the catalog left (names, deal names, command words,
event kinds and KPI keys aside). Counts take each language's plural form (Romanian: "1
eveniment", "2 evenimente", "20 de evenimente", "101 evenimente").

Data warnings (`⚠ ...`: reps under quota, wins without an amount, capped ratios) and the KPI
catalog's formulas (`/kpi list`, `/kpi help KPI`, the formula line under a KPI answer) are
checked too; the bot's own words around replies (buttons, refusals when the database or the
platform fails): test_the_bots_own_words_around_replies_in_every_language."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.core import (
    COMMIT_LATE_FOLLOWED_REPLY,
    COMMIT_LATE_REPLY,
    AdminCheckFailed,
    CommandRequest,
    late_reply,
    refusal,
)
from bot.handlers.home import compose_home
from bot.handlers.registry import COMMANDS, build_command_handler
from bot.interactive.actions import UNDO, Actor, undo_from_button
from bot.interactive.values import ActionValues
from bot.slack.blocks import render_slash_response
from bot.slack.digest_buttons import with_digest_buttons
from bot.slack.views import home_view
from bot.transfer.importer import ImportOptions, import_csv
from bot.transfer.presets import CANONICAL_COLUMNS
from reports.events import KINDS
from reports.kpis.catalog import CATALOG
from reports.languages import LANGUAGES
from sampledata import seed_workspace
from storage import digests as ledger
from storage.engine import Database, build_engine
from storage.models import Deal, User
from tests.support.dialog import Chat
from tests.support.reading import english_left, raw_values, strings_of

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE, EMPTY = "slack:TEVERY", "slack:TEMPTY"
BOSS, REP = "UGEN001", "UGEN002"  # the admin, a rep
NEWCOMER = "U_CY"  # a person the bot has no row for: named by mention, never by a bare id
COUNTS = (1, 2, 5, 20, 101)  # events of the named reps linked to check plural forms
# Words that are not English words left untranslated: product and platform names, language
# codes, acronyms, the words of an ISO time zone, the math of a formula (max, min for minutes)
KEPT = {"pong", "slack", "teams", "workflows", "webhook", "webhooks", "europe", "oslo", "utc",
        "id", "en", "nb", "sv", "ro", "zh", "max", "min"}
# Words of the language that are spelt like an English word (besides its month and day names,
# tests/support/reading.py)
SAME = {"nb": {"for", "en", "over", "best", "import", "post", "at", "status", "send", "to",
               "rate", "person", "pause", "sum", "team"},
        "sv": {"en", "in", "period", "periods", "status", "import", "post", "team", "person"},
        "ro": {"formula", "catalog", "chat", "date", "are", "marketing", "spam", "import",
               "create", "rata", "per"},
        "zh": set()}
# What a person types or the platform shows as is: `code`, [OPTIONAL] parts, "quoted" names,
# key=value, @user, the tests' channel and user ids (C_SALES), error codes
# (channel_not_found), other commands (kpibot serve, /invite), a|b choices, mon..sun, placeholders
_TYPED = [re.compile(pattern) for pattern in (
    r"`[^`]*`", r'"[^"]*"', r"[\w-]+=\S*", r"<?@[\w|-]+>?", r"\b[A-Z]+_[A-Z0-9_]+\b",
    r"\b[a-z]+(?:_[a-z]+)+\b", r"\bkpibot(?: [a-z]+){1,2}\b", r"/invite\b", r"\|[\w|]+",
    r"\b\w+\.\.\w+\b", r"\b[A-Z]{2,}\b")]
_BRACKETS = re.compile(r"\[[^\[\]]*\]")

def _title(language: str) -> str:
    return language.capitalize()


def _ask(chat: Chat, text: str, language: str, user: str = BOSS, channel: str | None = "C_SALES",
         email: str | None = None, workspace: str = WORKSPACE):
    return chat.handler.handle(CommandRequest(
        platform="slack", workspace_id=workspace, user_id=user, text=text,
        user_language=language, channel_id=channel, user_email=email))


def _import(database, tmp_path: Path) -> None:
    """Named reps for each language: `Kari Nb` (linked by command), `sara.nb@example.com`
    (linked by email when that person first writes) and `Ion Nb 20` with 20 events; and a
    win without an amount (a data warning under revenue views)."""
    day = datetime(2026, 10, 5, 10, 0)
    rows = [f"{day:%Y-%m-%d %H:%M},deal-won,1,,,unpriced-deal,,Wen Nopay,,,"]
    for language in LANGUAGES:
        rows.append(f"{day:%Y-%m-%d %H:%M},call,3,,,,,Kari {_title(language)},,,")
        rows.append(f"{day:%Y-%m-%d %H:%M},call,2,,,,,sara.{language}@example.com,,,")
        for n in COUNTS:
            rows += [f"{day + timedelta(minutes=i):%Y-%m-%d %H:%M},call,1,,,,,"
                     f"Ion {_title(language)} {n},,," for i in range(n)]
    path = tmp_path / "named-reps.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")
    result = import_csv(database=database, path=path, now=NOW,
                        options=ImportOptions(workspace_id=WORKSPACE))
    assert result.problems == [] and result.added == len(rows)


def _deliveries(chat: Chat, database) -> None:
    """A digest in another channel with one sent and one failed delivery (digest list/status)."""
    assert _ask(chat, "digest here weekly mon 09:00 lang=nb", "en", channel="C_OTHER").ok
    with database.write() as session:
        (schedule,) = ledger.list_schedules(session=session, workspace_id=WORKSPACE)
        for days, status, error in ((9, "sent", None), (2, "failed", "channel_not_found")):
            slot = NOW - timedelta(days=days)
            claim = ledger.claim_slot(session=session, schedule=schedule, slot_at=slot,
                                      worker="test", now=slot, lease=timedelta(minutes=5))
            ledger.finish_delivery(session=session, delivery_id=claim.id, worker="test",
                                   status=status, now=slot, attempts=1, error=error)


@pytest.fixture
def seeded(database, tmp_path):
    seed_workspace(database=database, workspace_id=WORKSPACE, target_events=1_500, end=NOW,
                   seed=5, timezone="Europe/Oslo", platform="slack")
    _import(database, tmp_path)
    chat = Chat(database, workspace=WORKSPACE, now=NOW, admins={BOSS}, default_user=BOSS)
    _deliveries(chat, database)
    with database.read() as session:
        names = [*session.execute(sa.select(User.display_name)).scalars(),
                 *session.execute(sa.select(User.id)).scalars(),
                 *session.execute(sa.select(Deal.name)).scalars()]
    typed = ["acme-widgets", "nobody-here", "acme", "Jane Doe", "jane-doe", "rep:", *KINDS,
             *CATALOG]
    return chat, [name for name in names if name] + typed


def _conversation(language: str) -> list[tuple[str, str, str | None]]:
    """(user, text, channel) of every reply kind, in an order that reaches each state."""
    title = _title(language)
    helps = [(BOSS, f"help {spec.word}", "C_SALES") for spec in COMMANDS]
    return [
        (BOSS, "help", "C_SALES"), (BOSS, "help events", "C_SALES"), *helps,
        (BOSS, "help win-rate", "C_SALES"), (BOSS, "help revenue", "C_SALES"),
        (BOSS, "list", "C_SALES"),
        (BOSS, "help nosuchthing", "C_SALES"), (BOSS, "ping", "C_SALES"),
        (BOSS, "win-rate this-quarter", "C_SALES"), (BOSS, "funnel this-quarter", "C_SALES"),
        (BOSS, "leaderboard revenue this-year", "C_SALES"), (BOSS, "me this-month", "C_SALES"),
        (BOSS, "churn last-month", "C_SALES"), (BOSS, "quota this-month", "C_SALES"),
        (BOSS, "log call 3 acme-widgets", "C_SALES"), (BOSS, "undo", "C_SALES"),
        (BOSS, "log email-clicked 90", "C_SALES"), (BOSS, "click-rate today", "C_SALES"),
        (BOSS, "undo", "C_SALES"), (BOSS, "revenue this-year", "C_SALES"),
        (BOSS, "undo 999999", "C_SALES"),
        (BOSS, f"quota set <@{NEWCOMER}> 20 monthly demo-booked", "C_SALES"),
        (BOSS, f"quota set <@{REP}> 50k quarterly", "C_SALES"),
        (REP, f"quota set <@{REP}> 50k", "C_SALES"),
        (BOSS, "quota history", "C_SALES"), (BOSS, f"quota history <@{NEWCOMER}>", "C_SALES"),
        (REP, "digest here", "C_SALES"), (BOSS, "digest now", "C_SALES"),
        (BOSS, "digest off", "C_SALES"), (BOSS, "digest here", None),
        (BOSS, "digest here webhook=https://example.com/hook", "C_SALES"),
        (BOSS, "digest here weekly fri 16:30 Europe/Oslo lang=sv", "C_SALES"),
        (BOSS, "digest here monthly last 08:00", "C_SALES"),
        (BOSS, "digest here monthly 15 08:00 lang=zh", "C_SALES"),
        (BOSS, "digest list", "C_SALES"), (BOSS, "digest status", "C_SALES"),
        (BOSS, "digest preview", "C_SALES"), (BOSS, "digest now", "C_SALES"),
        (REP, "digest off", "C_SALES"), (BOSS, "digest off", "C_SALES"),
        (BOSS, "rep list", "C_SALES"), (REP, f"rep link \"Kari {title}\" <@UGEN003>", "C_SALES"),
        (BOSS, f"rep link \"Kari {title}\" <@UGEN003>", "C_SALES"),
        (BOSS, "rep link nobody-here <@UGEN003>", "C_SALES"),
        (BOSS, "rep link kari <@UGEN003>", "C_SALES"),
    ]


def _empty_conversation() -> list[tuple[str, str, str | None]]:
    return [(BOSS, "rep list", "C_SALES"), (BOSS, "rep link \"Jane Doe\" <@UGEN003>", "C_SALES"),
            (BOSS, "quota this-month", "C_SALES"), (BOSS, "quota history", "C_SALES"),
            (BOSS, "digest list", "C_SALES"), (BOSS, "digest status", "C_SALES"),
            (BOSS, "digest preview", "C_SALES")]


def _lines(text: str) -> list[str]:
    """The lines a person reads."""
    return text.splitlines()


def _untyped(line: str) -> str:
    while _BRACKETS.search(line):
        line = _BRACKETS.sub(" ", line)
    for pattern in _TYPED:
        line = pattern.sub(" ", line)
    return line


def _problems(where: str, lines: list[str], language: str, names: list[str]) -> list[str]:
    found = [f"{where}: {p}" for p in raw_values(lines)]
    if language != "en":
        for line in lines:
            for problem in english_left([_untyped(line)], language, names=names):
                words = _english_words(problem) - SAME[language] - KEPT
                found += [f"{where}: {sorted(words)} in {line!r}"] if words else []
    return found


def _reply_text(reply) -> str:
    """What the person reads of a reply; a preview's digest is in the digest's language."""
    if reply.digest is not None:
        return reply.text
    return reply.plain_text()


def _english_words(problem: str) -> set[str]:
    return {w.strip("' ").lower() for w in problem.split("]")[0].split("[")[-1].split(",")}


def test_every_reply_and_view_in_every_language(seeded, database):
    chat, names = seeded
    problems: list[str] = []
    texts: dict[tuple[str, str], str] = {}
    for language in LANGUAGES:
        for user, text, channel in _conversation(language):
            reply = _ask(chat, text, language, user=user, channel=channel)
            texts[language, text if user == BOSS else f"{user} {text}"] = reply.plain_text()
            problems += _problems(f"{language} {user} /kpi {text}", _lines(_reply_text(reply)),
                                  language, names)
        notice = _ask(chat, "help", language, user=f"U_MAIL_{language}",
                      email=f"sara.{language}@example.com")
        texts[language, "linked by email"] = notice.plain_text()
        problems += _problems(f"{language} linked by email", _lines(notice.sections[-1].context),
                              language, names)
        for user in (BOSS, REP):
            home = compose_home(chat.handler.context, CommandRequest(
                platform="slack", workspace_id=WORKSPACE, user_id=user, text="home",
                user_language=language))
            lines = _lines("\n".join(strings_of(home_view(home), ("text",))))
            texts[language, f"home {user}"] = "\n".join(lines)
            problems += _problems(f"{language} Home of {user}", lines, language, names)
        for user, text, channel in _empty_conversation():
            reply = _ask(chat, text, language, user=user, channel=channel, workspace=EMPTY)
            texts[language, f"empty {text}"] = reply.plain_text()
            problems += _problems(f"{language} (empty workspace) /kpi {text}",
                                  _lines(_reply_text(reply)), language, names)
        nobody = compose_home(chat.handler.context, CommandRequest(
            platform="slack", workspace_id="slack:TNOBODY", user_id=BOSS, text="home",
            user_language=language))
        problems += _problems(f"{language} Home of a new workspace",
                              _lines("\n".join(strings_of(home_view(nobody), ("text",)))), language,
                              names)
    assert not problems, "\n".join(problems)

    # the data warnings under answers are there, in every language (checked above)
    for language in LANGUAGES:
        for asked in ("click-rate today", "revenue this-year", "quota this-month",
                      "leaderboard revenue this-year"):
            assert "⚠" in texts[language, asked], (language, asked, texts[language, asked])
    assert "1 of " in texts["en", "revenue this-year"]
    assert "shown capped at 100%" in texts["en", "click-rate today"]
    assert "vunne avtaler mangler beløp" in texts["nb", "revenue this-year"]
    assert "按上限 100% 显示" in texts["zh", "click-rate today"]
    # the formulas: words translated, event kinds, KPI names and P as they are
    assert "sum of deal-won amounts in P" in texts["en", "help revenue"]
    assert "sum av deal-won-beløp i P" in texts["nb", "help revenue"]
    assert "revenue: sum of deal-won amounts in P" in texts["en", "revenue this-year"]
    assert "revenue: suma valorilor deal-won în P" in texts["ro", "revenue this-year"]
    assert "email-clicked / email-delivered" in texts["zh", "list"]
    assert "P 内 deal-won 金额之和" in texts["zh", "list"]

    # the person a quota is set for is named, never a bare id, and the KPI is said once
    quota_set = texts["en", f"quota set <@{NEWCOMER}> 20 monthly demo-booked"]
    assert f"<@{NEWCOMER}>" in quota_set and not re.search(rf"(?<!<@){NEWCOMER}", quota_set)
    assert quota_set.count("demo-booked") == 1, quota_set
    assert texts["nb", f"quota set <@{NEWCOMER}> 20 monthly demo-booked"].startswith(
        f"Kvote satt: <@{NEWCOMER}> — 20 demo-booked per måned, fra ")
    # a few replies word for word
    assert texts["sv", "digest here weekly fri 16:30 Europe/Oslo lang=sv"].startswith(
        "Rapport inställd för den här kanalen: veckovis på fredag kl. 16:30 Europe/Oslo, på "
        "svenska.")
    assert texts["ro", "help"].startswith("kpibot: înregistrați activitatea de vânzări")
    assert texts["zh", "ping"].startswith("pong · 服务器时间 ")
    assert texts["nb", "help quota set"].startswith("/kpi quota set\n\n(administratorer) ")
    assert "Angre" not in texts["en", "help log"] and "Usage:" in texts["en", "help log"]
    assert texts["en", "linked by email"].endswith(
        "Linked the imported rep sara.en@example.com to you by your email: 1 event now counts "
        "for you.")
    assert texts["zh", f"{REP} digest here"].startswith("只有管理员可以设置报告")
    assert "Uken din" in texts["nb", f"home {REP}"] and "Ditt team" in texts["sv", f"home {BOSS}"]


PLURALS = {  # the events of a linked named rep, for 1, 2, 5, 20 and 101 events
    "en": ("1 event and", "2 events and", "5 events and", "20 events and", "101 events and"),
    "nb": ("1 hendelse og", "2 hendelser og", "5 hendelser og", "20 hendelser og",
           "101 hendelser og"),
    "sv": ("1 händelse och", "2 händelser och", "5 händelser och", "20 händelser och",
           "101 händelser och"),
    "ro": ("1 eveniment și", "2 evenimente și", "5 evenimente și", "20 de evenimente și",
           "101 evenimente și"),
    "zh": ("1 个事件和", "2 个事件和", "5 个事件和", "20 个事件和", "101 个事件和"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_counts_in_replies_take_the_plural_form_of_the_language(seeded, language):
    chat, _names = seeded
    for n, expected in zip(COUNTS, PLURALS[language], strict=True):
        reply = _ask(chat, f'rep link "Ion {_title(language)} {n}" <@UGEN004>', language)
        assert reply.ok and expected in reply.text, (language, n, reply.text)
        if language == "ro" and n != 20:
            assert f"{n} de " not in reply.text, reply.text


class _AdminCheckTimesOut:
    def is_admin(self, workspace_id: str, user_id: str) -> bool:
        raise AdminCheckFailed("the platform did not answer")


def _bot_words(chat: Chat, database, tmp_path: Path, language: str) -> dict[str, str]:
    """What the bot says in its own words around the commands: the Slack log reply with
    its Undo button, the refusal of an Undo button it did not sign, the digest's buttons, the
    refusals when the database is down, the deadline passed, the admin check timed out, or a
    command is not wired in this version."""
    request = CommandRequest(platform="slack", workspace_id=WORKSPACE, user_id=BOSS,
                             text="digest off", user_language=language, channel_id="C_SALES")
    logged = _ask(chat, "log call 3 acme-widgets", language)
    assert logged.undo_event is not None
    slack = render_slash_response(logged, lambda event: f"undo-{event}")
    assert _ask(chat, "undo", language).ok
    down = Database(engine=build_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'kpibot.db'}"))
    unwired = build_command_handler(chat.handler.context, COMMANDS)
    del unwired.handlers[next(spec.command for spec in COMMANDS if spec.word == "digest")]
    admin_check = dataclasses.replace(chat.handler.context, admins=_AdminCheckTimesOut())
    values, other = ActionValues("secret"), ActionValues("another app's secret")
    forged = asyncio.run(undo_from_button(
        chat.handler, values, Actor(platform="slack", workspace_id=WORKSPACE, user_id=BOSS,
                                    user_language=language),
        other.sign(UNDO, WORKSPACE, logged.undo_event)))
    return {
        "undo button of another app": forged.plain_text(),
        "slack log reply": "\n".join(strings_of(slack["blocks"], ("text",))),
        "digest buttons": "\n".join(strings_of(with_digest_buttons([], language), ("text",))),
        "database down": build_command_handler(
            dataclasses.replace(chat.handler.context, database=down), COMMANDS).handle(
            request).plain_text(),
        "deadline passed": chat.handler.handle(request, deadline=0.0).plain_text(),
        "commit answered late": refusal(COMMIT_LATE_FOLLOWED_REPLY, request).plain_text(),
        "commit late, no follow-up": refusal(COMMIT_LATE_REPLY, request).plain_text(),
        "late answer": late_reply(logged, request).plain_text(),
        "admin check": build_command_handler(admin_check, COMMANDS).handle(
            request).plain_text(),
        "not in this version": unwired.handle(request).plain_text(),
    }


def test_the_bots_own_words_around_replies_in_every_language(seeded, database, tmp_path):
    chat, names = seeded
    problems: list[str] = []
    said: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        said[language] = _bot_words(chat, database, tmp_path, language)
        for where, text in said[language].items():
            problems += _problems(f"{language} {where}", _lines(text), language, names)
    assert not problems, "\n".join(problems)
    english = said["en"]
    assert english["slack log reply"].endswith("\nUndo")
    assert "Pause the digest?" in english["digest buttons"]
    assert english["database down"].startswith("The database is busy or not reachable")
    assert english["deadline passed"].startswith("The database did not answer in time")
    assert english["commit answered late"].startswith("The database did not answer in time "
                                                      "while saving this")
    assert english["late answer"].startswith("Update on “/kpi digest off”")
    assert english["undo button of another app"].startswith(
        "This Undo button does not belong to this workspace")
    assert english["admin check"].startswith("kpibot could not check with Slack")
    assert english["not in this version"].startswith(
        "/kpi digest is not available in this version.")
    for language in LANGUAGES[1:]:  # each says it in its own words
        assert all(said[language][where] != text for where, text in english.items()), language
    assert said["nb"]["slack log reply"].endswith("\nAngre")
    assert said["zh"]["database down"].startswith("数据库当前繁忙或无法访问")

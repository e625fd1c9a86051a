"""Sloppy and natural phrasings through the real command handler (SPEC section 4, "Sloppy input is
asked about"; issue 14 item 10, issue 16 items 2 and 3), on SQLite and PostgreSQL.

Each phrasing either runs the command a person meant (the handler that answered is recorded,
with the command it got, and what was stored is read back from the events table), or is asked
about / refused with a reply that names the wrong word; then nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from bot import grammar
from storage.models import Event
from storage.workspaces import ensure_user
from tests.support.dialog import Chat as DialogChat

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # a Wednesday
WORKSPACE = "slack:TSLOPPY"
PEOPLE = {"U_ALICE": "alice", "U_SARA": "Sara Nilsen", "U_SAM": "Sam Smith",
          "U_SAMJ": "Sam Jones", "rep:ola-nordmann": "Ola Nordmann"}  # the last: an import's


class Chat(DialogChat):
    """The bot's real command handler (tests/support/dialog.py), U_BOSS its only admin."""

    def __init__(self, database) -> None:
        super().__init__(database, workspace=WORKSPACE, now=NOW)

    def events(self) -> list[Event]:
        with self.database.read() as session:
            rows = session.execute(sa.select(Event).where(Event.workspace_id == WORKSPACE)
                                   .order_by(Event.id)).scalars().all()
            session.expunge_all()
            return list(rows)


@pytest.fixture
def chat(database) -> Chat:
    chat = Chat(database)
    assert chat.ask("help").ok  # first contact: the workspace and the admin's user row
    with database.write() as session:
        for user_id, name in PEOPLE.items():
            ensure_user(session=session, workspace_id=WORKSPACE, user_id=user_id,
                        display_name=name, now=NOW)
    chat.ran.clear()
    return chat


@dataclass(frozen=True)
class Stored:
    """One event stored with these fields (occurred_at compared by UTC day)."""

    kind: str
    count: int = 1
    day: date = NOW.date()
    deal_key: str | None = None
    amount_minor: int | None = None
    user_id: str = "U_BOSS"
    note: str | None = None
    says: str = "Logged "  # in the confirmation


@dataclass(frozen=True)
class Ran:
    """The command type that ran, with these fields; nothing stored."""

    command: type
    fields: dict = field(default_factory=dict)
    says: tuple[str, ...] = ()  # in the reply


@dataclass(frozen=True)
class Asked:
    """A question or refusal naming these words; no handler ran and nothing was stored."""

    says: tuple[str, ...]


CASES: list[tuple[str, object]] = [
    # ---- issue 16.2: a word after the event: part of its name, a day, a number in words
    ("log demo booked", Asked(('Did you mean /kpi log demo-booked?', '"demo booked"',
                              '/kpi log demo "booked"'))),
    ("log demo booked acme", Asked(("Did you mean /kpi log demo-booked acme?",))),
    ("log email sent 40", Asked(("Did you mean /kpi log email-sent 40?",))),
    ("log call connected 3", Asked(("Did you mean /kpi log call-connected 3?",))),
    ("log demo request globex", Asked(("Did you mean /kpi log demo-request globex?",))),
    ("log deal won acme 12k", Stored("deal-won", deal_key="acme", amount_minor=1_200_000)),
    ("log closed won globex 5k", Stored("deal-won", deal_key="globex", amount_minor=500_000)),
    ("log website visit 1200", Stored("website-visit", count=1200)),
    ("log call 5 yesterday", Stored("call", count=5, day=date(2026, 11, 17))),
    ("log call yesterday", Stored("call", day=date(2026, 11, 17))),
    ("log call 3 2026-11-02", Stored("call", count=3, day=date(2026, 11, 2))),
    ("log call 2 on last friday", Stored("call", count=2, day=date(2026, 11, 13))),
    ("log call 4 on 5 nov", Stored("call", count=4, day=date(2026, 11, 5))),
    ("log deal-won initech 12k yesterday", Stored("deal-won", deal_key="initech",
                                                   amount_minor=1_200_000,
                                                   day=date(2026, 11, 17))),
    ("log deal-lost acme reason=price lost to rival yesterday",
     Asked(('"yesterday"', "/kpi log deal-lost acme reason=price lost to rival on yesterday"))),
    ("log call 5 friday", Asked(('"friday"', "Did you mean /kpi log call 5 on friday?"))),
    ("log call 5 last friday", Asked(('"last friday"', "/kpi log call 5 on last friday"))),
    ("log call 3 sat with the cfo", Asked(('"sat"', 'note="..."'))),
    ("log call 5 2026-12-24", Asked(("2026-12-24 is in the future",))),
    ("log call twelve", Asked(('"twelve"', "Did you mean /kpi log call 12?"))),
    ("log call twenty five", Asked(('"twenty five"', "/kpi log call 25?"))),
    ("log demo-booked acme one", Asked(('"one"', "/kpi log demo-booked acme 1?"))),
    ("log deal-won acme five thousand", Asked(('"five thousand"',
                                               "/kpi log deal-won acme 5000?"))),
    ("log deal-won acme 5 thousand", Asked(('"5 thousand"', "/kpi log deal-won acme 5k?"))),
    ("log call 12 tried the 2nd number", Stored("call", count=12, note="tried the 2nd number")),
    ("log demo acme at 2pm", Stored("demo-booked", deal_key="acme", note="at 2pm")),
    # ---- issue 14.10: doubtful numbers, zero amounts, days before 2000
    ("log call 1e3", Asked(('"1e3"', "scientific notation", "1000"))),
    ("log call 1e309", Asked(('"1e309"', "scientific notation"))),
    ("log call 12kk", Asked(('"12kk"', "one k or m at most"))),
    ("log call 0x10", Asked(('"0x10"', "base-16", "16"))),
    ("log call NaN", Asked(('"NaN" is not a number',))),
    ("log call inf", Asked(('"inf" is not a number',))),
    ("log call １２", Asked(('"１２"', "did you mean 12?"))),
    ("log call ٤٢", Asked(('"٤٢"', "did you mean 42?"))),
    ("log deal-won acme 1e3", Asked(('"1e3"', "1000"))),
    ("log mrr-change acme NaN", Asked(('"NaN" is not a number',))),
    ("log mrr-change acme", Asked(("mrr-change needs an amount",))),
    ("log mrr-change acme 0", Asked(('"0" is zero', "other than 0"))),
    ("log deal-won acme 0", Asked(('"0" is zero', "deal-won needs an amount above 0"))),
    ("log call on 1969-12-31", Asked(("1969-12-31 is before 2000-01-01",))),
    ("log call 1969-12-31", Asked(("1969-12-31 is before 2000-01-01",))),
    # ---- issue 16.3: a typed @name among the workspace's known users
    ("log call 3 @sara", Stored("call", count=3, user_id="U_SARA", says="for Sara Nilsen")),
    ("log call 3 @Sara.Nilsen", Stored("call", count=3, user_id="U_SARA")),
    ("log call 3 @sam", Asked(('"@sam" could be Sam Jones or Sam Smith', "autocomplete"))),
    ("log call 3 @nobody", Asked(('"@nobody"', "no one known here", "autocomplete"))),
    ("funnel @alice", Ran(grammar.FunnelCommand, {"user": "U_ALICE"}, ("Funnel · alice",))),
    ("quota set @sara 50k", Ran(grammar.QuotaSetCommand, {"user": "U_SARA", "target": 5_000_000},
                                ("Quota set",))),
    ("funnel @sam", Asked(('"@sam" could be Sam Jones or Sam Smith',))),
    ("funnel @ola", Asked(('"@ola" is typed text', "no one known here"))),  # a named rep
    # ---- issue 16.3: natural KPI names and periods
    ("win rate", Ran(grammar.KpiCommand, {"name": "win-rate"}, ("Win rate",))),
    ("win rate last quarter", Ran(grammar.KpiCommand, {"name": "win-rate"},
                                  ("Win rate", "2026-Q3 (Jul 1 – Sep 30)"))),
    ("Win_Rate q3", Ran(grammar.KpiCommand, {"name": "win-rate"}, ("2026-Q3",))),
    ("churn rate this quarter", Ran(grammar.KpiCommand, {"name": "churn-rate"},
                                    ("2026-Q4 (Oct 1 – Dec 31)",))),
    ("deals won november 2025", Ran(grammar.KpiCommand, {"name": "deals-won"},
                                    ("November 2025",))),
    ("show cost per lead", Ran(grammar.KpiCommand, {"name": "cpl"}, ("Cost per lead",))),
    ("funnel Q3", Ran(grammar.FunnelCommand, {}, ("Funnel · 2026-Q3 (Jul 1 – Sep 30)",))),
    ("funnel last quarter", Ran(grammar.FunnelCommand, {"period": "last-quarter"},
                                ("2026-Q3 (Jul 1 – Sep 30)",))),
    ("funnel this quarter", Ran(grammar.FunnelCommand, {}, ("2026-Q4 (Oct 1 – Dec 31)",))),
    ("funnel november", Ran(grammar.FunnelCommand, {}, ("November 2026",))),
    ("funnel december", Ran(grammar.FunnelCommand, {}, ("December 2025",))),
    ("me last 30 days", Ran(grammar.MeCommand, {}, ("last 30 days (Oct 20 – Nov 18)",))),
    ("churn year to date", Ran(grammar.ChurnCommand, {}, ("year to date",))),
    ("leaderboard win rate this month", Ran(grammar.LeaderboardCommand,
                                            {"kpi": "win-rate", "period": "this-month"},
                                            ("Win rate", "November 2026"))),
    ("leaderboard activities this week", Ran(grammar.LeaderboardCommand,
                                             {"kpi": "activities"})),
    ("leaderboard calls this-week", Asked(('"calls" is an event, not a KPI', '"activities"',
                                           "/kpi leaderboard activities this-week"))),
    ("funnel last quater", Asked(('"quater" does not make a period after "last"',
                                  '"last-quarter"'))),
    ("funnel Q5", Asked(('"Q5" is not a quarter',))),
    ("win", Asked(('"win" is not a command', "/kpi win-rate"))),
    ("calls this week", Asked(('"calls" is not a command', "/kpi log call", "/kpi activities"))),
    ("revenue last month", Ran(grammar.KpiCommand, {"name": "revenue", "period": "last-month"},
                               ("October 2026",))),
    ("me junuary", Asked(('"junuary" is not a period. Did you mean "january"?',))),
]


def test_there_are_at_least_forty_phrasings():
    assert len(CASES) >= 40
    assert len({text for text, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_sloppy_or_natural_phrasing(chat, text, expected):
    before = chat.events()
    reply = chat.ask(text)
    after = chat.events()
    shown = reply.plain_text()
    if isinstance(expected, Asked):
        assert not reply.ok, shown
        assert chat.ran == [], chat.ran
        for fragment in expected.says:
            assert fragment in reply.text, (fragment, reply.text)
        assert len(after) == len(before)
        return
    assert reply.ok, shown
    assert len(chat.ran) == 1
    command = chat.ran[0]
    if isinstance(expected, Ran):
        assert type(command) is expected.command, command
        for name, value in expected.fields.items():
            assert getattr(command, name) == value, (name, command)
        for fragment in expected.says:
            assert fragment in shown, (fragment, shown)
        assert len(after) == len(before)
        return
    assert isinstance(command, grammar.LogCommand)
    assert len(after) == len(before) + 1
    event = after[-1]
    got = Stored(kind=event.kind, count=event.count, day=event.occurred_at.astimezone(UTC).date(),
                 deal_key=event.deal_key, amount_minor=event.amount_minor, user_id=event.user_id,
                 note=event.note, says=expected.says)
    assert got == expected, shown
    assert expected.says in reply.text, reply.text

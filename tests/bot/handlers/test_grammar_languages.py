"""Every sentence the command grammar refuses with reaches the user in their language.

Bad commands (at least one for each refusal the grammar, amount and period parsing can give:
tokens, log, digest, quota, rep, report and KPI commands, the database-free `ping`, the typed
@name lookup) go through the real command handler on SQLite and PostgreSQL in all 5 languages.
In English each reply is the sentence it was before the grammar spoke other languages (the
second column). In nb, sv, ro and zh each reply has no English word left (tests/support/
reading.py; the user's quoted words, people's names and the command words a sentence names,
like `monthly` or `lang=`, stay as typed), no `{placeholder}`, None or True/False, and it is
not the English sentence. The log form's field messages are checked the same way."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from bot.core import CommandRequest
from bot.grammar.digest import _DIGEST_ACTIONS, _WEEKDAYS
from bot.grammar.errors import MAX_TEXT
from bot.grammar.log import _OPTIONS
from bot.grammar.reading import _PERIOD_WORDS
from bot.handlers.registry import COMMANDS
from bot.interactive.log_form import read_form
from reports.events import ALIASES, KINDS, MAX_NOTE, MAX_REP_NAME
from reports.i18n import translator
from reports.kpis.catalog import CATALOG
from reports.languages import LANGUAGES
from reports.periods import MONTHS, WEEKDAYS
from tests.support.dialog import Chat
from tests.support.reading import english_left, raw_values

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
WORKSPACE = "slack:TGRAMMAR"

# Words a refusal names as the user types them (commands, options, periods, days, examples)
COMMAND_WORDS = {
    *(part for spec in COMMANDS for part in spec.word.split()), *_DIGEST_ACTIONS, *_WEEKDAYS,
    *(part for word in _PERIOD_WORDS for part in word.split("-")), *WEEKDAYS, *MONTHS,
    *_OPTIONS, *(part for name in (*CATALOG, *KINDS, *ALIASES) for part in name.split("-")),
    "weekly", "monthly", "quarterly", "last", "from", "on", "lang", "webhook", "revenue",
    "cohort", "events", "https", "http", "oct", "feb", "rep", "jane", "doe", "k", "m",
    # names and formats kept in every language
    "Teams", "Workflows", "URL", "IANA", "ISO", "ASCII", "Europe", "Oslo", "YYYY", "MM", "DD",
    "HH", "USD", "GBP", "EUR", "XYZ", "DATE", "ID",
}
# Words that are English and also the language's own ("for eksempel", "en person")
SAME = {"nb": {"for", "person"}, "sv": {"person", "notation", "text"},
        "ro": {"are", "zero", "non", "text", "chat"}, "zh": set()}
# Example amounts a sentence shows to type (`12000, 12k or $1.5m`): not cents
EXAMPLES = re.compile(r"(?<![\d.,])12000(?:\.50)?(?!\d)")
# The user's own words: quoted (in any language's quotes) or a Slack escape (<@U1>)
_THEIRS = re.compile(r'"[^"]*"|„[^”]*”|“[^”]*”|”[^”]*”|«[^»]*»|<[^<>]*>')
_WORD = re.compile(r"[^\W\d_]+")

# (the command after /kpi, the English refusal: the whole sentence, or its start when the
# command echoes a very long word)
REFUSALS = [
    ('log call "Acme left a message',
     'The quote " before "Acme left a message" is never closed; end the name with ".'),
    ('log call "',
     'The quote " at the end is never closed.'),
    ('digest',
     '/kpi digest needs an action: here, off, list, preview, now, status.'),
    ('digest previwe',
     '"previwe" is not a digest action. Did you mean "preview"? Actions: here, off, list, '
     'preview, now, status.'),
    ('digest zzz',
     '"zzz" is not a digest action. Actions: here, off, list, preview, now, status.'),
    ('digest here webhook=ftp://example.com',
     'webhook= takes the Teams Workflows URL (https://...).'),
    ('digest here color=red',
     '"color=red": the options here are lang= and webhook=.'),
    ('digest here lang=xx',
     '"xx" is not a digest language; choose one of en, nb, sv, ro, zh.'),
    ('digest here weekly mon tue',
     '"tue" is a second weekday; give only one.'),
    ('digest here monthly 30',
     '"30": monthly digests go out on day 1 to 28, or last.'),
    ('digest here weekly 5th',
     '"5" is a day of the month, but weekly digests take a weekday like mon (write the time '
     'like 09:00).'),
    ('digest here monthly fri',
     '"fri" is a weekday, but monthly digests take a day of the month: 1 to 28, or last.'),
    ('digest here 13pm',
     '"13pm" is not a time of day.'),
    ('digest here 25:00',
     '"25:00" is not a time of day; use 24-hour HH:MM like 09:00.'),
    ('digest here Mars/Base',
     '"Mars/Base" is not a time zone. Use a name like Europe/Oslo.'),
    ('digest here oslo',
     '"oslo" is not a time zone. Did you mean "Europe/Oslo"?'),
    ('digest here lang=nb lang=sv',
     '"lang=sv" is a second language; give only one.'),
    ('digest here weekly monthly',
     '"monthly" is a second cadence; give only one.'),
    ('digest here 9:00 10:00',
     '"10:00" is a second time; give only one.'),
    ('digest here 1 2',
     '"2" is a second day of the month; give only one.'),
    ('digest here webhook=https://a.example webhook=https://b.example',
     '"webhook=https://b.example" is a second webhook; give only one.'),
    ('digest here Europe/Oslo UTC',
     '"UTC" is a second time zone; give only one.'),
    ('log',
     'Which event? Put one after log, such as demo-booked or call.'),
    ('log demo booked',
     'Did you mean /kpi log demo-booked? "demo booked" reads as the event demo-booked, so '
     'nothing was stored. To log demo-booked on a deal named "booked", quote the name: /kpi log '
     'demo "booked"'),
    ('log dmeo',
     '"dmeo" is not an event. Did you mean "demo"?'),
    ('log xyzzy',
     '"xyzzy" is not an event. /kpi help events lists every event.'),
    ('log call left a voicemail fri',
     'Did you mean /kpi log call left a voicemail on fri? "fri" reads as the day Fri '
     '2026-11-13, so nothing was stored. If it is part of the note, write the note in '
     'note="..."; if it is a name, quote it.'),
    ('log call 1e3',
     '"1e3" is scientific notation; write the number out: 1000. (Quote it if it is a name: '
     '"1e3".)'),
    ('log call 0x10',
     '"0x10" is a base-16 number; write it in plain digits: 16. (Quote it if it is a name: '
     '"0x10".)'),
    ('log call 12kk',
     '"12kk" is not a number: use one k or m at most, like 12k or 1.5m. (Quote it if it is a '
     'name: "12kk".)'),
    ('log call NaN',
     '"NaN" is not a number; give a count or amount in digits, like 12. (Quote it if it is a '
     'name: "NaN".)'),
    ('log call １２',
     '"１２" is written with non-ASCII digits; did you mean 12? Type it with plain digits. (Quote '
     'it if it is a name: "１２".)'),
    ('log call twelve',
     'Did you mean /kpi log call 12? "twelve" reads as the number 12, so nothing was stored; '
     'write numbers in digits. If it is a name, quote it: "twelve".'),
    ('log deal-won Acme 5 thousand',
     'Did you mean /kpi log deal-won Acme 5k? "5 thousand" reads as 5k, so nothing was stored.'),
    ('log call @nobody',
     '"@nobody" is typed text, not a mention, and no one known here is called that; pick the '
     'person from the @ autocomplete so the name turns into a link.'),
    ('log call <#C123|general>',
     '"<#C123|general>" is a channel; name a person with @ instead.'),
    ('log call <!here>',
     '"<!here>" is not one person; pick a single person from the @ autocomplete.'),
    ('log call <@U1> <@U2>',
     '"<@U2>" is a second person; give only one.'),
    ('log call Acme mrr=5k',
     'call doesn\'t take mrr= ("mrr=5k"); it goes with deal-won or churned.'),
    ('log call foo=bar',
     '"foo=" is not an option. Options: source=, reason=, competitor=, mrr=, account=, deal=, '
     'note=.'),
    ('log call sourse=web',
     '"sourse=" is not an option. Did you mean "source"? Options: source=, reason=, '
     'competitor=, mrr=, account=, deal=, note=.'),
    ('log deal-won Acme 5k mrr=',
     '"mrr=" needs an amount, like mrr=1k.'),
    ('log deal-won Acme 5k mrr=-1k',
     '"-1k" is negative; the MRR can\'t be negative.'),
    ('log call on',
     '"on" needs a day after it, like on yesterday or on 2026-10-05.'),
    ('log call on 2099-01-01',
     '2099-01-01 is in the future; you can only log things that already happened'),
    ('log call on blah',
     '"blah" is not a day. Use today, yesterday, a weekday (mon, tuesday), 5-oct or a date like '
     '2026-10-05'),
    ('log call on 1999-01-01',
     '1999-01-01 is before 2000-01-01, the earliest day kpibot logs events on'),
    ('log call on 31-feb',
     '"31-feb" is not a day of February'),
    ('log call on 31 feb',
     '"31 feb" is not a day of February'),
    ('log call on 2026-13-45',
     '"2026-13-45" is not a date (use YYYY-MM-DD, e.g. 2026-10-05)'),
    ('log call on yesterday on today',
     '"on" is a second day; give only one.'),
    ('log call note="x" extra words',
     'The note is given twice: note= and "words"; put all of it in note=.'),
    ('log call note=""',
     'The note is empty.'),
    ('log call note="' + 'n' * (MAX_NOTE + 1) + '"',
     'The note "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…" is 501 c'),
    ('log deal-won',
     'deal-won needs a deal or account name, e.g. /kpi log deal-won acme 12k mrr=1k'),
    ('log deal-won Acme',
     'deal-won needs an amount, e.g. /kpi log deal-won acme 12k mrr=1k'),
    ('log deal-won Acme 0',
     '"0" is zero; deal-won needs an amount above 0, e.g. /kpi log deal-won acme 12k mrr=1k'),
    ('log mrr-change Acme 0',
     '"0" is zero; mrr-change needs an amount other than 0, e.g. /kpi log mrr-change acme -200'),
    ('log opportunity Acme 0',
     '"0" is zero; opportunity needs an amount above 0 or leave it out, e.g. /kpi log '
     'opportunity acme 20k'),
    ('log inbound-responded Acme',
     'inbound-responded needs the response time, e.g. /kpi log inbound-responded acme 4m'),
    ('log inbound-responded Acme 400d',
     '"400d" is not a response time from 0s to 365 days.'),
    ('log inbound-responded Acme 5',
     '"5" has no unit; write the response time like 4m, 45s or 1h30m.'),
    ('log inbound-responded Acme 4m 5m',
     '"5m" is a second response time; give only one.'),
    ('log call 5k',
     'call doesn\'t take an amount; "5k" looks like one (quote it if it is a name: "5k").'),
    ('log call 3x 4x',
     '"4x" is a second count; give only one.'),
    ('log call 0x',
     'A count is a whole number from 1 to 100,000; "0x" was given.'),
    ('log call 200000',
     'A count is a whole number from 1 to 100,000; "200000" was given.'),
    ('log deal-won Acme 1,2,3',
     '"1,2,3" is not a number (use 12000, 12,000 or 12k)'),
    ('log deal-won Acme 5k GBP',
     'Amounts must be in USD, this workspace\'s currency; "GBP" was given.'),
    ('log deal-won Acme -5k',
     '"-5k" is negative; only mrr-change takes a negative amount.'),
    ('log deal-won Acme 99999999999999',
     '"99999999999999" is too large (at most 1,000,000,000,000)'),
    ('log deal-won Acme 1.234',
     '"1.234" has too many decimals for USD'),
    ('log deal-won Acme $5k€',
     '"$5k€" names two currencies'),
    ('log deal-won Acme XYZ5k',
     '"XYZ5k": XYZ is not a currency code'),
    ('log deal-won Acme +-5',
     '"+-5" is not an amount (one sign at most)'),
    ('log deal-won Acme 5k 6k',
     '"6k" is a second amount; give only one.'),
    ('log deal-won Acme 2nd',
     '"2nd" is not an amount (use 12000, 12,000, 12000.50, 12k, 1.5m, $12k or 12000 EUR)'),
    ('log deal-won Acme 1.2.3k',
     '"1.2.3k" is not a number (use 12000, 12,000 or 12k)'),
    ('undo abc',
     '"abc" is not an event number; use the number from the confirmation, like 42.'),
    ('undo 5 6',
     '/kpi undo ID takes nothing more; "6" was given.'),
    ('funnel last blah',
     '"blah" does not make a period after "last". Did you mean "last-year"?'),
    ('funnel this-mnth',
     '"this-mnth" is not a period or cohort. Did you mean "this-month"?'),
    ('funnel zzzz',
     '"zzzz" is not a period. Try today, yesterday, this-week, last-week, this-month, '
     'last-month, this-quarter, last-quarter, this-year, last-year, mtd, qtd, ytd, 7d, 30d, '
     '90d, 2026-10, 2026-Q3, 2026-W42, 2026, 2026-10-05, 2026-10-01..2026-10-31, Q3, november'),
    ('churn 2026-13',
     '"2026-13" is not a month (months run 01-12)'),
    ('churn 2026-Q5',
     '"2026-Q5" is not a quarter (Q1-Q4)'),
    ('churn 2026-W60',
     '"2026-W60" is not a week (2026 has ISO weeks W01-W53)'),
    ('churn 9999d',
     '"9999d": the number of days must be 1-3660'),
    ('churn 2026-10-05..2026-10-01',
     '"2026-10-05..2026-10-01": the end is before the start'),
    ('churn 1800',
     '"1800": the year must be from 1900 to 9000'),
    ('churn 2026-02-30',
     '"2026-02-30" is not a date (use YYYY-MM-DD, e.g. 2026-10-05)'),
    ('churn q5',
     '"q5" is not a quarter (Q1-Q4)'),
    ('churn <@U1>',
     '/kpi churn doesn\'t take a person; "<@U1>" can\'t be used here.'),
    ('funnel cohort cohort',
     '"cohort" is given twice.'),
    ('leaderboard win-rate revenue',
     '"revenue" is a second KPI; give only one.'),
    ('leaderboard calls',
     '"calls" is an event, not a KPI; call counts in "activities": /kpi leaderboard activities'),
    ('leaderboard deal-lost',
     '"deal-lost" is an event, not a KPI; deal-lost counts in "win-rate": /kpi leaderboard '
     'win-rate'),
    ('me this-month last-month',
     '"last-month" is a second period; give only one.'),
    ('funnel <@U1> <@U2>',
     '"<@U2>" is a second person; give only one.'),
    ('ping extra',
     '/kpi ping takes nothing more; "extra" was given.'),
    ('list extra',
     '/kpi list takes nothing more; "extra" was given.'),
    ('win-rate zzzz',
     '"zzzz" is not a period. Try today, yesterday, this-week, last-week, this-month, '
     'last-month, this-quarter, last-quarter, this-year, last-year, mtd, qtd, ytd, 7d, 30d, '
     '90d, 2026-10, 2026-Q3, 2026-W42, 2026, 2026-10-05, 2026-10-01..2026-10-31, Q3, november'),
    ('quota history foo',
     '"foo" is not a person; quota history takes only an @mention (or nothing, for everyone).'),
    ('quota history <@U1> <@U2>',
     '"<@U2>" is a second person; give only one.'),
    ('quota set <@U1> 50k from',
     '"from" needs a day after it, like from 2026-10-01.'),
    ('quota set <@U1> 50k from 2099-01-01',
     'from 2099-01-01 is in the future; a quota applies from the start of the month it is set '
     'in, so set it on or after that day.'),
    ('quota set <@U1> 50k from blah',
     '"blah" is not a day. Use today, yesterday, a weekday (mon, tuesday), 5-oct or a date like '
     '2026-10-05'),
    ('quota set <@U1> 50k banana',
     '"banana" is not a target, cadence (monthly or quarterly), metric or from DATE.'),
    ('quota set <@U1> 50k montly',
     '"montly" is not a target, cadence (monthly or quarterly), metric or from DATE. Did you '
     'mean "monthly"?'),
    ('quota set 50k',
     'Whose quota? Name the person with @ right after quota set.'),
    ('quota set <@U1>',
     'quota set needs the target, like 50k for revenue or 20 for a count.'),
    ('quota set <@U1> 0',
     '"0" is not a revenue target; give an amount above zero, like 50k.'),
    ('quota set <@U1> 5.5 demo-booked',
     'A demo-booked quota is a count of events; "5.5" is not a whole number from 1 to '
     '1,000,000.'),
    ('quota set <@U1> -5k',
     '"-5k" is negative; the quota can\'t be negative.'),
    ('quota set <@U1> 50k monthly quarterly',
     '"quarterly" is a second cadence; give only one.'),
    ('quota set <@U1> 50k revenue call',
     '"call" is a second metric; give only one.'),
    ('quota set <@U1> 50k 60k',
     '"60k" is a second amount; give only one.'),
    ('quota set <@U1> 50k from 2026-10-01 from 2026-10-02',
     '"from" is a second start day; give only one.'),
    ('quota set <@U1> <@U2> 50k',
     '"<@U2>" is a second person; give only one.'),
    ('show',
     'Which KPI? Put its name after show; /kpi list shows every KPI.'),
    ('show blah',
     '"blah" is not a KPI. /kpi list shows every KPI.'),
    ('rep',
     '/kpi rep needs an action: list or link.'),
    ('rep foo',
     '"foo" is not a rep action. Actions: list, link.'),
    ('rep lst',
     '"lst" is not a rep action. Did you mean "list"? Actions: list, link.'),
    ('rep link "A B" "C D" <@U1>',
     '"C D" is a second rep; link one rep at a time.'),
    ('rep link a b <@U1>',
     'Give one named rep; "b" is one word too many. Put a name with spaces in quotes: "a b".'),
    ('rep link <@U1>',
     'Which named rep? Put it after rep link, like "Jane Doe" or rep:jane-doe; /kpi rep list '
     'shows them.'),
    ('rep link jane',
     'Link "jane" to whom? Name the chat user with @ after the rep.'),
    ('rep link ' + 'r' * (MAX_REP_NAME + 1) + ' <@U1>',
     'The rep name "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr…" is 2'),
    ('rep link jane <@U1> <@U2>',
     '"<@U2>" is a second person; give only one.'),
    ('x' * (MAX_TEXT + 1),
     'That command is 3,001 characters long; the limit is 3,000.'),
    ('calls',
     '"calls" is not a command; to log it, start with log: /kpi log call 12. For the KPI: /kpi '
     'activities'),
    ('demo-booked',
     '"demo-booked" is not a command; to log it, start with log: /kpi log demo-booked acme. For '
     'the KPI: /kpi demo-to-won'),
    ('blah',
     '"blah" is not a command or KPI. Try /kpi help, or /kpi list for every KPI.'),
    ('lederboard',
     '"lederboard" is not a command or KPI. Did you mean "leaderboard"? Try /kpi help, or /kpi '
     'list for every KPI.'),
]
LONG = {"x" * (MAX_TEXT + 1), 'log call note="' + "n" * (MAX_NOTE + 1) + '"',
        "rep link " + "r" * (MAX_REP_NAME + 1) + " <@U1>", "log deal-won Acme " + "9" * 41}
# A typed @name that matches two known people (they are added by the fixture)
AMBIGUOUS = ("log call @sara", '"@sara" could be Sara Berg or Sara Nilsen; pick the person '
             "from the @ autocomplete so the name turns into a link.")


@pytest.fixture
def chat(database):
    chat = Chat(database, workspace=WORKSPACE, now=NOW, default_user="U_BOSS")
    for user, name in (("U_SARA1", "Sara Nilsen"), ("U_SARA2", "Sara Berg")):
        assert chat.ask("list", user=user, name=name).ok
    return chat


def _ask(chat: Chat, text: str, language: str):
    return chat.handler.handle(CommandRequest(platform="slack", workspace_id=WORKSPACE,
                                              user_id="U_BOSS", text=text,
                                              user_language=language))


def _problems(text: str, language: str, typed: str, names: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with a refusal `text` read in `language` (not English); the words of
    the command the user `typed` and the `names` of people may be shown as they are."""
    mine = EXAMPLES.sub(" ", _THEIRS.sub(" ", text))
    allowed = {*COMMAND_WORDS, *SAME[language], *_WORD.findall(typed)}
    return [*raw_values([mine]), *english_left([mine], language, names=names, allowed=allowed)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_refusal_of_the_grammar_is_in_the_users_language(chat, language):
    problems = []
    for text, english in [*REFUSALS, AMBIGUOUS]:
        reply = _ask(chat, text, language)
        assert not reply.ok, (language, text, reply.plain_text())
        shown = reply.plain_text()
        if language == "en":
            if text in LONG:
                assert reply.text.startswith(english), (text, reply.text)
            else:
                assert reply.text == english, (text, reply.text)
            continue
        assert reply.text != english, (language, text, reply.text)
        assert not raw_values(shown.splitlines()[1:]), (language, text, shown)  # the usage
        names = ("Sara Berg", "Sara Nilsen")
        problems += [f"{language} {text[:60]!r}: {p}"
                     for p in _problems(reply.text, language, text, names)]
    assert not problems, "\n".join(problems)


def test_the_refusals_cover_every_kind_of_mistake():
    """The list above reaches the refusals of every part of the grammar (one command each,
    none twice): a refusal added to the grammar without a case here shows up as a count."""
    sentences = [english for _, english in REFUSALS]
    assert len(REFUSALS) >= 120 and len(set(sentences)) >= len(sentences) - 12


# The log form (Slack modal, Teams card): its field messages are in the language too
FORMS = [
    ({}, "kind", "Choose the event."),
    ({"kind": "bogus"}, "kind", '"bogus" is not an event.'),
    ({"kind": "call", "count": "3.5"}, "count",
     'A count is a whole number from 1 to 100,000; "3.5" was given.'),
    ({"kind": "deal-won", "deal": "Acme", "amount": "12kk"}, "amount",
     '"12kk" is not a number: use one k or m at most, like 12k or 1.5m. (Quote it if it is a '
     'name: "12kk".)'),
    ({"kind": "deal-won", "deal": "Acme", "amount": "1 2"}, "amount", '"1 2" is not an amount.'),
    ({"kind": "call", "date": "2099-01-01"}, "date",
     "2099-01-01 is in the future; you can only log things that already happened"),
    ({"kind": "call", "deal": "'x' and \"y\""}, "deal",
     "The deal or account can hold either \" or ' quotes, not both; nothing was stored."),
    ({"kind": "call", "duration": "4m"}, "duration",
     "call does not take a response time like 4m or 1h30m; leave it empty."),
    ({"kind": "deal-won", "deal": "Acme"}, "amount",
     "deal-won needs an amount, e.g. /kpi log deal-won acme 12k mrr=1k"),
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_log_forms_messages_are_in_the_users_language(language):
    problems = []
    for values, field, english in FORMS:
        result = read_form(values, today=date(2026, 11, 18), currency="USD",
                           t=translator(language))
        assert result.text is None and field in result.errors, (values, result)
        message = result.errors[field]
        if language == "en":
            assert message == english, (values, message)
        else:
            assert message != english, (language, values, message)
            typed = " ".join(values.values())
            problems += [f"{language} {values}: {p}" for p in _problems(message, language, typed)]
    assert not problems, "\n".join(problems)

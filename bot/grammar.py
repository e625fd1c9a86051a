"""The `/kpi` command grammar: the text after `/kpi` in, one typed command out.

`parse_command` is pure and deterministic (no database, no clock: `today` is passed in). It
returns one of the frozen command dataclasses below or raises `UsageError`, whose `problem`
names exactly what is wrong; it raises nothing else, whatever the input.

Shared rules for every command:

* Keywords are case-insensitive; surrounding whitespace is ignored.
* Ending with the word `public` or with `!` (`/kpi me!`) posts the answer in the channel.
* Names with spaces go in quotes: `"Acme Corp"` (smart quotes work too). An apostrophe inside
  a word (`O'Brien`, `didn't`) is just a letter.
* People are picked from the @ autocomplete (the client sends `<@U123>`); a typed `@alice`
  is looked up among the workspace's known users (`people`): read as meant when one matches,
  asked about when several do.
* Sloppy input is asked about, never guessed (SPEC section 4; the words are read by
  `bot.grammar_words`): `log demo booked` asks "Did you mean /kpi log demo-booked?";
  `log call 5 yesterday` is logged on yesterday; `log call twelve`, `1e3`, `0x10`, `NaN` or
  full-width digits are asked about or refused; `win rate`, `Q3`, `last quarter` and
  `november` are read as `win-rate`, `2026-Q3`, `last-quarter` and `2026-11`.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from bot.grammar_words import (
    NOT_NUMBERS,
    SCALE_SUFFIXES,
    Person,
    WordProblem,
    day_words,
    event_is_no_kpi,
    joined_event,
    kpi_phrase,
    kpis_counting,
    number_words,
    odd_number,
    two_word_day,
    typed_person,
)
from reports.events import (
    ALIASES,
    KINDS,
    MAX_DURATION,
    MAX_NAME,
    MAX_NOTE,
    MAX_REP_NAME,
    MAX_USER_ID,
    OPTION_KINDS,
    EventKind,
    normalize_source,
    option_problem,
    resolve_kind,
)
from reports.languages import LANGUAGES, language_code
from reports.periods import MONTHS, FutureDayError, PeriodError, parse_day, parse_period
from reports.units import AmountError, is_currency_code, parse_amount, parse_duration

__all__ = [
    "COMMAND_USAGE",
    "ChurnCommand",
    "Command",
    "DigestCommand",
    "DigestHereCommand",
    "FunnelCommand",
    "HelpCommand",
    "KpiCommand",
    "LeaderboardCommand",
    "ListCommand",
    "LogCommand",
    "MeCommand",
    "PingCommand",
    "QuotaCommand",
    "QuotaHistoryCommand",
    "QuotaSetCommand",
    "RepLinkCommand",
    "RepListCommand",
    "UndoCommand",
    "UsageError",
    "parse_command",
]

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelpCommand:
    topic: str | None = None
    public: bool = False


@dataclass(frozen=True)
class ListCommand:
    public: bool = False


@dataclass(frozen=True)
class PingCommand:
    """`/kpi ping`: answered without touching the database (the benchmark's floor)."""

    public: bool = False


@dataclass(frozen=True)
class LogCommand:
    kind: str  # canonical event kind
    deal: str | None = None  # as typed: trimmed, quotes removed, inner whitespace collapsed
    deal_key: str | None = None  # deal.casefold()
    account: str | None = None
    count: int = 1
    amount_minor: int | None = None
    currency: str | None = None  # the workspace currency when an amount is given
    duration_seconds: int | None = None
    mrr_minor: int | None = None
    on_behalf_of: str | None = None  # user id of the @mention
    source: str | None = None  # lead-source group (normalize_source)
    source_raw: str | None = None
    reason: str | None = None
    competitor: str | None = None
    on_date: date | None = None
    note: str | None = None
    public: bool = False


@dataclass(frozen=True)
class UndoCommand:
    event_id: int | None = None
    public: bool = False


@dataclass(frozen=True)
class FunnelCommand:
    period: str | None = None  # raw period text; the handler resolves it in the workspace tz
    user: str | None = None
    cohort: bool = False
    public: bool = False


@dataclass(frozen=True)
class QuotaCommand:
    period: str | None = None
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class QuotaSetCommand:
    user: str
    target: int  # minor units for revenue, a count for an event-kind metric
    cadence: str = "monthly"  # "monthly" | "quarterly"
    metric: str = "revenue"  # "revenue" or a canonical event kind
    public: bool = False
    effective_from: date | None = None  # `from DATE`; None: the start of this month


@dataclass(frozen=True)
class QuotaHistoryCommand:
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class ChurnCommand:
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class KpiCommand:
    name: str  # as spelled in kpi_names
    period: str | None = None
    user: str | None = None
    public: bool = False


@dataclass(frozen=True)
class LeaderboardCommand:
    kpi: str | None = None
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class MeCommand:
    period: str | None = None
    public: bool = False


@dataclass(frozen=True)
class DigestHereCommand:
    cadence: str = "weekly"  # "weekly" | "monthly"
    day: int = 0  # weekly: 0=Mon..6=Sun; monthly: 1..28, or -1 for the last day
    time: time = field(default_factory=lambda: time(9, 0))
    tz: str | None = None
    lang: str | None = None
    webhook: str | None = None  # Teams Workflows webhook URL (a secret)
    public: bool = False


@dataclass(frozen=True)
class DigestCommand:
    action: str  # "off" | "list" | "preview" | "now" | "status"
    public: bool = False


@dataclass(frozen=True)
class RepListCommand:
    """`/kpi rep list`: the named reps an import created, not yet linked to a chat user."""

    public: bool = False


@dataclass(frozen=True)
class RepLinkCommand:
    """`/kpi rep link REP @user` (admins).

    `rep` is as typed (quotes removed, inner whitespace collapsed): an id `rep:jane-doe`, a
    slug `jane-doe` or a name `Jane Doe`. The grammar reads no database, so the handler
    resolves it among the workspace's named reps.
    """

    rep: str
    user_id: str
    public: bool = False


Command = (
    HelpCommand | ListCommand | LogCommand | UndoCommand | FunnelCommand | QuotaCommand
    | QuotaSetCommand | QuotaHistoryCommand | ChurnCommand | KpiCommand | LeaderboardCommand
    | MeCommand
    | DigestHereCommand | DigestCommand | PingCommand | RepListCommand | RepLinkCommand
)

# command word → (usage line, a correct example); used in errors and by /kpi help
COMMAND_USAGE: dict[str, tuple[str, str]] = {
    "log": ("/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [@user] [source=S] [reason=R] "
            "[on DATE] [note...]", "/kpi log demo-booked acme"),
    "undo": ("/kpi undo [ID]", "/kpi undo 42"),
    "show": ("/kpi [show] KPI [PERIOD] [@user]", "/kpi show win-rate this-quarter"),
    "me": ("/kpi me [PERIOD]", "/kpi me this-week"),
    "leaderboard": ("/kpi leaderboard [KPI] [PERIOD]", "/kpi leaderboard revenue this-month"),
    "funnel": ("/kpi funnel [PERIOD] [@user] [cohort]", "/kpi funnel last-month cohort"),
    "quota": ("/kpi quota [PERIOD] [@user]", "/kpi quota this-quarter"),
    "quota set": ("/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]",
                  "/kpi quota set @alice 50k quarterly"),
    "quota history": ("/kpi quota history [@user]", "/kpi quota history @alice"),
    "churn": ("/kpi churn [PERIOD]", "/kpi churn last-quarter"),
    "digest": ("/kpi digest here|off|list|preview|now|status", "/kpi digest preview"),
    "digest here": ("/kpi digest here [weekly DAY HH:MM|monthly DAY HH:MM] [TZ] [lang=xx] "
                    "[webhook=URL]",
                    "/kpi digest here weekly mon 09:00 Europe/Oslo"),
    "rep": ("/kpi rep list|link", "/kpi rep list"),
    "rep link": ("/kpi rep link REP @user", '/kpi rep link "Jane Doe" @alice'),
    "list": ("/kpi list", "/kpi list"),
    "ping": ("/kpi ping", "/kpi ping"),
    "help": ("/kpi help [command|kpi]", "/kpi help log"),
}


class UsageError(Exception):
    """The command text can't be read. `problem` is one sentence naming what is wrong."""

    def __init__(self, problem: str, usage: str = "", example: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage
        self.example = example

    def __str__(self) -> str:
        return self.problem


MAX_TEXT = 3000  # characters of command text
MAX_COUNT = 100_000
MAX_QUOTA_COUNT = 1_000_000
MAX_MINOR = 10**15  # ten trillion in major units; keeps sums far inside BIGINT

# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

_BARE, _QUOTED, _ESCAPE = "bare", "quoted", "escape"
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'",
                               "‚": "'", "‛": "'"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff"))
_ESCAPE_RE = re.compile(r"<([@#!][^<>]*|(?:https?|mailto):[^<>\s]*(?:\|[^<>]*)?)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class Token:
    """One word of the command: pieces of (kind, text), kind bare, quoted or escape (`<@U1>`)."""

    pieces: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.pieces)

    @property
    def quoted(self) -> bool:
        return any(kind == _QUOTED for kind, _ in self.pieces)

    @property
    def bare(self) -> bool:
        return all(kind == _BARE for kind, _ in self.pieces)

    @property
    def escape(self) -> str | None:
        """The `<...>` escape when the token is exactly one."""
        if len(self.pieces) == 1 and self.pieces[0][0] == _ESCAPE:
            return self.pieces[0][1]
        return None

    @property
    def word(self) -> str | None:
        """The lower-cased text of a bare token (keywords are never quoted), else None."""
        return self.text.lower() if self.bare else None

    @property
    def head(self) -> str:
        """The bare text before the first quote or escape (`deal=` in `deal="Acme Corp"`)."""
        head = []
        for kind, text in self.pieces:
            if kind != _BARE:
                break
            head.append(text)
        return "".join(head)


def _clean(text: str) -> str:
    """Smart quotes as plain quotes; control characters as spaces; zero-width marks removed."""
    text = text.translate(_SMART_QUOTES).translate(_INVISIBLE)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def _unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def _closing_quote(text: str, start: int, quote: str) -> int:
    """Index of the quote closing one opened just before `start`, or -1.

    A `'` only closes before a space, `!` or the end, so `'Acme's shop'` is one name.
    """
    if quote == '"':
        return text.find('"', start)
    i = text.find("'", start)
    while i != -1:
        if i + 1 == len(text) or text[i + 1].isspace() or text[i + 1] == "!":
            return i
        i = text.find("'", i + 1)
    return -1


def tokenize(text: str) -> list[Token]:
    """Split on whitespace, keeping quoted phrases and `<@U1|name>` escapes whole.

    A quote opens a phrase only at the start of a word or right after `=`; elsewhere it is a
    letter. An unclosed quote is a UsageError.
    """
    text = _clean(text)
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        else:
            token, i = _read_token(text, i)
            tokens.append(token)
    return tokens


def _read_token(text: str, start: int) -> tuple[Token, int]:
    """The token starting at text[start] and the index just after it."""
    pieces: list[tuple[str, str]] = []
    i = start
    while i < len(text) and not text[i].isspace():
        char = text[i]
        match = _ESCAPE_RE.match(text, i) if char == "<" else None
        if char in "\"'" and (i == start or text[i - 1] == "="):
            end = _closing_quote(text, i + 1, char)
            if end == -1:
                raise _unclosed(text[i + 1:], char)
            pieces.append((_QUOTED, _unescape(text[i + 1:end])))
            i = end + 1
        elif match:
            inner = match.group(1)
            if inner[0] in "@#!":
                pieces.append((_ESCAPE, match.group(0)))
            else:  # a link: keep its label, else the address
                address, _, label = inner.partition("|")
                pieces.append((_BARE, label or address))
            i = match.end()
        else:
            pieces.append((_BARE, char))
            i += 1
    return Token(_merge(pieces)), i


def _unclosed(rest: str, char: str) -> UsageError:
    if not rest.strip():
        return UsageError(f"The quote {char} at the end is never closed.")
    return UsageError(f"The quote {char} before {_q(rest)} is never closed; "
                      f"end the name with {char}.")


def _merge(pieces: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Join runs of bare pieces and decode Slack's &lt; &gt; &amp; in them."""
    merged: list[tuple[str, str]] = []
    for bare, run in itertools.groupby(pieces, key=lambda piece: piece[0] == _BARE):
        if bare:
            merged.append((_BARE, _unescape("".join(text for _, text in run))))
        else:
            merged.extend(run)
    return tuple(merged)


def _split_public(tokens: list[Token]) -> tuple[list[Token], bool]:
    """Remove a trailing `!` (own word or end of the last word) and a trailing `public`."""
    public = False
    if tokens:
        kind, text = tokens[-1].pieces[-1]
        if kind == _BARE and text.endswith("!"):
            public = True
            rest = tokens[-1].pieces[:-1] + (((_BARE, text.rstrip("!")),)
                                             if text.rstrip("!") else ())
            tokens = tokens[:-1] + ([Token(rest)] if rest else [])
    if tokens and tokens[-1].word == "public":
        public = True
        tokens = tokens[:-1]
    return tokens, public


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    today: date
    currency: str
    kpis: dict[str, str]  # casefolded name → name as given
    public: bool
    people: tuple[Person, ...] = ()  # the workspace's known users, for a typed @name


def _q(text: str) -> str:
    """A token quoted for a message, shortened when long."""
    text = " ".join(text.split())
    return f'"{text if len(text) <= 40 else text[:39] + "…"}"'


def _suggest(word: str, choices: Collection[str]) -> str | None:
    """The choice closest to `word` (spelling, else a shared start like wins → win-rate)."""
    word = word.lower()
    if not word or len(word) > 60:
        return None
    lowered = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(word, list(lowered), n=1, cutoff=0.6)
    if found:
        return lowered[found[0]]
    stem = word.rstrip("s")
    starts = [choice for key, choice in lowered.items() if len(stem) >= 3 and key.startswith(stem)]
    return min(starts, key=len) if starts else None


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    found = _suggest(word, choices)
    return f' Did you mean "{found}"?' if found else ""


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _limited(text: str, what: str, limit: int = MAX_NAME) -> str:
    value = _collapse(text)
    if not value:
        raise UsageError(f"The {what} is empty.")
    if len(value) > limit or len(value.casefold()) > limit:
        raise UsageError(f"The {what} {_q(value)} is {len(value)} characters long; "
                         f"the limit is {limit}.")
    return value


_MENTION_RE = re.compile(r"<@([^|<>\s]+)(?:\|[^<>]*)?>")


def _user(token: Token, ctx: _Context) -> str | None:
    """The user id of an `<@U1>` mention or of a typed `@alice` that names one known user;
    None if the token is no mention of any kind.

    A typed name matching several or no known users, a channel or a group mention is a
    UsageError.
    """
    escape = token.escape
    if escape is not None:
        match = _MENTION_RE.fullmatch(escape)
        if match and len(match.group(1)) <= MAX_USER_ID:
            return match.group(1)
        if escape.startswith("<#"):
            raise UsageError(f"{_q(escape)} is a channel; name a person with @ instead.")
        raise UsageError(f"{_q(escape)} is not one person; pick a single person from the "
                         "@ autocomplete.")
    if token.bare and token.text.startswith("@") and len(token.text) > 1:
        try:
            return typed_person(token.text, ctx.people)
        except WordProblem as problem:
            raise UsageError(str(problem)) from None
    return None


_PERIOD_WORDS = ("today", "yesterday", "this-week", "last-week", "this-month", "last-month",
                 "this-quarter", "last-quarter", "this-year", "last-year", "mtd", "qtd", "ytd",
                 "7d", "30d", "90d", *MONTHS)


def _period_error(text: str, ctx: _Context) -> str | None:
    """Why `text` is not a period (the PeriodError message), or None when it is one."""
    now = datetime.combine(ctx.today, time(12), tzinfo=UTC)
    try:
        parse_period(text, now=now, tz="UTC")
    except PeriodError as error:
        message = str(error) or "it is not a period"
        return message if text in message else f"{_q(text)}: {message}"
    except (ValueError, ArithmeticError):
        return f"{_q(text)} is not a period; try this-month, 2026-Q3 or 30d."
    return None


def _words(tokens: Sequence[Token]) -> list[str | None]:
    """The lower-cased words of `tokens`; None for a quoted word or a mention."""
    return [token.word for token in tokens]


def _shown(tokens: Sequence[Token]) -> str:
    """`tokens` as a person would type them again (quoted words in quotes)."""
    return " ".join(f'"{t.text}"' if t.quoted and t.escape is None else t.text for t in tokens)


_PERIOD_LEADS = ("this", "last", "past", "previous")


def _period(tokens: Sequence[Token], i: int, ctx: _Context, others: Collection[str] = (),
            what: str = "a period") -> tuple[str, int]:
    """Read the period at tokens[i]; returns (period text, next index).

    Up to three words may make one period: `last week`, `Q3 2026`, `november 2026`,
    `last 30 days`, `year to date`. `others` are the other words the command accepts,
    offered with the period words as suggestions; `what` names them all in that message.
    """
    for size in (3, 2):
        head = tokens[i:i + size]
        if len(head) == size and all(t.bare for t in head):
            joined = "-".join(t.text for t in head)
            if _period_error(joined, ctx) is None:
                return joined, i + size
    token = tokens[i]
    text = token.text.strip()
    problem = _period_error(text, ctx)
    if problem is None:
        return text, i + 1
    if token.word in _PERIOD_LEADS and i + 1 < len(tokens) and tokens[i + 1].bare:
        after = tokens[i + 1].text  # the wrong word is the one after `last`, not `last`
        found = _suggest(f"{token.word}-{after}", _PERIOD_WORDS)
        hint = f' Did you mean "{found}"?' if found else " Try last-month or last-quarter."
        raise UsageError(f'{_q(after)} does not make a period after "{token.text}".{hint}')
    found = _suggest(text, tuple(others) + _PERIOD_WORDS)
    if found is not None and found.lower() != text.lower():
        problem = f'{_q(text)} is not {what}. Did you mean "{found}"?'
    raise UsageError(problem)


def _once(current: object, token: Token, what: str) -> None:
    if current is not None:
        raise UsageError(f"{_q(token.text)} is a second {what}; give only one.")


@dataclass
class _Reading:
    """What the report commands (`me`, `funnel`, `quota`, KPI...) may carry."""

    period: str | None = None
    user: str | None = None
    cohort: bool = False
    kpi: str | None = None


def _read_report(tokens: Sequence[Token], ctx: _Context, command: str, *,
                 user: bool = False, cohort: bool = False, kpi: bool = False) -> _Reading:
    """Read `[PERIOD] [@user] [cohort] [KPI]` in any order, as allowed by the flags."""
    got = _Reading()
    others = (["cohort"] if cohort else []) + (list(ctx.kpis.values()) if kpi else [])
    what = "a KPI or period" if kpi else "a period or cohort" if cohort else "a period"
    i = 0
    while i < len(tokens):
        token = tokens[i]
        person = _user(token, ctx)
        if person is not None:
            if not user:
                raise UsageError(f"/kpi {command} doesn't take a person; "
                                 f"{_q(token.text)} can't be used here.")
            _once(got.user, token, "person")
            got.user = person
            i += 1
        elif cohort and token.word == "cohort":
            if got.cohort:
                raise UsageError('"cohort" is given twice.')
            got.cohort = True
            i += 1
        elif kpi and (phrase := _kpi_at(tokens, i, ctx)) is not None:
            _once(got.kpi, token, "KPI")
            got.kpi, i = phrase[0], i + phrase[1]
        elif kpi and got.kpi is None and (kind := resolve_kind(token.word or "")) is not None:
            rest = _shown([*tokens[:i], *tokens[i + 1:]])
            raise UsageError(event_is_no_kpi(token.text, kind.name, ctx.kpis.values(), command,
                                             rest))
        else:
            text, next_i = _period(tokens, i, ctx, others, what)
            if got.period is not None:
                raise UsageError(f"{_q(text)} is a second period; give only one.")
            got.period = text
            i = next_i
    return got


def _kpi_at(tokens: Sequence[Token], i: int, ctx: _Context) -> tuple[str, int] | None:
    """The KPI named at tokens[i] (`win-rate`, `win rate`, `"Win Rate"`) and how many words."""
    if tokens[i].escape is None and tokens[i].text.casefold() in ctx.kpis:
        return ctx.kpis[tokens[i].text.casefold()], 1
    return kpi_phrase(_words(tokens[i:]), ctx.kpis)


def _no_arguments(tokens: Sequence[Token], command: str) -> None:
    if tokens:
        raise UsageError(f"/kpi {command} takes nothing more; {_q(tokens[0].text)} was given.")


# ---------------------------------------------------------------------------------------------
# Numbers and amounts
# ---------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)", re.ASCII)
_TIMES_RE = re.compile(r"([+-]?[\d,]+)[x×]", re.IGNORECASE | re.ASCII)
_PLAIN_NUMBER_RE = re.compile(r"[+-]?[\d.,]+[km]?", re.IGNORECASE | re.ASCII)


def _integer(text: str) -> int | None:
    """The value of a plain integer (`12`, `1,200`, `-3`), or None. Beyond 10**30 it is capped
    there, which is out of range for every use."""
    if not _INT_RE.fullmatch(text):
        return None
    digits = text.replace(",", "").lstrip("+-")
    value = int(digits) if len(digits) <= 30 else 10**30
    return -value if text.startswith("-") else value


def _count(text: str, shown: str) -> int:
    value = _integer(text)
    if value is None or not 1 <= value <= MAX_COUNT:
        raise UsageError(f"A count is a whole number from 1 to {MAX_COUNT:,}; "
                         f"{_q(shown)} was given.")
    return value


def _times(tokens: Sequence[Token], i: int) -> tuple[int, int] | None:
    """A count written `3x`, `3×` or `3 x` at tokens[i]: (count, next index), or None."""
    token = tokens[i]
    if not token.bare:
        return None
    match = _TIMES_RE.fullmatch(token.text)
    if match:
        return _count(match.group(1), token.text), i + 1
    if (_INT_RE.fullmatch(token.text) and i + 1 < len(tokens)
            and tokens[i + 1].word in ("x", "×")):
        return _count(token.text, f"{token.text} x"), i + 2
    return None


def _money(text: str, ctx: _Context, *, signed: bool = False, what: str = "amount",
           strict: bool = True) -> int | None:
    """Minor units of an amount in the workspace currency; None if `text` isn't amount-shaped.

    A word that starts like a number but can't be read (`12kk`, `2nd`) is a UsageError when
    `strict`, else None (a free word).
    """
    try:
        money = parse_amount(text, default_currency=ctx.currency)
    except AmountError as error:
        if not strict:
            return None
        message = str(error) or "it is not an amount"
        raise UsageError(message if text in message else f"{_q(text)}: {message}") from None
    except (ValueError, ArithmeticError):
        if not strict:
            return None
        raise UsageError(f"{_q(text)} is not an amount; write it like 12000, 12k or $1.5m."
                         ) from None
    if money is None:
        if strict and _PLAIN_NUMBER_RE.fullmatch(text):
            raise UsageError(f"{_q(text)} is too large for an {what}.")
        return None
    if money.currency.upper() != ctx.currency.upper():
        raise UsageError(f"Amounts must be in {ctx.currency}, this workspace's currency; "
                         f"{_q(money.currency)} was given.")
    if money.minor < 0 and not signed:
        only = "only mrr-change takes a negative amount" if what == "amount" \
            else f"the {what} can't be negative"
        raise UsageError(f"{_q(text)} is negative; {only}.")
    if abs(money.minor) > MAX_MINOR:
        raise UsageError(f"{_q(text)} is too large for an {what}.")
    return money.minor


# Codes joined to an amount even in lower case (`12000 eur`); other codes only when written in
# upper case, so `20k top priority` or `12k all good` keep their words.
_COMMON_CURRENCIES = frozenset(("USD", "EUR", "GBP", "SEK", "NOK", "DKK", "CHF", "RON", "CNY",
                                "JPY", "CAD", "AUD"))


def _currency_code(token: Token, ctx: _Context) -> bool:
    """Whether the word after an amount is its currency code (`12000 EUR`)."""
    text = token.text
    if not token.bare or len(text) != 3 or not text.isascii() or not text.isalpha():
        return False
    if not (text.isupper() or text.upper() in _COMMON_CURRENCIES
            or text.upper() == ctx.currency.upper()):
        return False
    try:
        return bool(is_currency_code(text.upper()))
    except (ValueError, ArithmeticError):
        return False


def _amount_at(tokens: Sequence[Token], i: int, ctx: _Context, *, signed: bool = False,
               what: str = "amount", strict: bool = True) -> tuple[int, int] | None:
    """An amount at tokens[i], with a currency code as the next word (`12000 EUR`).

    Returns (minor units, next index), or None when tokens[i] is not amount-shaped.
    """
    token = tokens[i]
    if not token.bare:
        return None
    minor = _money(token.text, ctx, signed=signed, what=what, strict=strict)
    if minor is None:
        return None
    if i + 1 < len(tokens) and _currency_code(tokens[i + 1], ctx):
        joined = _money(token.text + tokens[i + 1].text.upper(), ctx, signed=signed, what=what)
        if joined is not None:
            return joined, i + 2
    return minor, i + 1


def _duration(text: str) -> int | None:
    """Seconds of a duration such as `4m` or `1h30m`; None when `text` isn't one."""
    try:
        return parse_duration(text)
    except (ValueError, ArithmeticError):
        return None


def _is_money(text: str, currency: str) -> bool:
    """Whether `text` reads as an amount (`5k`, `$12`, `1.5`); unreadable words are not."""
    try:
        return parse_amount(text, default_currency=currency) is not None
    except (ValueError, ArithmeticError):
        return False


def _starts_like_number(text: str) -> bool:
    return text[:1] in "0123456789$€£¥+-−." and any(c.isdigit() for c in text[:3])


# ---------------------------------------------------------------------------------------------
# /kpi log
# ---------------------------------------------------------------------------------------------

_OPTIONS = ("source", "reason", "competitor", "mrr", "account", "deal", "note")
_OPTION_RE = re.compile(r"([A-Za-z][A-Za-z_-]*)=")


def _option(token: Token) -> tuple[str, str] | None:
    """(key, value) of a `key=value` token (the value may be quoted), or None."""
    match = _OPTION_RE.match(token.head)
    if not match:
        return None
    key = match.group(1)
    return key.lower().replace("_", "-"), token.text[len(key) + 1:]


def _is_count_kind(kind: EventKind) -> bool:
    return kind.amount == "none" and not kind.duration


@dataclass
class _Log:
    """The parts of a log command read so far."""

    kind: EventKind
    count: int | None = None
    amount: int | None = None
    duration: int | None = None
    user: str | None = None
    on_date: date | None = None
    options: dict[str, str] = field(default_factory=dict)
    mrr: int | None = None
    free: list[tuple[Token, bool]] = field(default_factory=list)  # (word, after a count)
    amount_text: str = ""
    words: Sequence[Token] = ()  # the whole command after `log`, to show a corrected one

    def wants_number(self) -> bool:
        """Whether the count, amount or response time is still to come (and the deal is
        there when the event needs one, so a word here is not the deal's name)."""
        kind = self.kind
        missing = (self.amount is None if kind.amount != "none" else
                   self.duration is None if kind.duration else self.count is None)
        return missing and (not kind.needs_deal or bool(self.free) or "deal" in self.options)

    def note_started(self) -> bool:
        """Whether free words have gone to the note already (not just to the deal)."""
        if "deal" in self.options or (self.free and self.free[0][1]
                                      and not self.kind.needs_deal):
            return bool(self.free)
        return len(self.free) > 1

    def corrected(self, start: int, end: int, new: str) -> str:
        """The command with words[start:end] written as `new`."""
        words = self.words
        return " ".join(part for part in ("/kpi log", self.kind.name, _shown(words[1:start]),
                                          new, _shown(words[end:])) if part)


def _parse_log(tokens: Sequence[Token], ctx: _Context) -> LogCommand:
    """`/kpi log EVENT [DEAL] [N x] [AMOUNT [CUR]] [@user] [option=value...] [on DATE] [note...]`

    Deal and note: free words (not a count, amount, duration, option, mention or `on DATE`)
    are read in order; the first one is the deal (one bare word, or a quoted phrase such as
    `"Acme Corp"`) and all later ones are the note. Exceptions: with `deal=` every free word
    is the note, and when a count comes before the first free word of an event that needs no
    deal (`/kpi log call 12 left a voicemail`), every free word is the note. With `note=` no
    free word may be left over for the note. To use `on`, a number or an amount as a name or
    in the note, quote it (`"3M"`, `note="on site"`).

    Numbers: for events that count (call, email-sent...) a plain number is the count; for
    events with an amount it is the amount, and a currency code may follow (`12000 USD`).
    A word that starts like a number but isn't one (`2nd`, `2pm`) is an error only while an
    amount is still expected; otherwise it is a free word.

    Sloppy words are read as meant or asked about, and nothing is stored until it is clear:
    `deal won` is deal-won, `demo booked` is asked about (demo on "booked", or demo-booked?);
    `yesterday`, `today` or `2026-10-05` before the note is the day, a weekday or a day in the
    note is asked about; numbers in words, `5 thousand`, `1e3`, `0x10`, `12kk`, `NaN` and
    full-width digits are asked about or refused with the plain form; an amount of 0 is refused.
    """
    if not tokens:
        raise UsageError("Which event? Put one after log, such as demo-booked or call.")
    kind, size = _event(tokens)
    tokens = [Token(((_BARE, kind.name),)), *tokens[size:]]
    log = _Log(kind, words=tokens)
    try:
        i = 1
        while i < len(tokens):
            i = _read_log_token(log, tokens, i, ctx)
        return _finish_log(log, ctx)
    except UsageError as error:
        error.example = error.example or f"/kpi log {kind.example}"
        raise


def _event(tokens: Sequence[Token]) -> tuple[EventKind, int]:
    """The event the first words name, and how many words: `deal won` is deal-won.

    When the first word is an event by itself and the first two or three make another
    (`demo booked`: demo, or demo-booked?), nothing is guessed: the grammar asks.
    """
    alone = resolve_kind(tokens[0].text) if tokens[0].escape is None else None
    if found := joined_event(_words(tokens[:3])):
        joined, size = found
        if alone is None:
            return joined, size
        rest = _shown(tokens[size:])
        meant = " ".join(t.text for t in tokens[:size])
        raise UsageError(
            f"Did you mean /kpi log {joined.name} {rest}".rstrip() + "? "
            f"{_q(meant)} reads as the event {joined.name}, so nothing was stored. To log "
            f"{alone.name} on a deal named {_q(tokens[1].text)}, quote the name: "
            f'/kpi log {tokens[0].text} "{tokens[1].text}"',
            example=f"/kpi log {joined.name} {rest}".rstrip())
    if alone is None:
        word = tokens[0].text
        hint = _did_you_mean(word, (*KINDS, *ALIASES))
        if not hint:
            hint = " /kpi help events lists every event."
        raise UsageError(f"{_q(word)} is not an event.{hint}")
    return alone, 1


def _doubtful_word(log: _Log, tokens: Sequence[Token], i: int, ctx: _Context) -> int | None:
    """Read or refuse a word a person may mean as a day or a number (SPEC section 4).

    A sure day (`yesterday`, `2026-10-05`) before the note is the day: returns the next index.
    A weekday or a day in the note, a number in words, `1e3`, `0x10`, `NaN` or full-width
    digits: a UsageError that asks or says what to type. Other words: None.
    """
    text = tokens[i].text
    try:
        day = day_words(_words(tokens[i:i + 2]), ctx.today)
    except WordProblem as problem:
        raise UsageError(str(problem)) from None
    if day is not None:
        if day.sure and not log.note_started():
            _once(log.on_date, tokens[i], "day")
            log.on_date = day.day
            return i + day.used
        said = " ".join(t.text for t in tokens[i:i + day.used])
        raise UsageError(
            f"Did you mean {log.corrected(i, i + day.used, 'on ' + day.shown)}? "
            f"{_q(said)} reads as the day {day.day:%a %Y-%m-%d}, so nothing was stored. If it "
            f"is part of the note, write the note in note=\"...\"; if it is a name, quote it.")
    problem = odd_number(text)
    if problem and (text.lower() not in NOT_NUMBERS or log.wants_number()):
        raise UsageError(f'{problem} (Quote it if it is a name: "{text}".)')
    spelled = number_words(_words(tokens[i:])) if log.wants_number() else None
    if spelled is not None:
        value, used = spelled
        said = " ".join(t.text for t in tokens[i:i + used])
        raise UsageError(
            f"Did you mean {log.corrected(i, i + used, str(value))}? {_q(said)} reads as the "
            f"number {value:,}, so nothing was stored; write numbers in digits. If it is a "
            f'name, quote it: "{said}".')
    return None


def _scaled_amount(log: _Log, tokens: Sequence[Token], i: int, end: int) -> None:
    """Ask about `5 thousand` or `5 k` after an amount: did you mean 5k?"""
    if end < len(tokens) and (scale := SCALE_SUFFIXES.get(tokens[end].word or "")) \
            and _PLAIN_NUMBER_RE.fullmatch(tokens[i].text) \
            and tokens[i].text[-1:].lower() not in ("k", "m"):
        meant = tokens[i].text + scale
        raise UsageError(f"Did you mean {log.corrected(i, end + 1, meant)}? "
                         f"{_q(tokens[i].text + ' ' + tokens[end].text)} reads as {meant}, "
                         "so nothing was stored.")


def _read_log_token(log: _Log, tokens: Sequence[Token], i: int, ctx: _Context) -> int:
    """Read the part of a log command at tokens[i]; returns the next index."""
    token, kind = tokens[i], log.kind
    person = _user(token, ctx)
    if person is not None:
        _once(log.user, token, "person")
        log.user = person
        return i + 1
    option = _option(token)
    if option is not None:
        _log_option(log, token, *option, ctx)
        return i + 1
    if token.word == "on":
        return _log_date(log, tokens, i, ctx)
    times = _times(tokens, i)
    if times is not None:
        _once(log.count, token, "count")
        log.count = times[0]
        return times[1]
    if not token.bare:
        log.free.append((token, log.count is not None))
        return i + 1
    text = token.text
    read = _doubtful_word(log, tokens, i, ctx)
    if read is not None:
        return read
    if kind.duration:
        seconds = _duration(text)
        if seconds is not None:
            _once(log.duration, token, "response time")
            if not 0 <= seconds <= MAX_DURATION:
                raise UsageError(f"{_q(text)} is not a response time from 0s to 365 days.")
            log.duration = seconds
            return i + 1
        if _integer(text) is not None:
            raise UsageError(f"{_q(text)} has no unit; write the response time like 4m, 45s "
                             "or 1h30m.")
    if kind.amount != "none":
        amount = _amount_at(tokens, i, ctx, signed=kind.amount == "signed",
                            strict=log.amount is None)
        if amount is not None:
            _once(log.amount, token, "amount")
            _scaled_amount(log, tokens, i, amount[1])
            log.amount, log.amount_text = amount[0], text
            return amount[1]
    elif _is_count_kind(kind) and _integer(text) is not None:
        _once(log.count, token, "count")
        log.count = _count(text, text)
        return i + 1
    if kind.amount == "none" and _is_money(text, ctx.currency):
        raise UsageError(f"{kind.name} doesn't take an amount; {_q(text)} looks like one "
                         f'(quote it if it is a name: "{text}").')
    log.free.append((token, log.count is not None))
    return i + 1


def _log_option(log: _Log, token: Token, key: str, value: str, ctx: _Context) -> None:
    kind = log.kind
    if key not in _OPTIONS:
        hint = _did_you_mean(key, _OPTIONS)
        raise UsageError(f'"{key}=" is not an option.{hint} Options: '
                         + ", ".join(f"{name}=" for name in _OPTIONS) + ".")
    if key in log.options:
        raise UsageError(f'"{key}=" is given twice; give it once.')
    if option_problem(kind, key):
        raise UsageError(f"{kind.name} doesn't take {key}= ({_q(token.text)}); it goes with "
                         + " or ".join(OPTION_KINDS[key]) + ".")
    if key == "mrr":
        minor = _money(value.replace(" ", ""), ctx, what="MRR") if value.strip() else None
        if minor is None:
            raise UsageError(f"{_q(token.text)} needs an amount, like mrr=1k.")
        log.mrr = minor
    elif key == "note":
        value = _limited(value, "note", MAX_NOTE)
    else:
        value = _limited(value, f"{key}= value")
    log.options[key] = value


def _log_date(log: _Log, tokens: Sequence[Token], i: int, ctx: _Context) -> int:
    """`on DATE`: one word (`on fri`, `on 2026-10-05`), or two (`on last friday`, `on 5 oct`)."""
    if i + 1 >= len(tokens):
        raise UsageError('"on" needs a day after it, like on yesterday or on 2026-10-05.')
    _once(log.on_date, tokens[i], "day")
    try:
        two = two_word_day(_words(tokens[i + 1:i + 3]), ctx.today)
    except WordProblem as problem:
        raise UsageError(str(problem)) from None
    if two is not None:
        log.on_date = two
        return i + 3
    text = tokens[i + 1].text.strip()
    try:
        log.on_date = parse_day(text, today=ctx.today)
    except PeriodError as error:
        message = str(error) or "it is not a day"
        raise UsageError(message if text in message else f"{_q(text)}: {message}") from None
    except (ValueError, ArithmeticError):
        raise UsageError(f"{_q(text)} is not a day; write it like yesterday, mon or "
                         "2026-10-05.") from None
    return i + 2


def _finish_log(log: _Log, ctx: _Context) -> LogCommand:
    kind, options = log.kind, log.options
    free = log.free
    deal_text = options.get("deal")
    if deal_text is None and free and not (free[0][1] and not kind.needs_deal):
        deal_text, free = free[0][0].text, free[1:]
    note = options.get("note")
    if free:
        if note is not None:
            words = " ".join(token.text for token, _ in free)
            raise UsageError(f"The note is given twice: note= and {_q(words)}; put all of it "
                             "in note=.")
        note = _limited(" ".join(token.text for token, _ in free), "note", MAX_NOTE)
    deal = _limited(deal_text, "deal name") if deal_text is not None else None
    if kind.needs_deal and deal is None:
        raise UsageError(f"{kind.name} needs a deal or account name, e.g. "
                         f"/kpi log {kind.example}")
    if kind.amount in ("required", "signed") and log.amount is None:
        raise UsageError(f"{kind.name} needs an amount, e.g. /kpi log {kind.example}")
    if log.amount == 0:
        leave = " or leave it out" if kind.amount == "optional" else ""
        other = "other than" if kind.amount == "signed" else "above"
        raise UsageError(f"{_q(log.amount_text)} is zero; {kind.name} needs an amount {other} "
                         f"0{leave}, e.g. /kpi log {kind.example}")
    if kind.duration and log.duration is None:
        raise UsageError(f"{kind.name} needs the response time, e.g. "
                         f"/kpi log {kind.example}")
    source_raw = options.get("source")
    return LogCommand(
        kind=kind.name,
        deal=deal,
        deal_key=deal.casefold() if deal is not None else None,
        account=options.get("account"),
        count=log.count if log.count is not None else 1,
        amount_minor=log.amount,
        currency=ctx.currency.upper() if log.amount is not None else None,
        duration_seconds=log.duration,
        mrr_minor=log.mrr,
        on_behalf_of=log.user,
        source=normalize_source(source_raw) if source_raw is not None else None,
        source_raw=source_raw,
        reason=options.get("reason"),
        competitor=options.get("competitor"),
        on_date=log.on_date,
        note=note,
        public=ctx.public,
    )


# ---------------------------------------------------------------------------------------------
# The other commands
# ---------------------------------------------------------------------------------------------


def _parse_help(tokens: Sequence[Token], ctx: _Context) -> HelpCommand:
    """`/kpi help [command|kpi]`"""
    topic = _collapse(" ".join(token.text for token in tokens))
    return HelpCommand(topic=topic or None, public=ctx.public)


def _parse_list(tokens: Sequence[Token], ctx: _Context) -> ListCommand:
    """`/kpi list`"""
    _no_arguments(tokens, "list")
    return ListCommand(public=ctx.public)


def _parse_ping(tokens: Sequence[Token], ctx: _Context) -> PingCommand:
    """`/kpi ping`"""
    _no_arguments(tokens, "ping")
    return PingCommand(public=ctx.public)


def _parse_undo(tokens: Sequence[Token], ctx: _Context) -> UndoCommand:
    """`/kpi undo [ID]` — ID as `42` or `#42`; without it, your last event."""
    if not tokens:
        return UndoCommand(event_id=None, public=ctx.public)
    _no_arguments(tokens[1:], "undo ID")
    text = tokens[0].text
    number = text[1:] if text.startswith("#") else text
    if not (number.isascii() and number.isdigit()) or len(number) > 15 or int(number) < 1:
        raise UsageError(f"{_q(text)} is not an event number; use the number from the "
                         "confirmation, like 42.")
    return UndoCommand(event_id=int(number), public=ctx.public)


def _parse_funnel(tokens: Sequence[Token], ctx: _Context) -> FunnelCommand:
    """`/kpi funnel [PERIOD] [@user] [cohort]`"""
    got = _read_report(tokens, ctx, "funnel", user=True, cohort=True)
    return FunnelCommand(period=got.period, user=got.user, cohort=got.cohort, public=ctx.public)


def _parse_quota(tokens: Sequence[Token], ctx: _Context
                 ) -> QuotaCommand | QuotaSetCommand | QuotaHistoryCommand:
    """`/kpi quota [PERIOD] [@user]`;
    `/kpi quota set @user AMOUNT [monthly|quarterly] [METRIC] [from DATE]`;
    `/kpi quota history [@user]`.

    A METRIC other than revenue is an event kind (demo-booked); its AMOUNT is a plain count.
    A quota applies from the first day of the month it is set in, or from DATE (not a future
    day); earlier periods keep the targets they had.
    """
    action = tokens[0].word if tokens else None
    if action in ("set", "history"):
        try:
            if action == "history":
                return _parse_quota_history(tokens[1:], ctx)
            return _parse_quota_set(tokens[1:], ctx)
        except UsageError as error:
            usage, example = COMMAND_USAGE[f"quota {action}"]
            error.usage = error.usage or usage
            error.example = error.example or example
            raise
    got = _read_report(tokens, ctx, "quota", user=True)
    return QuotaCommand(period=got.period, user=got.user, public=ctx.public)


_CADENCES = ("monthly", "quarterly")


def _parse_quota_history(tokens: Sequence[Token], ctx: _Context) -> QuotaHistoryCommand:
    user = None
    for token in tokens:
        person = _user(token, ctx)
        if person is None:
            raise UsageError(f"{_q(token.text)} is not a person; quota history takes only an "
                             "@mention (or nothing, for everyone).")
        _once(user, token, "person")
        user = person
    return QuotaHistoryCommand(user=user, public=ctx.public)


def _quota_from(tokens: Sequence[Token], i: int, ctx: _Context) -> date:
    """The day after `from` in `quota set ... from DATE`: today or earlier."""
    if i + 1 >= len(tokens):
        raise UsageError('"from" needs a day after it, like from 2026-10-01.')
    text = tokens[i + 1].text.strip()
    try:
        return parse_day(text, today=ctx.today)
    except FutureDayError as error:
        raise UsageError(f"from {error.day.isoformat()} is in the future; a quota applies from "
                         "the start of the month it is set in, so set it on or after that "
                         "day.") from None
    except PeriodError as error:
        message = str(error) or "it is not a day"
        raise UsageError(message if text in message else f"{_q(text)}: {message}") from None
    except (ValueError, ArithmeticError):
        raise UsageError(f"{_q(text)} is not a day; write it like 2026-10-01.") from None


def _parse_quota_set(tokens: Sequence[Token], ctx: _Context) -> QuotaSetCommand:
    user = cadence = metric = effective_from = None
    amount: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        person = _user(token, ctx)
        kind = resolve_kind(token.text) if token.bare else None
        if person is not None:
            _once(user, token, "person")
            user = person
        elif token.word == "from":
            _once(effective_from, token, "start day")
            effective_from = _quota_from(tokens, i, ctx)
            i += 1
        elif token.word in _CADENCES:
            _once(cadence, token, "cadence")
            cadence = token.word
        elif token.word == "revenue" or kind is not None:
            _once(metric, token, "metric")
            metric = kind.name if kind is not None else "revenue"
        elif token.bare and _starts_like_number(token.text):
            _once(amount[0] if amount else None, token, "amount")
            amount.append(token)
            if i + 1 < len(tokens) and _currency_code(tokens[i + 1], ctx):
                amount.append(tokens[i + 1])
                i += 1
        else:
            hint = _did_you_mean(token.text, ("revenue", "from", *_CADENCES, *KINDS, *ALIASES))
            raise UsageError(f"{_q(token.text)} is not a target, cadence (monthly or "
                             f"quarterly), metric or from DATE.{hint}")
        i += 1
    if user is None:
        raise UsageError("Whose quota? Name the person with @ right after quota set.")
    if not amount:
        raise UsageError("quota set needs the target, like 50k for revenue or 20 for a count.")
    metric = metric or "revenue"
    if metric == "revenue":
        minor = _amount_at(amount, 0, ctx, what="quota")
        if minor is None or minor[0] <= 0:
            raise UsageError(f"{_q(' '.join(t.text for t in amount))} is not a revenue target; "
                             "give an amount above zero, like 50k.")
        target = minor[0]
    else:
        text = " ".join(t.text for t in amount)
        target = _integer(text) if len(amount) == 1 else None
        if target is None or not 1 <= target <= MAX_QUOTA_COUNT:
            raise UsageError(
                f"A {metric} quota is a count of events; {_q(text)} is not a whole number "
                f"from 1 to {MAX_QUOTA_COUNT:,}.",
                example=f"/kpi quota set @alice 20 monthly {metric}")
    return QuotaSetCommand(user=user, target=target, cadence=cadence or "monthly",
                           metric=metric, public=ctx.public, effective_from=effective_from)


def _parse_churn(tokens: Sequence[Token], ctx: _Context) -> ChurnCommand:
    """`/kpi churn [PERIOD]`"""
    return ChurnCommand(period=_read_report(tokens, ctx, "churn").period, public=ctx.public)


def _parse_me(tokens: Sequence[Token], ctx: _Context) -> MeCommand:
    """`/kpi me [PERIOD]`"""
    return MeCommand(period=_read_report(tokens, ctx, "me").period, public=ctx.public)


def _parse_leaderboard(tokens: Sequence[Token], ctx: _Context) -> LeaderboardCommand:
    """`/kpi leaderboard [KPI] [PERIOD]`"""
    got = _read_report(tokens, ctx, "leaderboard", kpi=True)
    return LeaderboardCommand(kpi=got.kpi, period=got.period, public=ctx.public)


def _parse_show(tokens: Sequence[Token], ctx: _Context) -> KpiCommand:
    """`/kpi show KPI [PERIOD] [@user]`"""
    if not tokens:
        raise UsageError("Which KPI? Put its name after show; /kpi list shows every KPI.")
    return _kpi_command(tokens, ctx, command="show")


def _kpi_command(tokens: Sequence[Token], ctx: _Context, command: str) -> KpiCommand:
    """`/kpi KPI [PERIOD] [@user]`; the KPI name (`win-rate`, `win rate`) starts tokens."""
    phrase = _kpi_at(tokens, 0, ctx)
    if phrase is None:
        word = tokens[0].text
        raise UsageError(f"{_q(word)} is not a KPI.{_did_you_mean(word, ctx.kpis.values())} "
                         "/kpi list shows every KPI.")
    name, size = phrase
    got = _read_report(tokens[size:], ctx, command, user=True)
    return KpiCommand(name=name, period=got.period, user=got.user, public=ctx.public)


_DIGEST_ACTIONS = ("here", "off", "list", "preview", "now", "status")


def _parse_digest(tokens: Sequence[Token], ctx: _Context) -> DigestCommand | DigestHereCommand:
    """`/kpi digest here|off|list|preview|now|status`"""
    if not tokens:
        raise UsageError("/kpi digest needs an action: " + ", ".join(_DIGEST_ACTIONS) + ".")
    action = tokens[0].word
    if action == "here":
        try:
            return _parse_digest_here(tokens[1:], ctx)
        except UsageError as error:
            usage, example = COMMAND_USAGE["digest here"]
            error.usage = error.usage or usage
            error.example = error.example or example
            raise
    if action not in _DIGEST_ACTIONS:
        word = tokens[0].text
        raise UsageError(f"{_q(word)} is not a digest action.{_did_you_mean(word, _DIGEST_ACTIONS)}"
                         " Actions: " + ", ".join(_DIGEST_ACTIONS) + ".")
    _no_arguments(tokens[1:], f"digest {action}")
    return DigestCommand(action=action, public=ctx.public)


_WEEKDAYS = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2,
             "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4,
             "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6}
_MONTH_DAY_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?", re.IGNORECASE | re.ASCII)
_TIME_RE = re.compile(r"(\d{1,2})(?::(\d{2}))?([ap]\.?m\.?)?", re.IGNORECASE | re.ASCII)
_TZ_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")


def _parse_digest_here(tokens: Sequence[Token], ctx: _Context) -> DigestHereCommand:
    """`/kpi digest here [weekly DAY HH:MM|monthly DAY HH:MM] [TZ] [lang=xx]`

    Posts the digest into this channel; weekly on Monday at 09:00 unless told otherwise.
    DAY is mon..sun for weekly, 1..28 or `last` for monthly.
    """
    cadence = weekday = month_day = at = tz = lang = webhook = None
    weekday_word = ""
    for token in tokens:
        word = token.word or ""
        option = _option(token)
        if option is not None and option[0] == "webhook":
            _once(webhook, token, "webhook")
            webhook = option[1].strip()
            if not webhook.lower().startswith(("https://", "http://")):
                raise UsageError("webhook= takes the Teams Workflows URL (https://...).")
        elif option is not None:
            if option[0] != "lang":
                raise UsageError(f"{_q(token.text)}: the options here are lang= and webhook=.")
            _once(lang, token, "language")
            lang = _language(option[1])
        elif word in ("weekly", "monthly"):
            _once(cadence, token, "cadence")
            cadence = word
        elif word in _WEEKDAYS:
            _once(weekday, token, "weekday")
            weekday, weekday_word = _WEEKDAYS[word], token.text
        elif word == "last" or _MONTH_DAY_RE.fullmatch(word):
            _once(month_day, token, "day of the month")
            month_day = -1 if word == "last" else int(_MONTH_DAY_RE.fullmatch(word).group(1))
            if not (month_day == -1 or 1 <= month_day <= 28):
                raise UsageError(f"{_q(token.text)}: monthly digests go out on day 1 to 28, "
                                 "or last.")
        elif _TIME_RE.fullmatch(word) and (":" in word or "m" in word):
            _once(at, token, "time")
            at = _clock(token.text)
        else:
            _once(tz, token, "time zone")
            tz = _time_zone(token.text)
    if cadence is None:
        cadence = "monthly" if month_day is not None and weekday is None else "weekly"
    if cadence == "weekly" and month_day is not None:
        given = str(month_day) if month_day > 0 else "last"
        raise UsageError(f"{_q(given)} is a day of the month, but weekly digests take a weekday "
                         "like mon (write the time like 09:00).")
    if cadence == "monthly" and weekday is not None:
        raise UsageError(f"{_q(weekday_word)} is a weekday, but monthly digests take a day of "
                         "the month: 1 to 28, or last.")
    day = (weekday or 0) if cadence == "weekly" else (month_day or 1)
    return DigestHereCommand(cadence=cadence, day=day, time=at or time(9, 0), tz=tz, lang=lang,
                             webhook=webhook, public=ctx.public)


def _clock(text: str) -> time:
    match = _TIME_RE.fullmatch(text)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            raise UsageError(f"{_q(text)} is not a time of day.")
        hour = hour % 12 + (12 if match.group(3)[0].lower() == "p" else 0)
    if hour > 23 or minute > 59:
        raise UsageError(f"{_q(text)} is not a time of day; use 24-hour HH:MM like 09:00.")
    return time(hour, minute)


def _language(value: str) -> str:
    code = language_code(value)
    if code is None:
        raise UsageError(f"{_q(value)} is not a digest language; choose one of "
                         + ", ".join(LANGUAGES) + ".")
    return code


@functools.cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _time_zone(text: str) -> str:
    """The IANA name of a time zone, matched case-insensitively (`europe/oslo`)."""
    name = _zones().get(text.lower())
    if name is None and not _zones() and _TZ_RE.fullmatch(text):
        name = text  # no zone list on this system: let ZoneInfo decide
    if name is not None:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return name
    city = text.lower().replace(" ", "_")
    found = [zone for key, zone in _zones().items() if key.rsplit("/", 1)[-1] == city]
    hint = f' Did you mean "{found[0]}"?' if found else _did_you_mean(text, _zones().values())
    raise UsageError(f"{_q(text)} is not a time zone.{hint or ' Use a name like Europe/Oslo.'}")


_REP_ACTIONS = ("list", "link")


def _parse_rep(tokens: Sequence[Token], ctx: _Context) -> RepListCommand | RepLinkCommand:
    """`/kpi rep list`; `/kpi rep link REP @user`"""
    if not tokens:
        raise UsageError("/kpi rep needs an action: list or link.")
    action = tokens[0].word
    if action == "list":
        _no_arguments(tokens[1:], "rep list")
        return RepListCommand(public=ctx.public)
    if action == "link":
        try:
            return _parse_rep_link(tokens[1:], ctx)
        except UsageError as error:
            usage, example = COMMAND_USAGE["rep link"]
            error.usage = error.usage or usage
            error.example = error.example or example
            raise
    word = tokens[0].text
    raise UsageError(f"{_q(word)} is not a rep action.{_did_you_mean(word, _REP_ACTIONS)}"
                     " Actions: list, link.")


def _parse_rep_link(tokens: Sequence[Token], ctx: _Context) -> RepLinkCommand:
    """`/kpi rep link REP @user`, in either order; REP is `rep:jane-doe`, `jane-doe` or
    `"Jane Doe"` (a name with spaces in quotes)."""
    user: str | None = None
    rep: list[Token] = []
    for token in tokens:
        person = _user(token, ctx)
        if person is not None:
            _once(user, token, "person")
            user = person
        else:
            rep.append(token)
    if len(rep) > 1 and (rep[0].quoted or rep[1].quoted):
        raise UsageError(f"{_q(rep[1].text)} is a second rep; link one rep at a time.")
    if len(rep) > 1:
        words = " ".join(token.text for token in rep)
        raise UsageError(f"Give one named rep; {_q(rep[1].text)} is one word too many. Put a "
                         f"name with spaces in quotes: {_q(words)}.")
    if not rep:
        raise UsageError('Which named rep? Put it after rep link, like "Jane Doe" or '
                         "rep:jane-doe; /kpi rep list shows them.")
    if user is None:
        raise UsageError(f"Link {_q(rep[0].text)} to whom? Name the chat user with @ after "
                         "the rep.")
    name = _limited(rep[0].text, "rep name", MAX_REP_NAME)
    return RepLinkCommand(rep=name, user_id=user, public=ctx.public)


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------

_PARSERS: dict[str, Callable[[Sequence[Token], _Context], Command]] = {
    "help": _parse_help,
    "list": _parse_list,
    "ping": _parse_ping,
    "log": _parse_log,
    "undo": _parse_undo,
    "funnel": _parse_funnel,
    "quota": _parse_quota,
    "churn": _parse_churn,
    "show": _parse_show,
    "leaderboard": _parse_leaderboard,
    "me": _parse_me,
    "digest": _parse_digest,
    "rep": _parse_rep,
}


def parse_command(text: str, *, today: date, currency: str,
                  kpi_names: Collection[str] = (), people: Collection[Person] = ()) -> Command:
    """The command in the text after `/kpi`; raises UsageError (and nothing else).

    `people` are the workspace's known users, among whom a typed `@alice` is looked up.
    """
    usage, example = COMMAND_USAGE["help"]
    try:
        if len(text) > MAX_TEXT:
            raise UsageError(f"That command is {len(text):,} characters long; the limit is "
                             f"{MAX_TEXT:,}.")
        words = text.split(maxsplit=1)
        if words and words[0].lower() in COMMAND_USAGE:
            usage, example = COMMAND_USAGE[words[0].lower()]
        tokens, public = _split_public(tokenize(text))
        kpis = {name.casefold(): name for name in kpi_names if name.strip()}
        ctx = _Context(today=today, currency=currency, kpis=kpis, public=public,
                       people=tuple(people))
        if not tokens:
            return HelpCommand(topic=None, public=public)
        first, rest = tokens[0], tokens[1:]
        word = first.text.casefold() if first.escape is None else ""
        phrase = _kpi_at(tokens, 0, ctx)
        if word in _PARSERS and not (phrase is not None and phrase[1] > 1):
            usage, example = COMMAND_USAGE[word if word in COMMAND_USAGE else "help"]
            return _PARSERS[word](rest, ctx)
        if phrase is not None:  # `/kpi win-rate`, `/kpi win rate`, `/kpi churn rate`
            usage, example = COMMAND_USAGE["show"]
            return _kpi_command(tokens, ctx, command=phrase[0])
        raise _unknown_command(first.text, kpis)
    except WordProblem as problem:
        raise UsageError(str(problem), usage, example) from None
    except UsageError as error:
        error.usage = error.usage or usage
        error.example = error.example or example
        raise


def _unknown_command(word: str, kpis: dict[str, str]) -> UsageError:
    kind = resolve_kind(word)
    if kind is not None:
        found = _suggest(word, kpis.values()) or next(iter(kpis_counting(kind.name, kpis)), None)
        kpi = f". For the KPI: /kpi {found}" if found else ""
        return UsageError(f"{_q(word)} is not a command; to log it, start with log: "
                          f"/kpi log {kind.example}{kpi}", example=f"/kpi log {kind.example}")
    what = "a command or KPI" if kpis else "a command"
    hint = _did_you_mean(word, (*_PARSERS, *kpis.values()))
    more = " Try /kpi help, or /kpi list for every KPI." if kpis else " Try /kpi help."
    return UsageError(f"{_q(word)} is not {what}.{hint}{more}")

"""What the commands share: the parse context, people (`<@U1>`, a typed `@alice`), periods
(`last week`, `Q3 2026`), KPI names, and `[PERIOD] [@user] [cohort] [KPI]` in any order."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from bot.grammar.errors import UsageError, meant, q, suggest
from bot.grammar.tokens import Token
from bot.grammar.words import Person, WordProblem, event_is_no_kpi, kpi_phrase, typed_person
from reports.events import MAX_USER_ID, resolve_kind
from reports.periods import MONTHS, PeriodError, parse_period
from reports.text import Message, Text, quoted


@dataclass(frozen=True)
class Context:
    today: date
    currency: str
    kpis: Mapping[str, str]  # casefolded name → name as given (read only)
    public: bool
    people: tuple[Person, ...] = ()  # the workspace's known users, for a typed @name


_MENTION_RE = re.compile(r"<@([^|<>\s]+)(?:\|[^<>]*)?>")


def mention(token: Token, ctx: Context) -> str | None:
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
            raise UsageError(Text("{word} is a channel; name a person with @ instead.",
                                  word=q(escape)))
        raise UsageError(Text("{word} is not one person; pick a single person from the @ "
                              "autocomplete.", word=q(escape)))
    if token.bare and token.text.startswith("@") and len(token.text) > 1:
        try:
            return typed_person(token.text, ctx.people)
        except WordProblem as problem:
            raise UsageError(problem.text) from None
    return None


_PERIOD_WORDS = ("today", "yesterday", "this-week", "last-week", "this-month", "last-month",
                 "this-quarter", "last-quarter", "this-year", "last-year", "mtd", "qtd", "ytd",
                 "7d", "30d", "90d", *MONTHS)


def _period_error(text: str, ctx: Context) -> Message | None:
    """Why `text` is not a period (the PeriodError message), or None when it is one."""
    now = datetime.combine(ctx.today, time(12), tzinfo=UTC)
    try:
        parse_period(text, now=now, tz="UTC")
    except PeriodError as error:
        return about(text, error.text, Text("it is not a period"))
    except (ValueError, ArithmeticError):
        return Text("{word} is not a period; try this-month, 2026-Q3 or 30d.", word=q(text))
    return None


def words_of(tokens: Sequence[Token]) -> list[str | None]:
    """The lower-cased words of `tokens`; None for a quoted word or a mention."""
    return [token.word for token in tokens]


def shown(tokens: Sequence[Token]) -> str:
    """`tokens` as a person would type them again (quoted words in quotes)."""
    return " ".join(f'"{t.text}"' if t.quoted and t.escape is None else t.text for t in tokens)


_PERIOD_LEADS = ("this", "last", "past", "previous")


def read_period(tokens: Sequence[Token], i: int, ctx: Context, others: Collection[str] = (),
            what: Text | None = None) -> tuple[str, int]:
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
        found = suggest(f"{token.word}-{after}", _PERIOD_WORDS)
        hint = meant(found) if found else Text("Try {first} or {second}.", first="last-month",
                                                 second="last-quarter")
        raise UsageError(Text("{word} does not make a period after {lead}.", word=q(after),
                              lead=quoted(token.text)) + hint)
    found = suggest(text, tuple(others) + _PERIOD_WORDS)
    if found is not None and found.lower() != text.lower():
        problem = Text("{word} is not {what}.", word=q(text),
                       what=what or Text("a period")) + meant(found)
    raise UsageError(problem)


def about(text: str, problem: Message | str, empty: Text) -> Message | str:
    """A parser's `problem` with `text`, led by the quoted text unless it names it already
    (`empty` when the parser said nothing)."""
    if not str(problem):
        problem = empty
    if text in str(problem):
        return problem
    return Text("{word}: {problem}", word=q(text), problem=problem)


def once(current: object, token: Token, what: Text) -> None:
    """Refuses a second value of `what` (`Text("person")`) when `current` is set already."""
    if current is not None:
        raise UsageError(Text("{word} is a second {what}; give only one.", word=q(token.text),
                              what=what))


@dataclass
class _Reading:
    """What the report commands (`me`, `funnel`, `quota`, KPI...) may carry."""

    period: str | None = None
    user: str | None = None
    cohort: bool = False
    kpi: str | None = None


def read_report(tokens: Sequence[Token], ctx: Context, command: str, *,
                 user: bool = False, cohort: bool = False, kpi: bool = False) -> _Reading:
    """Read `[PERIOD] [@user] [cohort] [KPI]` in any order, as allowed by the flags."""
    got = _Reading()
    others = (["cohort"] if cohort else []) + (list(ctx.kpis.values()) if kpi else [])
    what = (Text("a KPI or period") if kpi else Text("a period or cohort") if cohort
            else Text("a period"))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        person = mention(token, ctx)
        if person is not None:
            if not user:
                raise UsageError(Text("{command} doesn't take a person; {word} can't be used "
                                      "here.", command="/kpi " + command, word=q(token.text)))
            once(got.user, token, Text("person"))
            got.user = person
            i += 1
        elif cohort and token.word == "cohort":
            if got.cohort:
                raise UsageError(Text("{word} is given twice.", word='"cohort"'))
            got.cohort = True
            i += 1
        elif kpi and (phrase := kpi_at(tokens, i, ctx)) is not None:
            once(got.kpi, token, Text("KPI"))
            got.kpi, i = phrase[0], i + phrase[1]
        elif kpi and got.kpi is None and (kind := resolve_kind(token.word or "")) is not None:
            rest = shown([*tokens[:i], *tokens[i + 1:]])
            raise UsageError(event_is_no_kpi(token.text, kind.name, ctx.kpis.values(), command,
                                             rest))
        else:
            text, next_i = read_period(tokens, i, ctx, others, what)
            if got.period is not None:
                raise UsageError(Text("{word} is a second {what}; give only one.", word=q(text),
                                      what=Text("period")))
            got.period = text
            i = next_i
    return got


def kpi_at(tokens: Sequence[Token], i: int, ctx: Context) -> tuple[str, int] | None:
    """The KPI named at tokens[i] (`win-rate`, `win rate`, `"Win Rate"`) and how many words."""
    if tokens[i].escape is None and tokens[i].text.casefold() in ctx.kpis:
        return ctx.kpis[tokens[i].text.casefold()], 1
    return kpi_phrase(words_of(tokens[i:]), ctx.kpis)


def no_arguments(tokens: Sequence[Token], command: str) -> None:
    if tokens:
        raise UsageError(Text("{command} takes nothing more; {word} was given.",
                              command="/kpi " + command, word=q(tokens[0].text)))


# ---------------------------------------------------------------------------------------------
# Numbers and amounts

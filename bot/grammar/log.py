"""`/kpi log EVENT ...` (the event, its count, amount, deal, person, options, day and note) and
`/kpi undo [ID]`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.grammar.commands import LogCommand, UndoCommand
from bot.grammar.errors import UsageError, did_you_mean, limited, q
from bot.grammar.numbers import (
    PLAIN_NUMBER_RE,
    amount_at,
    duration,
    integer,
    is_money,
    money,
    read_count,
    times_at,
)
from bot.grammar.reading import Context, about, mention, no_arguments, once, shown, words_of
from bot.grammar.tokens import BARE, Token, option_of
from bot.grammar.words import (
    NOT_NUMBERS,
    SCALE_SUFFIXES,
    WordProblem,
    day_words,
    joined_event,
    number_words,
    odd_number,
    two_word_day,
)
from reports.events import (
    ALIASES,
    KINDS,
    MAX_DURATION,
    MAX_NOTE,
    OPTION_KINDS,
    EventKind,
    normalize_source,
    option_problem,
    resolve_kind,
)
from reports.periods import PeriodError, parse_day
from reports.text import Text, one_of, quoted

_OPTIONS = ("source", "reason", "competitor", "mrr", "account", "deal", "note")


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
        return " ".join(part for part in ("/kpi log", self.kind.name, shown(words[1:start]),
                                          new, shown(words[end:])) if part)


def parse_log(tokens: Sequence[Token], ctx: Context) -> LogCommand:
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
        raise UsageError(Text("Which event? Put one after {word}, such as {first} or {second}.",
                              word="log", first="demo-booked", second="call"))
    kind, size = _event(tokens)
    tokens = [Token(((BARE, kind.name),)), *tokens[size:]]
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
    if found := joined_event(words_of(tokens[:3])):
        joined, size = found
        if alone is None:
            return joined, size
        rest = shown(tokens[size:])
        meant = " ".join(t.text for t in tokens[:size])
        command = f"/kpi log {joined.name} {rest}".rstrip()
        alone_command = f'/kpi log {tokens[0].text} "{tokens[1].text}"'
        raise UsageError(
            Text("Did you mean {command}?", command=command)
            + Text("{words} reads as the event {kind}, so nothing was stored. To log {alone} on "
                   "a deal named {deal}, quote the name: {quoted}", words=q(meant),
                   kind=joined.name, alone=alone.name, deal=q(tokens[1].text),
                   quoted=alone_command),
            example=command)
    if alone is None:
        word = tokens[0].text
        hint = did_you_mean(word, (*KINDS, *ALIASES)) or Text(
            "{command} lists every event.", command="/kpi help events")
        raise UsageError(Text("{word} is not an event.", word=q(word)) + hint)
    return alone, 1


def _doubtful_word(log: _Log, tokens: Sequence[Token], i: int, ctx: Context) -> int | None:
    """Read or refuse a word a person may mean as a day or a number (SPEC section 4).

    A sure day (`yesterday`, `2026-10-05`) before the note is the day: returns the next index.
    A weekday or a day in the note, a number in words, `1e3`, `0x10`, `NaN` or full-width
    digits: a UsageError that asks or says what to type. Other words: None.
    """
    text = tokens[i].text
    try:
        day = day_words(words_of(tokens[i:i + 2]), ctx.today)
    except WordProblem as problem:
        raise UsageError(problem.text) from None
    if day is not None:
        if day.sure and not log.note_started():
            once(log.on_date, tokens[i], Text("day"))
            log.on_date = day.day
            return i + day.used
        said = " ".join(t.text for t in tokens[i:i + day.used])
        raise UsageError(
            Text("Did you mean {command}?",
                 command=log.corrected(i, i + day.used, "on " + day.shown))
            + Text("{words} reads as the day {day}, so nothing was stored. If it is part of the "
                   "note, write the note in {option}; if it is a name, quote it.", words=q(said),
                   day=day.day, option='note="..."'))
    problem = odd_number(text)
    if problem and (text.lower() not in NOT_NUMBERS or log.wants_number()):
        raise UsageError(problem + Text("(Quote it if it is a name: {quoted}.)",
                                        quoted=quoted(text)))
    spelled = number_words(words_of(tokens[i:])) if log.wants_number() else None
    if spelled is not None:
        value, used = spelled
        said = " ".join(t.text for t in tokens[i:i + used])
        raise UsageError(
            Text("Did you mean {command}?", command=log.corrected(i, i + used, str(value)))
            + Text("{words} reads as the number {value}, so nothing was stored; write numbers "
                   "in digits. If it is a name, quote it: {quoted}.", words=q(said), value=value,
                   quoted=quoted(said)))
    return None


def _scaled_amount(log: _Log, tokens: Sequence[Token], i: int, end: int) -> None:
    """Ask about `5 thousand` or `5 k` after an amount: did you mean 5k?"""
    if end < len(tokens) and (scale := SCALE_SUFFIXES.get(tokens[end].word or "")) \
            and PLAIN_NUMBER_RE.fullmatch(tokens[i].text) \
            and tokens[i].text[-1:].lower() not in ("k", "m"):
        meant = tokens[i].text + scale
        raise UsageError(Text("Did you mean {command}?",
                              command=log.corrected(i, end + 1, meant))
                         + Text("{words} reads as {amount}, so nothing was stored.",
                                words=q(tokens[i].text + " " + tokens[end].text), amount=meant))


def _read_log_token(log: _Log, tokens: Sequence[Token], i: int, ctx: Context) -> int:
    """Read the part of a log command at tokens[i]; returns the next index."""
    token, kind = tokens[i], log.kind
    person = mention(token, ctx)
    if person is not None:
        once(log.user, token, Text("person"))
        log.user = person
        return i + 1
    option = option_of(token)
    if option is not None:
        _log_option(log, token, *option, ctx)
        return i + 1
    if token.word == "on":
        return _log_date(log, tokens, i, ctx)
    times = times_at(tokens, i)
    if times is not None:
        once(log.count, token, Text("count"))
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
        seconds = duration(text)
        if seconds is not None:
            once(log.duration, token, Text("response time"))
            if not 0 <= seconds <= MAX_DURATION:
                raise UsageError(Text("{word} is not a response time from 0s to 365 days.",
                                      word=q(text)))
            log.duration = seconds
            return i + 1
        if integer(text) is not None:
            raise UsageError(Text("{word} has no unit; write the response time like 4m, 45s or "
                                  "1h30m.", word=q(text)))
    if kind.amount != "none":
        amount = amount_at(tokens, i, ctx, signed=kind.amount == "signed",
                            strict=log.amount is None)
        if amount is not None:
            once(log.amount, token, Text("amount"))
            _scaled_amount(log, tokens, i, amount[1])
            log.amount, log.amount_text = amount[0], text
            return amount[1]
    elif _is_count_kind(kind) and integer(text) is not None:
        once(log.count, token, Text("count"))
        log.count = read_count(text, text)
        return i + 1
    if kind.amount == "none" and is_money(text, ctx.currency):
        raise UsageError(Text("{kind} doesn't take an amount; {word} looks like one (quote it "
                              "if it is a name: {quoted}).", kind=kind.name, word=q(text),
                              quoted=quoted(text)))
    log.free.append((token, log.count is not None))
    return i + 1


def _log_option(log: _Log, token: Token, key: str, value: str, ctx: Context) -> None:
    kind = log.kind
    if key not in _OPTIONS:
        hint = did_you_mean(key, _OPTIONS)
        raise UsageError(Text("{option} is not an option.", option=quoted(key + "=")) + hint
                         + Text("Options: {options}.",
                                options=", ".join(f"{name}=" for name in _OPTIONS)))
    if key in log.options:
        raise UsageError(Text("{option} is given twice; give it once.",
                              option=quoted(key + "=")))
    if option_problem(kind, key):
        raise UsageError(Text("{kind} doesn't take {option} ({word}); it goes with {kinds}.",
                              kind=kind.name, option=key + "=", word=q(token.text),
                              kinds=one_of(OPTION_KINDS[key])))
    if key == "mrr":
        minor = (money(value.replace(" ", ""), ctx, what=Text("MRR")) if value.strip()
                 else None)
        if minor is None:
            raise UsageError(Text("{word} needs an amount, like {example}.", word=q(token.text),
                                  example="mrr=1k"))
        log.mrr = minor
    elif key == "note":
        value = limited(value, Text("note"), MAX_NOTE)
    else:
        value = limited(value, Text("{option} value", option=key + "="))
    log.options[key] = value


def _log_date(log: _Log, tokens: Sequence[Token], i: int, ctx: Context) -> int:
    """`on DATE`: one word (`on fri`, `on 2026-10-05`), or two (`on last friday`, `on 5 oct`)."""
    if i + 1 >= len(tokens):
        raise UsageError(Text("{word} needs a day after it, like on yesterday or on "
                              "2026-10-05.", word='"on"'))
    once(log.on_date, tokens[i], Text("day"))
    try:
        two = two_word_day(words_of(tokens[i + 1:i + 3]), ctx.today)
    except WordProblem as problem:
        raise UsageError(problem.text) from None
    if two is not None:
        log.on_date = two
        return i + 3
    text = tokens[i + 1].text.strip()
    try:
        log.on_date = parse_day(text, today=ctx.today)
    except PeriodError as error:
        raise UsageError(about(text, error.text, Text("it is not a day"))) from None
    except (ValueError, ArithmeticError):
        raise UsageError(Text("{word} is not a day; write it like yesterday, mon or 2026-10-05.",
                              word=q(text))) from None
    return i + 2


def _finish_log(log: _Log, ctx: Context) -> LogCommand:
    kind, options = log.kind, log.options
    free = log.free
    deal_text = options.get("deal")
    if deal_text is None and free and not (free[0][1] and not kind.needs_deal):
        deal_text, free = free[0][0].text, free[1:]
    note = options.get("note")
    if free:
        if note is not None:
            words = " ".join(token.text for token, _ in free)
            raise UsageError(Text("The note is given twice: {option} and {words}; put all of "
                                  "it in {option}.", option="note=", words=q(words)))
        note = limited(" ".join(token.text for token, _ in free), Text("note"), MAX_NOTE)
    deal = limited(deal_text, Text("deal name")) if deal_text is not None else None
    example = f"/kpi log {kind.example}"
    if kind.needs_deal and deal is None:
        raise UsageError(Text("{kind} needs a deal or account name, e.g. {example}",
                              kind=kind.name, example=example))
    if kind.amount in ("required", "signed") and log.amount is None:
        raise UsageError(Text("{kind} needs an amount, e.g. {example}", kind=kind.name,
                              example=example))
    if log.amount == 0:
        raise UsageError(_zero(log.amount_text, kind, example))
    if kind.duration and log.duration is None:
        raise UsageError(Text("{kind} needs the response time, e.g. {example}", kind=kind.name,
                              example=example))
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


def _zero(text: str, kind: EventKind, example: str) -> Text:
    """The refusal of an amount of 0 (`kind` takes an amount above 0, or other than 0)."""
    fields = {"word": q(text), "kind": kind.name, "example": example}
    if kind.amount == "signed":
        return Text("{word} is zero; {kind} needs an amount other than 0, e.g. {example}",
                    **fields)
    if kind.amount == "optional":
        return Text("{word} is zero; {kind} needs an amount above 0 or leave it out, e.g. "
                    "{example}", **fields)
    return Text("{word} is zero; {kind} needs an amount above 0, e.g. {example}", **fields)


def parse_undo(tokens: Sequence[Token], ctx: Context) -> UndoCommand:
    """`/kpi undo [ID]` — ID as `42` or `#42`; without it, your last event."""
    if not tokens:
        return UndoCommand(event_id=None, public=ctx.public)
    no_arguments(tokens[1:], "undo ID")
    text = tokens[0].text
    number = text[1:] if text.startswith("#") else text
    if not (number.isascii() and number.isdigit()) or len(number) > 15 or int(number) < 1:
        raise UsageError(Text("{word} is not an event number; use the number from the "
                              "confirmation, like 42.", word=q(text)))
    return UndoCommand(event_id=int(number), public=ctx.public)

"""Division as the KPIs do it: `ratio` (n/a for a zero denominator, an event ratio capped at
100% with a data warning naming the events to log) and `div` (n/a, never capped)."""

from __future__ import annotations

from collections.abc import Callable

from reports.text import Message, Money, Text


def ratio(numerator: float, denominator: float, *,
          what: tuple[str | Text, str | Text] | None = None, cap: bool = True,
          fix: Text | None = None, currency: str | None = None
          ) -> tuple[float | None, list[Message]]:
    """numerator / denominator, and the data warnings (`Text`s: the view translates them).

    None for a zero denominator (with a warning when `cap` and the numerator is not zero:
    "email-clicked (3) without any email-delivered: log the missing email-delivered events").
    Above 1 with `cap`: 1.0 and a warning such as "more email-opened (52) than
    email-delivered (50): log the missing email-delivered events; shown capped at 100%".
    `what` names the two counts: event kinds as typed (`str`) or phrases to translate (`Text`);
    with `currency` they are amounts in its minor units, shown as money."""
    if not denominator:
        if cap and numerator and what:
            top, bottom, shown, fix = _warning_parts(what, currency, fix)
            return None, [Text("{top} ({count}) without any {bottom}: {fix}", top=top,
                               count=shown(numerator), bottom=bottom, fix=fix)]
        return None, []
    value = numerator / denominator
    if cap and value > 1:
        top, bottom, shown, fix = _warning_parts(what, currency, fix)
        return 1.0, [Text("more {top} ({top_count}) than {bottom} ({bottom_count}): {fix}; "
                          "shown capped at 100%", top=top, top_count=shown(numerator),
                          bottom=bottom, bottom_count=shown(denominator), fix=fix)]
    return value, []


def _warning_parts(what: tuple[str | Text, str | Text] | None, currency: str | None,
                   fix: Text | None) -> tuple[str | Text, str | Text, Callable, Text]:
    """A warning's two counts' names, how a count is shown and the fix (made only when a
    warning is given: most ratios give none)."""
    top, bottom = what or (Text("numerator"), Text("denominator"))
    shown = (lambda value: Money(round(value), currency)) if currency else count_shown
    return top, bottom, shown, fix or Text("log the missing {kind} events", kind=bottom)


def count_shown(value: float) -> int | str:
    """A count in a warning: an `int` (grouped in the reader's language) when whole."""
    return int(value) if float(value).is_integer() else f"{value:,.2f}"


def div(a: float | None, b: float | None) -> float | None:
    """a / b; None (n/a) when a is n/a or b is zero or n/a."""
    if a is None or not b:
        return None
    return a / b

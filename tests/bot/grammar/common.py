"""What the grammar tests share: the day, the KPI names, `parse` and `fails`."""

from __future__ import annotations

from datetime import date

import pytest

from bot.grammar import (
    LogCommand,
    UsageError,
    parse_command,
)

TODAY = date(2026, 10, 14)  # a Wednesday
KPIS = ("win-rate", "revenue", "pipeline", "churn-rate", "Demo-Rate")
U1 = "<@U0123ABC>"


def parse(text: str, **kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("currency", "USD")
    kw.setdefault("kpi_names", KPIS)
    return parse_command(text, **kw)


def fails(text: str, *fragments: str, **kw) -> UsageError:
    """The UsageError for `text`; its problem contains every fragment, case-insensitively."""
    with pytest.raises(UsageError) as caught:
        parse(text, **kw)
    error = caught.value
    for fragment in fragments:
        assert fragment.lower() in error.problem.lower(), (fragment, error.problem)
    assert str(error) == error.problem
    assert error.usage.startswith("/kpi"), error.usage
    assert error.example.startswith("/kpi"), error.example
    return error


def log(kind: str, **fields) -> LogCommand:
    return LogCommand(kind=kind, **fields)

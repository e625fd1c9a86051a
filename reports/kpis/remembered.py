"""`RememberedFacts`: a `Facts` that asks each distinct question once.

A digest computes twenty KPIs, and several of them ask the same facts: revenue, deals won,
win rate and average deal size all read `closed_deals` of the same window. Wrapped in
`RememberedFacts`, each distinct call (method and arguments) reaches the wrapped facts once;
the answers are kept in `answers`, which digests that differ only by language can share (the
facts do not depend on the language).

Answers are handed out as copies of their lists, dicts and tuples (their items are frozen
dataclasses and numbers), so a caller cannot change what the next one gets.
Only for one consistent view of the data: one read session, or answers known to be current
(bot/digests/shared.py keys them by the workspace's history version).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reports.kpis.facts import Facts


class RememberedFacts:
    """`facts`, with each distinct call answered once (see the module docstring)."""

    def __init__(self, facts: Facts, answers: dict | None = None) -> None:
        self.facts = facts
        self.answers = {} if answers is None else answers
        self.workspace_id, self.currency = facts.workspace_id, facts.currency
        self.asked = 0  # calls that reached `facts`

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.facts, name)
        if not callable(method) or name.startswith("_"):
            return method

        def remembered(*args: Any, **kwargs: Any) -> Any:
            key = (name, _frozen(args), _frozen(kwargs))
            if key not in self.answers:
                self.asked += 1
                self.answers[key] = method(*args, **kwargs)
            return _copy(self.answers[key])

        return remembered


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an argument (sequences and mappings become tuples)."""
    if isinstance(value, Mapping):
        return ("mapping", tuple((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("sequence", tuple(_frozen(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(value, key=repr)))
    return value


_COPIES: dict[type, Callable[[Any], Any]] = {
    dict: lambda d: {k: _copy(v) for k, v in d.items()},
    list: lambda items: [_copy(v) for v in items],
    tuple: lambda items: tuple(_copy(v) for v in items),  # event_sums_by_kind's pair of dicts
}


def _copy(value: Any) -> Any:
    copy = _COPIES.get(type(value))
    return value if copy is None else copy(value)

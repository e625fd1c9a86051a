"""RememberedFacts (reports/kpis/remembered.py): each distinct question reaches the facts once,
every KPI answers exactly as over the bare facts, and no caller can spoil a kept answer."""

from __future__ import annotations

from collections import Counter

from reports.digest.build import build_digest
from reports.kpis.catalog import CATALOG, compute_kpi
from reports.kpis.remembered import RememberedFacts
from reports.periods import parse_period
from tests.reports.fake_facts import FakeFacts
from tests.reports.kpi_scenario import FACTS, NOW, QUOTAS, SCENARIO


class Counting:
    """FakeFacts, counting the calls that reach it."""

    def __init__(self, facts: FakeFacts) -> None:
        self.facts, self.calls = facts, Counter()
        self.workspace_id, self.currency = facts.workspace_id, facts.currency

    def __getattr__(self, name):
        method = getattr(self.facts, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)
        return counted


def test_every_kpi_answers_as_over_the_bare_facts():
    period = parse_period("this-quarter", now=NOW, tz="UTC")
    remembered = RememberedFacts(FakeFacts(SCENARIO, QUOTAS))
    for name in CATALOG:
        for _ in range(2):  # the second time from the kept answers
            assert compute_kpi(name, facts=remembered, period=period, now=NOW) == \
                compute_kpi(name, facts=FACTS, period=period, now=NOW), name


def test_a_digest_asks_each_question_once_and_another_language_asks_nothing():
    counting = Counting(FakeFacts(SCENARIO, QUOTAS))
    book: dict = {}
    english = build_digest(facts=RememberedFacts(counting, book), cadence="weekly", now=NOW,
                           tz="UTC", language="en")
    asked = sum(counting.calls.values())
    assert english == build_digest(facts=FACTS, cadence="weekly", now=NOW, tz="UTC",
                                   language="en")
    bare = Counting(FakeFacts(SCENARIO, QUOTAS))
    build_digest(facts=bare, cadence="weekly", now=NOW, tz="UTC", language="en")
    assert asked == len(book) < sum(bare.calls.values())  # repeated questions were repeated
    norwegian = build_digest(facts=RememberedFacts(counting, book), cadence="weekly", now=NOW,
                             tz="UTC", language="nb")
    assert sum(counting.calls.values()) == asked  # nothing asked again
    assert norwegian == build_digest(facts=FACTS, cadence="weekly", now=NOW, tz="UTC",
                                     language="nb")


def test_a_caller_changing_an_answer_does_not_change_the_next_one():
    period = parse_period("this-quarter", now=NOW, tz="UTC")
    remembered = RememberedFacts(FakeFacts(SCENARIO, QUOTAS))
    first = remembered.funnel_counts(period.start, period.end)
    first.clear()
    assert remembered.funnel_counts(period.start, period.end) == \
        FACTS.funnel_counts(period.start, period.end)
    quotas = remembered.quotas()
    quotas.pop()
    assert remembered.quotas() == FACTS.quotas()
    totals, users = remembered.event_sums_by_kind(("call", "email-sent"), period.start,
                                                  period.end, per_user=True)
    assert totals and users["call"]
    totals.clear()
    users["call"].clear()
    assert remembered.event_sums_by_kind(("call", "email-sent"), period.start, period.end,
                                         per_user=True) == \
        FACTS.event_sums_by_kind(("call", "email-sent"), period.start, period.end,
                                 per_user=True)

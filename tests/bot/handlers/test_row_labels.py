"""How a KPI's breakdown rows are named in a reply: a loss reason or competitor by its kind
(translated) and what was typed, read from the row's own fields; anything else (a lead source,
a stage, a rep) as typed or by the person's name, even when it looks like `reason: ...`."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.handlers.kpis import result_table
from reports.i18n import translator
from reports.kpis.catalog import compute_kpi
from reports.periods import parse_period
from tests.reports.fake_facts import Ev, FakeFacts

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def _result(name: str, events: list[Ev]):
    period = parse_period("this-month", now=NOW, tz="UTC")
    return compute_kpi(name, facts=FakeFacts(events), period=period, now=NOW)


def _labels(result, language: str) -> list[str]:
    return [row[0] for row in result_table(result, {}, translator(language))[1:]]


def test_loss_rows_carry_their_kind_and_subject_outside_the_json():
    day = datetime(2026, 11, 3, 10, tzinfo=UTC)
    result = _result("loss-reasons", [
        Ev("deal-lost", day, deal="A", reason="price: too high", competitor="northwind"),
        Ev("deal-lost", day, deal="B", reason="timing")])
    rows = [(row.kind, row.subject, row.key) for row in result.rows]
    assert rows == [("reason", "price: too high", "reason: price: too high"),
                    ("reason", "timing", "reason: timing"),
                    ("competitor", "northwind", "competitor: northwind")]
    for row in result.to_json()["rows"]:  # the JSON names a row by its key alone, as before
        assert set(row) == {"key", "value", "numerator", "denominator", "share"}
    assert _labels(result, "nb") == ["årsak: price: too high", "årsak: timing",
                                     "konkurrent: northwind"]
    assert _labels(result, "en") == ["reason: price: too high", "reason: timing",
                                      "competitor: northwind"]


def test_a_source_that_looks_like_a_loss_reason_stays_as_typed():
    day = datetime(2026, 11, 3, 10, tzinfo=UTC)
    result = _result("lead-sources", [Ev("lead", day, deal="A", source="reason: web"),
                                      Ev("lead", day, deal="B", source="competitor: ads")])
    assert sorted(_labels(result, "nb")) == ["competitor: ads", "reason: web"]

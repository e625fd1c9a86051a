"""The Python around the stage times' histograms does not step through them bucket by bucket:
`summaries` sums and searches a measure's buckets with C-level calls (sorted, sum, accumulate,
bisect), so its Python calls do not grow with the populated buckets (the funnel at 1M events
reads ~260 of them a quarter). The answers stay those of the deals (tests/storage/
test_deal_durations.py checks them against the deals' distributions). Counts, no timing; both
databases."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from storage import stage_durations
from storage.models import Deal, DealDurationCount
from storage.stage_durations import MEASURES, summaries
from tests.storage.test_deal_durations import WS, _random_deals, _setup

ALL = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
_SOURCE = str(Path(stage_durations.__file__))


def _python_calls(call) -> tuple[int, object]:
    """(Python frames of storage/stage_durations.py entered or resumed during `call()`,
    its result)."""
    calls = [0]

    def profile(frame, event, _arg) -> None:
        if event == "call" and frame.f_code.co_filename == _SOURCE:
            calls[0] += 1

    sys.setprofile(profile)
    try:
        result = call()
    finally:
        sys.setprofile(None)
    return calls[0], result


def test_summaries_python_calls_do_not_grow_with_the_buckets(database):
    _setup(database)
    with database.write() as session:
        session.execute(sa.insert(Deal.__table__), _random_deals(7, 260))
    measures = tuple(MEASURES.values())
    with database.read() as session:
        c = DealDurationCount.__table__.c
        buckets = session.execute(sa.select(sa.func.count()).select_from(
            sa.select(c.measure, c.bucket).where(c.workspace_id == WS, c.owner_id == "",
                                                 c.measure.in_(measures))
            .distinct().subquery())).scalar_one()
        calls, found = _python_calls(lambda: summaries(
            session.connection(), WS, measures, *ALL, user=None, tenths=(5,)))  # medians
    assert buckets > 100  # (measure, bucket) histograms the answer sums
    assert all(found[m].n > 40 for m in measures)
    # The plan, the two reads, a sort and a search per measure: about 50, whatever the
    # buckets (before: a generator step per bucket, three times over, and a step per bucket
    # up to each rank: 462 here)
    assert calls < 100, calls

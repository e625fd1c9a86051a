"""The values at the percentiles' ranks are read with few distinct statements, whatever the
number of (measure, bucket) pairs asked (storage/stage_durations.py `_bucket_values`): each
distinct statement is compiled and kept by SQLAlchemy and prepared and kept by every pooled
SQLite connection; one per number of pairs made twenty large ones in the digest fan-out.
On both databases; statements are counted, values compared with a direct read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from sampledata import seed_workspace
from storage.models import DealDuration
from storage.stage_durations import _bucket_values

WS = "slack:TSTMT"
END = datetime(2026, 11, 20, 10, tzinfo=UTC)
START = END - timedelta(days=3 * 365)


def test_the_values_of_any_number_of_buckets_take_few_distinct_statements(database):
    seed_workspace(database=database, workspace_id=WS, target_events=1500, end=END,
                   timezone="Europe/Oslo", platform="slack")
    d = DealDuration.__table__.c
    with database.read() as session:
        rows = session.execute(
            sa.select(d.measure, d.bucket, d.ms)
            .where(d.workspace_id == WS, d.exit_at >= START, d.exit_at < END)).all()
    by_bucket: dict[tuple[int, int], list[int]] = {}
    for measure, bucket, ms in rows:
        by_bucket.setdefault((measure, bucket), []).append(ms)
    pairs = sorted(by_bucket)
    assert len(pairs) >= 20, len(pairs)
    statements: set[str] = set()

    def record(_conn, _cursor, statement, *_args) -> None:
        if "deal_durations" in statement:
            statements.add(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        for count in range(1, 21):
            asked = pairs[:count]
            wanted = {pair: [(0, 0), (1, len(by_bucket[pair]) - 1)] for pair in asked}
            with database.read() as session:
                found = _bucket_values(session.connection(), WS, wanted, START, END, None)
            assert found == {pair: {0: sorted(by_bucket[pair])[0],
                                    len(by_bucket[pair]) - 1: sorted(by_bucket[pair])[-1]}
                             for pair in asked}
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    assert len(statements) <= 6, len(statements)  # 1, 2, 4, 8, 16, 32 parts (was 20)

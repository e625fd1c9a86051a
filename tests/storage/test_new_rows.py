"""A row built from the tables of storage/models.py holds its defaults before any flush (what
code reads from a new row, and the same columns for every INSERT of a table), as the SQLModel
classes they replaced did; a name that is not a column is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.models import (
    CrmSync,
    DailyRollup,
    DigestSchedule,
    Event,
    OpenDealStage,
    Table,
    Workspace,
)

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_a_new_row_holds_its_python_defaults():
    workspace = Workspace(id="slack:T1", platform="slack", created_at=NOW)
    assert (workspace.timezone, workspace.currency, workspace.fiscal_year_start,
            workspace.history_version, workspace.name) == ("UTC", "USD", 1, 0, None)
    schedule = DigestSchedule(workspace_id="slack:T1", platform="slack", channel_id="C1",
                              owner_id="U1", created_at=NOW, updated_at=NOW)
    assert (schedule.cadence, schedule.day, schedule.hour, schedule.minute, schedule.timezone,
            schedule.language, schedule.enabled) == ("weekly", 0, 9, 0, "UTC", "en", True)
    assert OpenDealStage(workspace_id="slack:T1", stage="sql").owner_id == ""
    assert DailyRollup().amount_sum == 0 and DailyRollup().source == ""
    assert (CrmSync().status, CrmSync().deals_read) == ("never", 0)


def test_given_values_win_over_the_defaults():
    event = Event(count=3, note="hi", id=7)
    assert (event.count, event.note, event.id) == (3, "hi", 7)


def test_nullable_columns_and_the_key_are_set_to_none():
    """Set, not merely unset: every new event inserts the same columns."""
    event = Event(workspace_id="slack:T1", kind="call", user_id="U1", logged_by="U1",
                  occurred_at=NOW, logged_at=NOW, idempotency_key="k")
    nullable = {c.key for c in Event.__table__.columns if c.nullable}
    assert {"note", "deal_key", "voided_at", "amount_minor"} <= nullable
    assert {key: vars(event)[key] for key in nullable | {"id"}} == dict.fromkeys(
        nullable | {"id"})
    assert event.count == 1
    assert "created_at" not in vars(Workspace())  # a required column stays unset


def test_a_name_that_is_not_a_column_is_refused():
    with pytest.raises(TypeError, match="'colour' is an invalid keyword argument for Event"):
        Event(colour="red")


def test_every_default_is_a_value():
    for table in Table.__subclasses__():
        assert not any(callable(v) for v in table._new_row_defaults.values()), table

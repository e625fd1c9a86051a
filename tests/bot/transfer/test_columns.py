"""Columns and CRM stages: stage mapping and the canonical header."""

from __future__ import annotations

import pytest

from bot.transfer.columns import parse_stage_map
from bot.transfer.presets import EXPORT_COLUMNS, map_stage
from bot.transfer.problems import ImportRefused
from storage.reps import named_rep_id, rep_slug


def test_stage_mapping():
    assert map_stage("Presentation Scheduled") == "demo"
    assert map_stage("presentationscheduled") == "demo"
    assert map_stage("Closed Won") == "won" and map_stage("closedlost") == "lost"
    assert map_stage("Proposal/Price Quote") == "demo"
    assert map_stage("Qualification") == "sql"
    assert map_stage("Disqualified") is None and map_stage("Something custom") is None
    assert map_stage("Negotiation phase") == "demo"  # a telling word, without a preset
    assert map_stage("Negotiation phase", preset="hubspot") is None  # a preset names exactly
    assert map_stage("Negotiation phase", {"negotiation phase": "sql"}, "hubspot") == "sql"
    assert map_stage("Verbal", parse_stage_map(["verbal=demo-booked"])) == "demo"
    with pytest.raises(ImportRefused, match="STAGE one of lead"):
        parse_stage_map(["Verbal=nearly"])


def test_header_is_canonical_first():
    assert EXPORT_COLUMNS[:11] == ("occurred_at", "event", "count", "amount", "currency", "deal",
                                   "account", "user", "source", "reason", "note")
    assert rep_slug("  Jane   Doe ") == "jane-doe" and named_rep_id("José Núñez") == \
        "rep:jose-nunez"
    assert rep_slug("王伟") == "王伟"

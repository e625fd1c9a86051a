"""Deal stage rules of SPEC section 5: skipped stages, reopened deals, lost anywhere."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reports.deal_state import DealEvent, changes_only_the_name, derive_deal_state
from reports.events import KINDS, Stage

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)


def ev(i: int, kind: str, days: float, user_id: str = "U1", **kw) -> DealEvent:
    return DealEvent(id=i, kind=kind, occurred_at=T0 + timedelta(days=days), user_id=user_id,
                     **kw)


def test_full_funnel_in_order_gives_each_stage_its_first_event():
    state = derive_deal_state([
        ev(1, "lead", 0, source="referral"), ev(2, "mql", 1), ev(3, "sql", 3),
        ev(4, "opportunity", 6), ev(5, "demo-booked", 10), ev(6, "mql", 11),
        ev(7, "deal-won", 20, amount_minor=1_200_000, currency="USD"),
    ])
    assert state.outcome == "won"
    assert state.stage == "won"
    assert state.stage_at[Stage.MQL] == T0 + timedelta(days=1)  # the repeat on day 11 is ignored
    assert state.stage_at[Stage.WON] == T0 + timedelta(days=20)
    assert state.amount_minor == 1_200_000
    assert state.source == "referral"
    assert state.first_event_at == T0


def test_skipped_stages_count_as_reached_with_zero_time():
    state = derive_deal_state([ev(1, "lead", 0), ev(2, "opportunity", 5), ev(3, "deal-won", 9,
                                                                              amount_minor=1)])
    assert state.stage_at[Stage.MQL] == T0 + timedelta(days=5)
    assert state.stage_at[Stage.SQL] == T0 + timedelta(days=5)
    assert state.stage_at[Stage.DEMO] == T0 + timedelta(days=9)


def test_won_without_earlier_events_reaches_every_stage_at_the_win():
    state = derive_deal_state([ev(1, "deal-won", 3, amount_minor=5)])
    assert set(state.stage_at) == set(Stage)
    assert all(at == T0 + timedelta(days=3) for at in state.stage_at.values())


def test_lost_anywhere_ends_the_deal_where_it_stood():
    state = derive_deal_state([ev(1, "lead", 0), ev(2, "sql", 2),
                               ev(3, "deal-lost", 4, reason="price", competitor="Rival")])
    assert state.outcome == "lost"
    assert state.stage == "lost"
    assert state.lost_at == T0 + timedelta(days=4)
    assert Stage.OPPORTUNITY not in state.stage_at
    assert state.reason == "price" and state.competitor == "Rival"


def test_reopened_deal_counts_once_by_final_outcome():
    events = [ev(1, "opportunity", 0), ev(2, "deal-lost", 3, reason="timing"),
              ev(3, "demo-booked", 10), ev(4, "deal-won", 15, amount_minor=900)]
    state = derive_deal_state(events)
    assert state.outcome == "won"
    assert state.lost_at is None and state.reason is None
    assert state.won_at == T0 + timedelta(days=15)


def test_reopened_and_still_open_is_open_at_its_new_stage():
    state = derive_deal_state([ev(1, "sql", 0), ev(2, "deal-won", 3, amount_minor=1),
                               ev(3, "opportunity", 8)])
    assert state.outcome == "open"
    assert state.stage == "opportunity"
    assert state.stage_changed_at == T0 + timedelta(days=8)
    assert state.won_at is None and Stage.WON not in state.stage_at


def test_a_lead_mql_or_sql_after_the_close_is_a_late_record_and_the_outcome_stands():
    for kind in ("lead", "mql", "sql"):
        won = derive_deal_state([ev(1, "opportunity", 0), ev(2, "deal-won", 3, amount_minor=1),
                                 ev(3, kind, 8, user_id="rep:unassigned")])
        assert (won.outcome, won.stage, won.won_at) == ("won", "won", T0 + timedelta(days=3))
        assert won.stage_at[Stage(kind)] == T0  # pulled back to the opportunity (the start)
        assert won.owner_id == "U1"  # a late record does not take the deal over
        lost = derive_deal_state([ev(1, "deal-lost", 3, reason="price"), ev(2, kind, 8)])
        assert (lost.outcome, lost.stage, lost.reason) == ("lost", "lost", "price")
        assert lost.stage_at[Stage(kind)] == T0 + timedelta(days=3)  # no later than the close


def test_a_stage_at_opportunity_or_later_after_the_close_reopens():
    for kind, stage in (("opportunity", "opportunity"), ("demo-booked", "demo")):
        state = derive_deal_state([ev(1, "deal-lost", 3), ev(2, kind, 8)])
        assert (state.outcome, state.stage) == ("open", stage)


def test_a_date_only_lead_on_the_day_of_the_win_comes_before_it():
    """Stored at local noon, a date-only lead is after a 02:00 win by the clock; a deal's
    events on one day are taken in funnel order, so the deal is won (SPEC 5)."""
    noon = datetime(2026, 5, 5, 10, tzinfo=UTC)  # 12:00 in Oslo (UTC+2)
    won_at = datetime(2026, 5, 5, 0, 30, tzinfo=UTC)  # 02:30 in Oslo, the same local day
    events = [DealEvent(1, "deal-won", won_at, "U1"),
              DealEvent(2, "lead", noon, "rep:unassigned", source="organic")]
    state = derive_deal_state(events, ZoneInfo("Europe/Oslo"))
    assert (state.outcome, state.won_at, state.owner_id) == ("won", won_at, "U1")
    assert state.stage_at[Stage.LEAD] == won_at and state.first_event_at == won_at
    assert state.source == "organic"
    # In UTC the two are on different days (4 and 5 May): then the lead is a late record.
    assert derive_deal_state(events).outcome == "won"


def test_one_days_events_are_taken_in_funnel_order_whatever_their_clock_times():
    day = datetime(2026, 5, 5, tzinfo=UTC)
    events = [DealEvent(1, "demo-booked", day + timedelta(hours=1), "U1"),
              DealEvent(2, "opportunity", day + timedelta(hours=9), "U1"),
              DealEvent(3, "lead", day + timedelta(hours=12), "U2"),
              DealEvent(4, "deal-lost", day + timedelta(hours=3), "U1", reason="timing")]
    state = derive_deal_state(events)
    assert (state.outcome, state.reason) == ("lost", "timing")
    assert state.owner_id == "U1"
    assert [state.stage_at[s] for s in (Stage.LEAD, Stage.OPPORTUNITY, Stage.DEMO)] == [
        day + timedelta(hours=1)] * 3


def test_backdated_later_stage_pulls_earlier_stages_back():
    state = derive_deal_state([ev(1, "mql", 5), ev(2, "opportunity", 2)])
    assert state.stage_at[Stage.MQL] == T0 + timedelta(days=2)
    assert state.stage_at[Stage.OPPORTUNITY] == T0 + timedelta(days=2)
    assert state.stage == "opportunity"


def test_activity_only_deal_has_no_stage():
    state = derive_deal_state([ev(1, "meeting-held", 0)])
    assert state.stage is None and state.outcome == "open" and state.stage_at == {}


def test_a_second_win_restates_the_first():
    """Wins in a row are one win: won when first won, for the latest amount (and MRR)."""
    first = [ev(1, "lead", 0), ev(2, "deal-won", 5, amount_minor=1_200_000, currency="USD",
                                  mrr_minor=100_000)]
    again = ev(3, "deal-won", 40, amount_minor=1_500_000, currency="USD")
    state = derive_deal_state([*first, again])
    assert state.outcome == "won" and state.stage == "won"
    assert state.won_at == state.closed_at == state.stage_changed_at == T0 + timedelta(days=5)
    assert state.stage_at[Stage.WON] == T0 + timedelta(days=5)
    assert state.amount_minor == 1_500_000 and state.mrr_minor == 100_000
    # a later win without an amount keeps the known one
    state = derive_deal_state([*first, ev(3, "deal-won", 40)])
    assert state.amount_minor == 1_200_000
    # without the second (undone): the first, unchanged
    assert derive_deal_state(first).amount_minor == 1_200_000
    # a win after a reopening stage is a new win, at its own time
    state = derive_deal_state([*first, ev(3, "opportunity", 20), again])
    assert state.won_at == T0 + timedelta(days=40) and state.amount_minor == 1_500_000


def test_an_event_that_changes_only_the_name_changes_nothing_when_it_repeats_it():
    """`changes_only_the_name` (storage/deals.py stamps such a deal instead of deriving it
    again): over many seeded histories, at any place in time, an event it accepts that repeats
    the deal's name leaves the whole state equal; one it refuses may change it."""
    rng = random.Random(18)
    kinds = sorted(KINDS)
    zone = ZoneInfo("Europe/Oslo")
    refused_changed = 0
    for history in range(400):
        events = [ev(i, rng.choice(kinds), rng.uniform(0, 40), rng.choice(("U1", "U2")),
                     deal_name=rng.choice((None, "Acme", "acme")),
                     source=rng.choice((None, None, "web")),
                     account_key=rng.choice((None, None, "acct")),
                     amount_minor=rng.choice((None, 1000)))
                  for i in range(rng.randint(1, 8))]  # a deal row has events
        before = derive_deal_state(events, zone)
        name = before.name or "acme"  # the row's name: the state's, else the deal's key
        kind = rng.choice(kinds)
        source, account = rng.choice((None, "web")), rng.choice((None, "acct"))
        new = ev(100 + history, kind, rng.uniform(0, 45), rng.choice(("U1", "U3")),
                 deal_name=name, source=source,
                 account_key=account)
        after = derive_deal_state([*events, new], zone)
        latest = max(events, key=lambda e: (e.occurred_at, e.id)).user_id
        owner = before.owner_id or latest  # the row's owner (storage/deals.py)
        if changes_only_the_name(kind, account_key=account, source=source) and (
                before.owner_id is not None or new.user_id == owner):
            assert dataclasses.replace(after, name=after.name or "acme") == \
                dataclasses.replace(before, name=name), (events, new)
        elif after != before:
            refused_changed += 1
    assert refused_changed > 50  # the refused ones do change states: the test can see it

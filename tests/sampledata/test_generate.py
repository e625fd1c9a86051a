"""The generated history: deterministic, about the size asked for, plausible, valid, loadable."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from reports.events import KINDS, LEAD_SOURCES
from sampledata import generate_history, history_days, seed_workspace, team_size
from storage.models import DailyRollup, Deal, Event, User, Workspace

END = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TZ = "Europe/Oslo"


@cache
def _events(target: int = 5_000, seed: int = 7, tz: str = TZ) -> tuple:
    history = generate_history(workspace_id="slack:TGEN", target_events=target, end=END,
                               seed=seed, timezone=tz)
    return tuple(history.events)


def _totals(events) -> Counter:
    totals: Counter = Counter()
    for e in events:
        totals[e.kind] += e.count
    return totals


def test_same_seed_same_events_and_another_seed_others():
    first = generate_history(workspace_id="w", target_events=3_000, end=END, seed=11)
    again = generate_history(workspace_id="w", target_events=3_000, end=END, seed=11)
    other = generate_history(workspace_id="w", target_events=3_000, end=END, seed=12)
    events = first.event_list()
    assert events == again.event_list()
    assert events == first.event_list()  # every pass over one history is the same
    assert events != other.event_list()
    assert first.reps == again.reps and first.quotas == again.quotas
    assert [e.idempotency_key for e in events[:3]] == ["gen:11:0", "gen:11:1", "gen:11:2"]


@pytest.mark.parametrize("target", [2_000, 5_000, 20_000])
def test_size_is_close_to_the_target(target):
    history = generate_history(workspace_id="w", target_events=target, end=END, timezone=TZ)
    count = sum(1 for _ in history.events)
    assert abs(count - target) <= target * 0.10
    assert history.last_run.emitted == count


def test_team_and_history_length_scale_with_size():
    assert team_size(10_000) == 6 and team_size(1_000_000) == 16 and team_size(10**8) == 40
    assert 150 <= history_days(10_000) <= 200  # ≈ 6 months
    assert 1_000 <= history_days(1_000_000) <= 1_200  # ≈ 3 years
    history = generate_history(workspace_id="w", target_events=10_000, end=END)
    roles = Counter(rep.role for rep in history.team)
    assert roles["sdr"] >= 2 and roles["ae"] >= 3
    assert len({user for user, _ in history.reps}) == len(history.reps) == 6
    assert history.start.date() <= (END - timedelta(days=history.days - 1)).date()


def test_events_are_chronological_tz_aware_and_inside_the_history():
    events = _events()
    assert all(e.occurred_at.tzinfo is not None for e in events)
    instants = [e.occurred_at for e in events]
    assert instants == sorted(instants)
    assert instants[-1] < END
    assert instants[0] >= END - timedelta(days=history_days(5_000) + 1)
    keys = [e.idempotency_key for e in events]
    assert len(set(keys)) == len(keys)


def test_outreach_ratios_are_plausible():
    totals = _totals(_events())
    delivered = totals["email-delivered"]
    assert 0.94 <= delivered / totals["email-sent"] <= 0.99
    assert 0.30 <= totals["email-opened"] / delivered <= 0.60
    assert 0.03 <= totals["email-clicked"] / delivered <= 0.10
    assert 0.01 <= totals["email-replied"] / delivered <= 0.06
    assert 0.01 <= totals["email-bounced"] / totals["email-sent"] <= 0.04
    assert totals["spam-complaint"] / delivered < 0.01
    assert 0.15 <= totals["call-connected"] / totals["call"] <= 0.35
    assert totals["connection-accepted"] < totals["connection-sent"]
    assert 0.30 <= totals["website-bounce"] / totals["website-visit"] <= 0.60


def test_funnel_ratios_are_plausible():
    events = _events()
    totals = _totals(events)
    assert 0.60 <= totals["meeting-held"] / totals["meeting-booked"] <= 0.95
    # Most losses are leads disqualified early (no response, unqualified), so won / (won +
    # lost) over every deal is low; deals that reached an opportunity win 15-50% of the time.
    outcome = {e.deal_key: e.kind for e in events if e.kind in ("deal-won", "deal-lost")}
    pipeline = {e.deal_key for e in events if e.kind in ("opportunity", "demo-booked")}
    won = sum(1 for deal in pipeline if outcome.get(deal) == "deal-won")
    lost = sum(1 for deal in pipeline if outcome.get(deal) == "deal-lost")
    assert won >= 5 and 0.15 <= won / (won + lost) <= 0.50
    assert totals["deal-lost"] > totals["deal-won"]
    assert 0.30 <= totals["mql"] / totals["lead"] <= 0.60
    assert totals["lead"] > totals["mql"] > totals["sql"] > totals["opportunity"] > won
    sources = Counter(e.source for e in events if e.kind == "lead")
    assert set(sources) <= set(LEAD_SOURCES) and len(sources) >= 6
    amounts = sorted(e.amount_minor for e in events if e.kind == "deal-won")
    median = amounts[len(amounts) // 2]
    assert 5_000_00 <= median <= 40_000_00
    with_mrr = [e for e in events if e.kind == "deal-won" and e.mrr_minor]
    assert len(with_mrr) >= len(amounts) // 2
    durations = sorted(e.duration_seconds for e in events if e.kind == "inbound-responded")
    assert 60 <= durations[len(durations) // 2] <= 10 * 60


def test_deals_have_unique_keys_names_and_one_lead_each():
    events = _events()
    leads = Counter(e.deal_key for e in events if e.kind == "lead")
    assert leads and max(leads.values()) == 1
    for e in events:
        if e.deal_key is not None:
            assert re.fullmatch(r"[a-z-]+-\d{5,}", e.deal_key)
            assert e.deal_name.casefold() == e.deal_key
    first_seen: dict[str, str] = {}
    for e in events:
        if e.deal_key is not None:
            first_seen.setdefault(e.deal_key, e.kind)
    assert set(first_seen.values()) == {"lead"}


def test_deal_stories_include_skips_reopens_churn_and_mrr_changes():
    events = _events(60_000)  # a year: long enough for customers to churn
    by_deal: dict[str, list] = {}
    for e in events:
        if e.deal_key:
            by_deal.setdefault(e.deal_key, []).append(e.kind)
    skipped = sum(1 for kinds in by_deal.values() if "sql" in kinds and "mql" not in kinds)
    reopened = sum(1 for kinds in by_deal.values()
                   if "deal-lost" in kinds and "opportunity" in kinds[kinds.index("deal-lost"):])
    assert skipped > 0 and reopened > 0
    totals = _totals(events)
    for kind in ("churned", "mrr-change", "spend", "demo-request", "demo-request-replied",
                 "discovery-booked", "demo-held", "proposal", "inbound-request",
                 "inbound-responded", "cta-click", "social-engagement",
                 "connection-replied"):
        assert totals[kind] > 0, kind
    losses = Counter(e.reason for e in events if e.kind == "deal-lost")
    assert {"price", "timing", "no-decision", "competitor"} <= set(losses)
    assert all(e.competitor for e in events if e.kind == "deal-lost" and e.reason == "competitor")


def test_working_days_and_hours_in_the_workspace_time_zone():
    events = _events(tz="America/New_York")
    zone = ZoneInfo("America/New_York")
    local = [e.occurred_at.astimezone(zone) for e in events if e.kind in ("call", "email-sent")]
    weekend = sum(1 for t in local if t.weekday() >= 5)
    assert weekend / len(local) < 0.08
    in_hours = sum(1 for t in local if 7 <= t.hour < 22)
    assert in_hours == len(local)


def test_every_event_follows_the_event_rules():
    for e in _events(20_000):
        kind = KINDS[e.kind]
        assert e.count >= 1
        if kind.amount == "none":
            assert e.amount_minor is None and e.currency is None
        else:
            assert (e.amount_minor is not None) == (e.currency == "USD")
        if kind.amount == "required":
            assert e.amount_minor is not None and e.amount_minor > 0
        if kind.needs_deal:
            assert e.deal_key
        assert (e.duration_seconds is not None) == kind.duration
        if kind.amount != "none" or kind.duration:
            assert e.count == 1
        if e.mrr_minor is not None:
            assert e.kind in ("deal-won", "churned") and e.mrr_minor > 0
        if e.reason is not None:
            assert e.kind in ("deal-lost", "churned")
        if e.competitor is not None:
            assert e.kind == "deal-lost"
        if e.source is not None:
            assert e.kind in ("lead", "spend", "mql", "sql", "opportunity", "inbound-request",
                              "website-visit")
            assert e.source in LEAD_SOURCES


def _command_text(e) -> str:
    parts = ["log", e.kind]
    if e.deal_name:
        parts.append(e.deal_name)
    if e.count != 1:
        parts.append(f"{e.count}x")
    if e.amount_minor is not None:
        parts.append(str(e.amount_minor // 100))
    if e.duration_seconds is not None:
        parts.append(f"{e.duration_seconds}s")
    if e.mrr_minor is not None:
        parts.append(f"mrr={e.mrr_minor // 100}")
    for option in ("source_raw", "reason", "competitor"):
        value = getattr(e, option)
        if value is not None:
            parts.append(f"{option.removesuffix('_raw')}={value}")
    return " ".join(parts)


def test_every_event_is_what_the_log_command_would_store():
    try:  # the grammar's amount/period helpers are written in parallel
        from bot.grammar import LogCommand, parse_command

        parse_command("log call 2", today=date(2026, 11, 23), currency="USD")
    except (ImportError, NotImplementedError):
        pytest.skip("reports.units / reports.periods are not implemented yet")
    seen = set()
    for e in _events(20_000):
        shape = (e.kind, e.count != 1, e.amount_minor is not None and e.amount_minor < 0,
                 e.source_raw, e.reason, e.competitor is not None, e.mrr_minor is not None)
        if shape in seen and e.deal_name and len(seen) > 40:
            continue
        seen.add(shape)
        command = parse_command(_command_text(e), today=date(2026, 11, 23), currency="USD")
        assert isinstance(command, LogCommand)
        assert (command.kind, command.deal_key, command.count, command.amount_minor,
                command.currency, command.duration_seconds, command.mrr_minor, command.source,
                command.source_raw, command.reason, command.competitor) == (
            e.kind, e.deal_key, e.count, e.amount_minor, e.currency, e.duration_seconds,
            e.mrr_minor, e.source, e.source_raw, e.reason, e.competitor), _command_text(e)


def test_quotas_cover_every_rep():
    history = generate_history(workspace_id="w", target_events=50_000, end=END)
    by_user = {user: (metric, cadence, target) for user, metric, cadence, target
               in history.quotas}
    assert set(by_user) == {rep.user_id for rep in history.team}
    for rep in history.team:
        metric, cadence, target = by_user[rep.user_id]
        assert cadence == "monthly" and target > 0
        assert metric == ("demo-booked" if rep.role == "sdr" else "revenue")


def test_seed_workspace_loads_everything_once(database):
    progress: list[tuple[int, int]] = []
    stats = seed_workspace(database=database, workspace_id="slack:TGEN", target_events=2_500,
                           end=END, timezone=TZ, currency="usd", batch_size=1_000,
                           progress=lambda done, target: progress.append((done, target)))
    history = generate_history(workspace_id="slack:TGEN", target_events=2_500, end=END,
                               timezone=TZ)
    events = history.event_list()
    assert stats["events"] == stats["generated"] == len(events)
    assert stats["deals"] == sum(1 for e in events if e.kind == "lead")
    assert stats["seconds"] > 0 and stats["events_per_second"] > 0
    assert [done for done, _ in progress][-1] == len(events)
    assert len(progress) == -(-len(events) // 1_000)

    with database.read() as session:
        workspace = session.get(Workspace, "slack:TGEN")
        assert (workspace.timezone, workspace.currency) == (TZ, "USD")
        stored = session.scalars(select(sa.func.count()).select_from(Event)).one()
        deals = session.scalars(select(sa.func.count()).select_from(Deal)).one()
        won = session.scalars(select(sa.func.count()).select_from(Deal).where(
            Deal.outcome == "won")).one()
        users = session.scalars(select(User.id)).all()
        rollup_rows = session.scalars(select(sa.func.sum(DailyRollup.events))).one()
        rollup_count = session.scalars(select(sa.func.sum(DailyRollup.count_sum))).one()
    assert stored == len(events) and rollup_rows == len(events)
    assert rollup_count == sum(e.count for e in events)
    assert deals == stats["deals"] and won > 0
    assert set(users) == {user for user, _ in history.users}

    again = seed_workspace(database=database, workspace_id="slack:TGEN", target_events=2_500,
                           end=END, timezone=TZ, currency="USD", batch_size=1_000)
    assert again["events"] == 0 and again["generated"] == len(events)
    with database.read() as session:
        assert session.scalars(select(sa.func.count()).select_from(Event)).one() == len(events)
        assert session.scalars(select(sa.func.count()).select_from(Deal)).one() == deals


def test_seed_workspace_sets_quotas_when_the_quota_store_exists(database):
    if importlib.util.find_spec("storage.quotas") is None:
        pytest.skip("storage.quotas is not there yet")
    stats = seed_workspace(database=database, workspace_id="slack:TGEN", target_events=2_000,
                           end=END, timezone=TZ)
    history = generate_history(workspace_id="slack:TGEN", target_events=2_000, end=END,
                               timezone=TZ)
    assert stats["quotas"] == len(history.quotas) == len(history.reps)

"""A history described (team, quotas, days) and its events, generated lazily on each pass."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sampledata.run import HistoryRun
from sampledata.story import (
    DEAL_SHARE,
    EVENTS_PER_LEAD,
    MANAGER_ID,
    MARKETING_ID,
    Rep,
    history_days,
    make_team,
    team_size,
)
from storage.recording import NewEvent


@dataclass
class GeneratedHistory:
    """A generated history: the team, its quotas, and its events (a fresh iterator per use)."""

    workspace_id: str
    timezone: str
    currency: str
    seed: int
    target_events: int
    start: datetime  # local midnight of the first day, as UTC
    end: datetime  # every event is before this instant
    days: int
    team: list[Rep]
    quotas: list[tuple[str, str, str, int]]  # (user_id, metric, cadence, target)
    _params: dict = field(repr=False)
    last_run: HistoryRun | None = field(default=None, repr=False)

    @property
    def reps(self) -> list[tuple[str, str]]:
        return [(r.user_id, r.display_name) for r in self.team]

    @property
    def users(self) -> list[tuple[str, str]]:
        """Every user the history credits events to: the reps, the manager, marketing."""
        return [*self.reps, (MANAGER_ID, "Sales Manager"), (MARKETING_ID, "Marketing Ops")]

    @property
    def events(self) -> Iterator[NewEvent]:
        """The events in chronological order, generated lazily (a new pass on each access)."""
        run = HistoryRun(self)
        self.last_run = run
        return run.events()

    def __iter__(self) -> Iterator[NewEvent]:
        return self.events

    def event_list(self) -> list[NewEvent]:
        return list(self.events)

    def chunks(self, size: int) -> Iterator[list[NewEvent]]:
        """The events in chronological lists of at most `size`."""
        events = self.events
        while chunk := list(itertools.islice(events, size)):
            yield chunk


def generate_history(
    *,
    workspace_id: str,
    target_events: int,
    end: datetime,
    seed: int = 7,
    reps: int | None = None,
    timezone: str = "UTC",
    currency: str = "USD",
) -> GeneratedHistory:
    """Describe a history of about `target_events` events ending just before `end`."""
    if end.tzinfo is None:
        raise ValueError("end must be tz-aware")
    if target_events < 1:
        raise ValueError("target_events must be positive")
    tz = ZoneInfo(timezone)
    end = end.astimezone(UTC)
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    days = history_days(target_events)
    first_day = last_day - timedelta(days=days - 1)
    rng = random.Random(f"team:{seed}")
    team = make_team(rng, reps if reps is not None else team_size(target_events))
    currency = currency.upper()

    # Expected volumes, for quotas that a good rep meets and an average one nearly does.
    leads = DEAL_SHARE * target_events / EVENTS_PER_LEAD
    months = days / 30.44
    win_share = 0.45 * 0.60 * 0.70 * 0.75 * 0.31
    mean_amount = 15_000 * math.exp(0.6**2 / 2)
    aes = [r for r in team if r.role == "ae"]
    sdrs = [r for r in team if r.role == "sdr"]
    revenue_quota = leads / months * win_share * mean_amount / max(len(aes), 1) * 1.1
    revenue_quota = max(1_000, round(revenue_quota, -3))
    demo_quota = max(1, round(leads / months * 0.45 * 0.60 * 0.70 * 0.75 / max(len(sdrs), 1)))
    quotas = [(r.user_id, "revenue", "monthly", int(revenue_quota) * 100) for r in aes]
    quotas += [(r.user_id, "demo-booked", "monthly", demo_quota) for r in sdrs]

    start = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    return GeneratedHistory(
        workspace_id=workspace_id, timezone=timezone, currency=currency, seed=seed,
        target_events=target_events, start=start, end=end, days=days, team=team, quotas=quotas,
        _params={"first_day": first_day, "tz": tz},
    )


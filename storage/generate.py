"""A realistic, deterministic history of a sales team, for the demo, the tests and the benchmark.

`generate_history(...)` describes the team (reps, quotas) and yields the events lazily, in
chronological order, one workspace-local day at a time, so a million events never sit in memory.
`seed_workspace(...)` writes a history into a database in batches (one write transaction each).

The shape of the history (everything drawn from `random.Random(seed)`; same arguments, same events):

- A team of `min(40, target_events // 100_000 + 6)` reps, about 40% SDRs and 60% AEs, plus a
  sales manager (spend, quotas) and a marketing user (web totals). History length grows with size:
  10k events ≈ 6 months, 1M events ≈ 3 years (≈ 1,000 events a day), ending at `end`.
- Working days weigh far more than weekends; events fall in working hours of the workspace time
  zone (some in the evening), and the volume grows slowly over the history.
- Outreach is logged in sessions with counts: email-sent → delivered ≈97% (bounced ≈2%, spam
  rare) → opened ≈45% / clicked ≈6% / replied ≈3% of delivered; calls with ≈25% connected;
  LinkedIn connection-sent → accepted ≈30% → replied ≈25% of accepted.
- Web: daily totals (visits per source, bounces ≈45%, CTA clicks ≈3%, social engagement).
- Deals `word-00042` ("Acme-00042") flow lead → mql (≈45%) → sql (≈60%) → opportunity (≈70%)
  → demo-booked (≈75%) → won (≈36% of held demos) / lost (reason price/timing/no-decision/
  competitor, with competitors), stage delays lognormal (days to weeks), some stages skipped, a
  few lost deals reopened. Like a real team's, every deal ends: one that stops short of a stage
  is closed lost days later (`DROP`: unworked leads and MQLs disqualified by the SDR within
  about a week or two, "no-response"/"unqualified"; later stages lost by the AE; so is one
  whose next stage would take over `PATIENCE_DAYS`), and a demo whose buyer goes quiet is given
  up after about `DARK_DAYS`. So the open pipeline is the
  recent deals, and stalled deals (idle past their stage's threshold) are a minority of it.
  Leads carry a source from the SPEC list; inbound leads start with an inbound-request
  (answered in minutes, sometimes hours) or a demo-request (answered, skips mql). SQLs get
  discovery calls and meetings (show rate ≈80%), demos are held ≈85% of the time, proposals sent.
- Wins carry an amount (lognormal around 15k) and, on most, `mrr=` (amount / 12). Customers with
  MRR churn at ≈2% a month and have upgrades/downgrades (`mrr-change`) meanwhile.
- Marketing spend per source on the first working day of each month.

Every generated event passes the command grammar's rules: amounts only on kinds that take one,
a deal on every kind that needs one, `source=` / `reason=` / `competitor=` / `mrr=` only where
the grammar accepts them, counts >= 1. Idempotency keys are `gen:{seed}:{n}` (n = position in
the history), so seeding the same history twice adds nothing.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import math
import random
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.engine import Database
from storage.models import Workspace
from storage.recording import NewEvent, record_events
from storage.workspaces import ensure_user, ensure_workspace

DAY = 86_400
HOUR = 3_600

# Share of the event budget that deals (and what hangs off them) take; outreach fills the rest.
DEAL_SHARE = 0.20
# Average number of events one lead produces over its life (measured on generated histories).
EVENTS_PER_LEAD = 4.3

LEAD_SOURCE_WEIGHTS: tuple[tuple[str, float, float], ...] = (
    # (source, share of leads, conversion multiplier)
    ("organic", 0.22, 1.0),
    ("direct", 0.10, 1.1),
    ("paid-search", 0.16, 0.8),
    ("social", 0.10, 0.75),
    ("email", 0.12, 0.9),
    ("referral", 0.10, 1.45),
    ("partner", 0.08, 1.3),
    ("display", 0.07, 0.7),
    ("other", 0.05, 0.9),
)
INBOUND_SOURCES = frozenset({"organic", "direct", "paid-search", "social", "display"})
OTHER_SOURCE_TEXT = ("webinar", "conference", "trade-show", "podcast")
SPEND_PER_MONTH: tuple[tuple[str, int, int], ...] = (
    # (source, low, high) in major units for a team of 6; scaled with the team
    ("paid-search", 4_000, 9_000),
    ("display", 1_000, 3_500),
    ("social", 1_500, 4_000),
    ("email", 300, 1_200),
    ("partner", 1_000, 3_000),
    ("other", 500, 2_500),
)
WEB_SOURCES: tuple[tuple[str, float], ...] = (
    ("organic", 0.45), ("direct", 0.25), ("paid-search", 0.18), ("social", 0.12),
)
LOSS_REASONS: tuple[tuple[str, float], ...] = (
    ("price", 0.30), ("timing", 0.20), ("no-decision", 0.30), ("competitor", 0.20),
)
# A deal that stops short of a stage is closed lost some days later: (median days, reasons).
DROP: dict[str, tuple[float, tuple[tuple[str, float], ...]]] = {
    "mql": (6.0, (("no-response", 0.6), ("unqualified", 0.4))),  # unworked leads
    "sql": (7.0, (("unqualified", 0.5), ("no-response", 0.3), ("timing", 0.2))),
    "opportunity": (9.0, (("no-decision", 0.4), ("timing", 0.3), ("unqualified", 0.3))),
    "demo-booked": (10.0, (("no-decision", 0.6), ("timing", 0.4))),
}
PATIENCE_DAYS = 21  # a deal whose next stage would take longer is closed lost instead (DROP)
DARK_DAYS = 32.0  # a demo whose buyer went quiet is given up after about this long
COMPETITORS = ("northwind", "contoso", "fabrikam", "tailspin", "globomantics")
CHURN_REASONS = ("budget", "switched", "no-usage", "closed-down")
COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "soylent", "tyrell", "wonka",
    "cyberdyne", "stark", "wayne", "gringotts", "oscorp", "massive", "nakatomi", "duff", "krusty",
    "monarch", "pied-piper", "aperture", "black-mesa", "blue-sun", "dunder", "sterling", "lacuna",
    "virtucon", "wernham", "bluth", "prestige", "octan", "zorg", "weyland", "sirius", "yoyodyne",
    "ollivander", "kwik-e", "spacely", "cogswell", "genco",
)
FIRST_NAMES = (
    "Ingrid", "Lars", "Maja", "Ola", "Sofia", "Erik", "Nora", "Jonas", "Elena", "Andrei",
    "Ioana", "Mihai", "Li", "Wei", "Mei", "Anna", "Johan", "Astrid", "Karin", "Nils", "Priya",
    "Sam", "Alex", "Maria", "David", "Sara", "Tom", "Emma", "Lucas", "Olivia",
)
LAST_NAMES = (
    "Berg", "Hansen", "Lindqvist", "Johansson", "Popescu", "Ionescu", "Chen", "Wang", "Nilsen",
    "Larsen", "Dumitru", "Svensson", "Olsen", "Haugen", "Zhang", "Patel", "Moreno", "Smith",
    "Brown", "Novak",
)

# Bumped whenever the same arguments generate a different history, so that cached copies
# (the benchmark's) are generated again. 2: every deal ends (DROP, PATIENCE_DAYS, DARK_DAYS).
STORY_VERSION = 2

MANAGER_ID = "UGENMGR"
MARKETING_ID = "UGENMKT"
CHANNEL_ID = "CGENSALES"


def history_days(target_events: int) -> int:
    """Days of history for a target size: 10k ≈ 182 days, 1M ≈ 1,097 days (a power law)."""
    days = 182 * (max(target_events, 1) / 10_000) ** 0.39
    return int(min(max(days, 28), 5 * 365))


def team_size(target_events: int) -> int:
    return min(40, target_events // 100_000 + 6)


@dataclass(frozen=True)
class Rep:
    user_id: str
    display_name: str
    role: str  # "sdr" | "ae"
    activity: float  # relative busyness


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
    last_run: _Run | None = field(default=None, repr=False)

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
        run = _Run(self)
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
    team = _team(rng, reps if reps is not None else team_size(target_events))
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


def _team(rng: random.Random, size: int) -> list[Rep]:
    size = max(2, size)
    sdrs = max(1, round(size * 0.4))
    names: set[str] = set()
    team = []
    for i in range(size):
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if name not in names:
                names.add(name)
                break
        role = "sdr" if i < sdrs else "ae"
        team.append(Rep(f"UGEN{i + 1:03d}", name, role, rng.lognormvariate(0, 0.25)))
    return team


# A scheduled event: (day index, second of the local day, sequence, payload).
# payload: (kind, user, count, amount, duration, mrr, deal id, source, source_raw, reason,
#           competitor)
_Payload = tuple


class _Run:
    """One pass over a history. All randomness comes from one `random.Random(seed)`."""

    def __init__(self, history: GeneratedHistory) -> None:
        self.h = history
        self.rng = random.Random(history.seed)
        self.tz: ZoneInfo = history._params["tz"]
        self.first_day: date = history._params["first_day"]
        self.n_days = history.days
        self.heap: list[tuple[int, int, int, _Payload]] = []
        self.seq = itertools.count()
        self.deal_names: dict[int, tuple[str, str]] = {}
        self.next_deal = 1
        self.emitted = 0
        self.deals = 0
        self.sdrs = [r for r in history.team if r.role == "sdr"]
        self.aes = [r for r in history.team if r.role == "ae"]
        self._sdr_w = list(itertools.accumulate(r.activity for r in self.sdrs))
        self._ae_w = list(itertools.accumulate(r.activity for r in self.aes))
        self._src_w = list(itertools.accumulate(w for _, w, _ in LEAD_SOURCE_WEIGHTS))
        self._src_mult = {s: m for s, _, m in LEAD_SOURCE_WEIGHTS}
        self._reason_w = list(itertools.accumulate(w for _, w in LOSS_REASONS))
        self.scale = len(history.team) / 6
        # The UTC instant of each local day's midnight, via local noon (exact in working hours).
        self.base: list[datetime] = []
        self.weekday: list[int] = []
        for i in range(self.n_days):
            day = self.first_day + timedelta(days=i)
            noon = datetime.combine(day, time(12), tzinfo=self.tz).astimezone(UTC)
            self.base.append(noon - timedelta(hours=12))
            self.weekday.append(day.weekday())
        end_local = history.end.astimezone(self.tz)
        last = self.n_days - 1
        self.last_limit = int((history.end - self.base[last]).total_seconds())
        if end_local.date() != self.first_day + timedelta(days=last):
            self.last_limit = DAY
        self.weights = [self._day_weight(i) for i in range(self.n_days)]
        self.total_weight = sum(self.weights)

    # --- calendar and time helpers -----------------------------------------------------

    def _day_weight(self, i: int) -> float:
        growth = 0.85 + 0.3 * i / max(self.n_days - 1, 1)
        wd = self.weekday[i]
        return growth * (1.0 if wd < 5 else 0.10 if wd == 5 else 0.06)

    def _work_sec(self) -> int:
        r = self.rng.random()
        if r < 0.88:
            return int(8 * HOUR + self.rng.random() * 10 * HOUR)
        if r < 0.97:
            return int(18 * HOUR + self.rng.random() * 4 * HOUR)
        return int(7 * HOUR + self.rng.random() * HOUR)

    def _after(self, day: int, sec: int, median_days: float, sigma: float) -> tuple[int, int]:
        """A moment `lognormal(median_days, sigma)` days after (day, sec), in working time."""
        delay = self.rng.lognormvariate(math.log(median_days), sigma)
        if delay < 1.0:
            new_day, new_sec = day, sec + 60 + int(delay * 9 * HOUR)
            if new_sec >= 22 * HOUR:
                new_day, new_sec = day + 1, self._work_sec()
        else:
            new_day = day + round(delay)
            wd = (self.weekday[0] + new_day) % 7
            if wd >= 5 and self.rng.random() < 0.9:
                new_day += 7 - wd
            new_sec = self._work_sec()
        if (new_day, new_sec) <= (day, sec):
            new_day, new_sec = day, sec + 300
        return new_day, new_sec

    def _after_seconds(self, day: int, sec: int, seconds: int) -> tuple[int, int]:
        total = sec + max(1, seconds)
        return day + total // DAY, total % DAY

    def _clamp(self, day: int, sec: int) -> int:
        """On the last day, move a working-hours moment to before `end` (if that is possible
        within working hours; otherwise the moment stays and the event is dropped)."""
        limit = self.last_limit
        if day == self.n_days - 1 and sec >= limit > 7 * HOUR + 60:
            return int(7 * HOUR + self.rng.random() * (limit - 7 * HOUR - 1))
        return sec

    def _push(self, day: int, sec: int, payload: _Payload) -> None:
        if day < self.n_days and (day < self.n_days - 1 or sec < self.last_limit):
            heapq.heappush(self.heap, (day, sec, next(self.seq), payload))

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _binomial(self, n: int, p: float) -> int:
        if n <= 0 or p <= 0:
            return 0
        if n * p >= 12:
            sd = math.sqrt(n * p * (1 - p))
            return min(n, max(0, round(self.rng.gauss(n * p, sd))))
        # Waiting-time method: exact, O(n * p).
        log_q = math.log1p(-p)
        k, pos = 0, 0
        while True:
            pos += int(math.log(1.0 - self.rng.random()) / log_q) + 1
            if pos > n:
                return k
            k += 1

    def _pick(self, reps: list[Rep], cum: list[float]) -> Rep:
        return self.rng.choices(reps, cum_weights=cum)[0]

    # --- the day loop ------------------------------------------------------------------

    def events(self) -> Iterator[NewEvent]:
        h = self.h
        target = h.target_events
        cumulative = 0.0
        lead_unit = DEAL_SHARE * target / self.total_weight / EVENTS_PER_LEAD
        month = None
        for i in range(self.n_days):
            weight = self.weights[i]
            cumulative += weight
            wd = self.weekday[i]
            for _ in range(self._poisson(lead_unit * (weight if wd < 5 else weight * 2.5))):
                self._new_deal(i)
            day_date = self.first_day + timedelta(days=i)
            if wd < 5 and day_date.month != month:
                month = day_date.month
                self._spend(i)
            self._web(i)
            todays = []
            while self.heap and self.heap[0][0] <= i:
                todays.append(heapq.heappop(self.heap))
            need = round(target * cumulative / self.total_weight) - self.emitted - len(todays)
            if i == self.n_days - 1 and self.last_limit < 8 * HOUR:
                need = 0  # the last day's working hours have not begun
            if need > 0:
                todays.extend(self._outreach(i, need))
            rows = []
            base = self.base[i]
            for _day, sec, seq, payload in todays:
                if sec < 4 * HOUR:  # exact around the DST switch
                    local = datetime.combine(day_date, time(0), tzinfo=self.tz)
                    at = (local.replace(tzinfo=None) + timedelta(seconds=sec)).replace(
                        tzinfo=self.tz).astimezone(UTC)
                else:
                    at = base + timedelta(seconds=sec)
                if at >= h.end:
                    continue
                rows.append((at, seq, payload))
            rows.sort(key=lambda row: (row[0], row[1]))
            for at, _seq, payload in rows:
                yield self._event(at, payload)

    def _event(self, at: datetime, payload: _Payload) -> NewEvent:
        (kind, user, count, amount, duration, mrr, deal, source, source_raw, reason,
         competitor) = payload
        key = name = None
        if deal is not None:
            key, name = self.deal_names[deal]
        if kind == "lead":
            self.deals += 1
        n = self.emitted
        self.emitted += 1
        return NewEvent(
            kind=kind, user_id=user, logged_by=user, occurred_at=at,
            idempotency_key=f"gen:{self.h.seed}:{n}", count=count, amount_minor=amount,
            currency=self.h.currency if amount is not None else None,
            duration_seconds=duration, mrr_minor=mrr, deal_key=key, deal_name=name,
            channel_id=CHANNEL_ID, source=source, source_raw=source_raw, reason=reason,
            competitor=competitor,
        )

    # --- outreach, web, spend ----------------------------------------------------------

    def _outreach(self, i: int, need: int) -> list[tuple[int, int, int, _Payload]]:
        """Outreach sessions (rows with counts) until `need` rows are made."""
        rng = self.rng
        weekend = self.weekday[i] >= 5
        team = self.h.team
        if weekend:
            working = [r for r in team if rng.random() < 0.2] or [rng.choice(team)]
        else:
            working = [r for r in team if rng.random() < 0.97] or [rng.choice(team)]
        cum = list(itertools.accumulate(
            r.activity * (2.0 if r.role == "sdr" else 1.0) for r in working))
        out: list[tuple[int, int, int, _Payload]] = []
        seq = self.seq
        while len(out) < need:
            rep = rng.choices(working, cum_weights=cum)[0]
            user, sdr = rep.user_id, rep.role == "sdr"
            sec = self._clamp(i, self._work_sec())
            later = self._clamp(i, min(DAY - 60, sec + int(rng.uniform(0.5, 5) * HOUR)))
            r = rng.random()
            rows: list[tuple[int, str, int]] = []
            if r < 0.30:  # an email sequence step
                sent = rng.randint(15, 60) if sdr else rng.randint(5, 25)
                bounced = self._binomial(sent, 0.02)
                delivered = sent - bounced - self._binomial(sent - bounced, 0.01)
                rows += [(sec, "email-sent", sent), (sec + 30, "email-delivered", delivered),
                         (sec + 60, "email-bounced", bounced),
                         (later, "email-opened", self._binomial(delivered, 0.45)),
                         (later, "email-clicked", self._binomial(delivered, 0.06)),
                         (later, "email-replied", self._binomial(delivered, 0.03)),
                         (later, "spam-complaint", self._binomial(delivered, 0.001))]
            elif r < 0.76:  # a call block
                calls = rng.randint(6, 30) if sdr else rng.randint(3, 12)
                rows += [(sec, "call", calls),
                         (sec + 60, "call-connected", self._binomial(calls, 0.25))]
            else:  # LinkedIn
                sent = rng.randint(5, 25) if sdr else rng.randint(2, 10)
                accepted = self._binomial(sent, 0.30)
                rows += [(sec, "connection-sent", sent),
                         (later, "connection-accepted", accepted),
                         (later, "connection-replied", self._binomial(accepted, 0.25))]
            for at, kind, count in rows:
                if count > 0:
                    payload = (kind, user, count, None, None, None, None, None, None, None, None)
                    out.append((i, min(at, DAY - 1), next(seq), payload))
        return out

    def _web(self, i: int) -> None:
        """Daily web totals, logged late in the evening (not for an unfinished last day)."""
        if i == self.n_days - 1 and self.last_limit < DAY:
            return
        rng = self.rng
        weekend = self.weekday[i] >= 5
        visits = max(20, round(rng.gauss(320, 60) * self.scale * (0.45 if weekend else 1.0)
                               * (0.85 + 0.3 * i / max(self.n_days - 1, 1))))
        sec = 23 * HOUR + 50 * 60
        # Small histories log one visit total a day; larger ones split visits by source.
        by_source = self.h.target_events / self.n_days >= 150
        for source, share in WEB_SOURCES if by_source else ((None, 1.0),):
            count = self._binomial(visits, share) if source else visits
            if count:
                self._push(i, sec, ("website-visit", MARKETING_ID, count, None, None, None,
                                    None, source, source, None, None))
        for kind, share in (("website-bounce", 0.45), ("cta-click", 0.03)):
            count = self._binomial(visits, share)
            if count:
                self._push(i, sec, (kind, MARKETING_ID, count, None, None, None, None, None,
                                    None, None, None))
        social = max(0, round(rng.gauss(60, 20) * self.scale * (0.6 if weekend else 1.0)))
        if social:
            self._push(i, sec, ("social-engagement", MARKETING_ID, social, None, None, None,
                                None, None, None, None, None))

    def _spend(self, i: int) -> None:
        sec = 10 * HOUR
        for source, low, high in SPEND_PER_MONTH:
            amount = round(self.rng.uniform(low, high) * self.scale) * 100
            self._push(i, sec, ("spend", MANAGER_ID, 1, amount, None, None, None, source,
                                source, None, None))

    # --- deals -------------------------------------------------------------------------

    def _event_at(self, t: tuple[int, int], kind: str, user: str, deal: int, *,
                  amount: int | None = None, duration: int | None = None,
                  mrr: int | None = None, source: str | None = None,
                  source_raw: str | None = None, reason: str | None = None,
                  competitor: str | None = None) -> None:
        self._push(t[0], t[1], (kind, user, 1, amount, duration, mrr, deal, source,
                                source_raw or source, reason, competitor))

    def _response_seconds(self) -> int:
        if self.rng.random() < 0.12:
            return int(self.rng.lognormvariate(math.log(3 * HOUR), 0.7))
        return max(20, int(self.rng.lognormvariate(math.log(4 * 60), 0.6)))

    def _new_deal(self, i: int) -> None:
        rng = self.rng
        deal = self.next_deal
        self.next_deal += 1
        word = rng.choice(COMPANY_WORDS)
        name = f"{word.title()}-{deal:05d}"
        self.deal_names[deal] = (name.casefold(), name)
        weekend = self.weekday[i] >= 5
        sec = int(7 * HOUR + rng.random() * 16 * HOUR) if weekend else self._work_sec()
        t = (i, self._clamp(i, sec))
        sdr = self._pick(self.sdrs, self._sdr_w)
        ae = self._pick(self.aes, self._ae_w)
        index = rng.choices(range(len(LEAD_SOURCE_WEIGHTS)), cum_weights=self._src_w)[0]
        source = LEAD_SOURCE_WEIGHTS[index][0]
        mult = self._src_mult[source]
        raw = rng.choice(OTHER_SOURCE_TEXT) if source == "other" else source
        self._event_at(t, "lead", sdr.user_id, deal, source=source, source_raw=raw)

        demo_request = False
        if source in INBOUND_SOURCES and rng.random() < 0.5:
            demo_request = rng.random() < 0.35
            asked = (t[0], t[1] + 1)
            if demo_request:
                self._event_at(asked, "demo-request", sdr.user_id, deal)
                if rng.random() < 0.9:
                    self._event_at(self._after_seconds(*asked, self._response_seconds()),
                                   "demo-request-replied", sdr.user_id, deal)
            else:
                self._event_at(asked, "inbound-request", sdr.user_id, deal, source=source,
                               source_raw=raw)
                if rng.random() < 0.9:
                    seconds = self._response_seconds()
                    self._event_at(self._after_seconds(*asked, seconds), "inbound-responded",
                                   sdr.user_id, deal, duration=seconds)

        # lead -> mql -> sql -> opportunity -> demo-booked; a deal that does not move on is
        # closed lost a little later (a lead nobody could reach is disqualified within weeks)
        steps = (
            # kind, p(advance), median days, sigma, p(skip), who
            ("mql", 0.45, 2.0, 0.9, 0.06, sdr),
            ("sql", 0.60, 4.0, 0.8, 0.05, sdr),
            ("opportunity", 0.70, 5.0, 0.8, 0.06, ae),
            ("demo-booked", 0.75, 4.0, 0.7, 0.0, sdr),
        )
        for kind, p, median, sigma, skip, who in steps:
            if kind == "mql" and demo_request:
                continue  # a demo request is qualified on arrival: straight to sql
            if rng.random() >= min(0.95, p * (mult if kind == "mql" else mult ** 0.5)):
                self._drop(t, kind, sdr.user_id, ae.user_id, deal)
                return
            later = self._after(*t, median, sigma)
            if later[0] - t[0] > PATIENCE_DAYS:  # nobody waits that long: given up before
                self._drop(t, kind, sdr.user_id, ae.user_id, deal)
                return
            t = later
            if rng.random() < skip:
                continue  # the stage is skipped: the next stage event carries the deal on
            self._event_at(t, kind, who.user_id, deal,
                           amount=self._quote() if kind == "opportunity"
                           and rng.random() < 0.5 else None,
                           source=source if kind in ("mql", "sql") and rng.random() < 0.2
                           else None)
            if kind == "sql":
                if rng.random() < 0.5:
                    self._event_at((t[0], t[1] + 120), "discovery-booked", sdr.user_id, deal)
                if rng.random() < 0.6:
                    booked = self._after(*t, 0.6, 0.8)
                    self._event_at(booked, "meeting-booked", sdr.user_id, deal)
                    if rng.random() < 0.8:
                        self._event_at(self._after(*booked, 3.0, 0.6), "meeting-held",
                                       ae.user_id, deal)
        # demo -> held -> proposal -> won / lost
        held = rng.random() < 0.85
        if held:
            t = self._after(*t, 4.0, 0.6)
            self._event_at(t, "demo-held", ae.user_id, deal)
        r = rng.random()
        won_p, lost_p = (0.36, 0.58) if held else (0.05, 0.8)
        if r >= won_p + lost_p:  # the buyer goes quiet; closed lost after weeks of chasing
            self._lose(self._after(*t, DARK_DAYS, 0.3), ae.user_id, deal, early=True)
            return
        amount = self._quote()
        if held and rng.random() < 0.7:
            t = self._after(*t, 5.0, 0.7)
            self._event_at(t, "proposal", ae.user_id, deal, amount=amount)
        close = self._after(*t, 12.0, 0.8)
        if r < won_p:
            self._win(close, ae.user_id, deal, amount)
        else:
            self._lose(close, ae.user_id, deal, early=False)

    def _drop(self, t: tuple[int, int], next_kind: str, sdr: str, ae: str, deal: int) -> None:
        """Close a deal that did not reach `next_kind`: leads and MQLs are disqualified by the
        SDR (no response, unqualified), later stages lost by the AE."""
        median, reasons = DROP[next_kind]
        who = sdr if next_kind in ("mql", "sql") else ae
        reason = self.rng.choices([r for r, _ in reasons], weights=[w for _, w in reasons])[0]
        self._event_at(self._after(*t, median, 0.35), "deal-lost", who, deal, reason=reason)

    def _quote(self) -> int:
        amount = self.rng.lognormvariate(math.log(15_000), 0.6)
        return max(500, round(amount / 100) * 100) * 100

    def _win(self, t: tuple[int, int], ae: str, deal: int, amount: int) -> None:
        rng = self.rng
        mrr = round(amount / 12 / 100) * 100 if rng.random() < 0.85 else None
        self._event_at(t, "deal-won", ae, deal, amount=amount, mrr=mrr)
        if not mrr:
            return
        # Customer life: monthly churn hazard ≈2%, upgrades and downgrades meanwhile.
        churn_at = t[0] + rng.expovariate(0.02 / 30.44)
        day = t[0] + rng.expovariate(1 / 200)
        while day < churn_at and day < self.n_days:
            if rng.random() < 0.65:
                change = round(mrr * rng.uniform(0.1, 0.4) / 100) * 100
            else:
                change = -round(mrr * rng.uniform(0.1, 0.3) / 100) * 100
            if change and mrr + change > 0:
                mrr += change
                self._event_at((int(day), self._work_sec()), "mrr-change", ae, deal,
                               amount=change)
            day += rng.expovariate(1 / 200)
        if churn_at < self.n_days:
            self._event_at((int(churn_at), self._work_sec()), "churned", ae, deal, mrr=mrr,
                           reason=rng.choice(CHURN_REASONS))

    def _lose(self, t: tuple[int, int], ae: str, deal: int, *, early: bool) -> None:
        rng = self.rng
        if early:
            reason = "no-decision" if rng.random() < 0.6 else "timing"
        else:
            index = rng.choices(range(len(LOSS_REASONS)), cum_weights=self._reason_w)[0]
            reason = LOSS_REASONS[index][0]
        competitor = None
        if reason == "competitor" or (reason == "price" and rng.random() < 0.3):
            competitor = rng.choice(COMPETITORS)
        self._event_at(t, "deal-lost", ae, deal, reason=reason, competitor=competitor)
        if not early and rng.random() < 0.04:  # reopened later, then closed for good
            again = self._after(*t, 45.0, 0.5)
            self._event_at(again, "opportunity", ae, deal)
            close = self._after(*again, 20.0, 0.6)
            if rng.random() < 0.4:
                self._win(close, ae, deal, self._quote())
            else:
                self._lose(close, ae, deal, early=True)


def seed_workspace(
    *,
    database: Database,
    workspace_id: str,
    target_events: int,
    end: datetime,
    seed: int = 7,
    timezone: str = "UTC",
    currency: str = "USD",
    batch_size: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
    platform: str | None = None,
    fiscal_year_start: int = 1,
    reps: int | None = None,
) -> dict:
    """Write a generated history into `database`: workspace, users, events, quotas.

    Each batch of events is its own write transaction. Seeding the same history again adds
    nothing (idempotency keys). `progress(done, target)` is called after each batch. Returns
    {"events": added, "generated": generated, "deals", "users", "quotas", "seconds",
     "events_per_second"}.
    """
    started = _time.perf_counter()
    history = generate_history(workspace_id=workspace_id, target_events=target_events, end=end,
                               seed=seed, reps=reps, timezone=timezone, currency=currency)
    platform = platform or ("teams" if workspace_id.startswith("teams:") else "slack")
    with database.write() as session:
        workspace = ensure_workspace(
            session=session, workspace_id=workspace_id, platform=platform, timezone=timezone,
            currency=currency.upper(), fiscal_year_start=fiscal_year_start, now=history.start,
            name="Generated sales team",
        )
        for user_id, display_name in history.users:
            ensure_user(session=session, workspace_id=workspace_id, user_id=user_id,
                        display_name=display_name, now=history.start)
    added = generated = 0
    for chunk in history.chunks(batch_size):
        with database.write() as session:
            workspace = session.get(Workspace, workspace_id)
            added += record_events(session=session, workspace=workspace, new_events=chunk,
                                   now=history.end)
        generated += len(chunk)
        if progress is not None:
            progress(generated, target_events)
    quotas = _write_quotas(database, history)
    seconds = _time.perf_counter() - started
    run = history.last_run
    return {
        "events": added,
        "generated": generated,
        "deals": run.deals if run else 0,
        "users": len(history.users),
        "quotas": quotas,
        "seconds": seconds,
        "events_per_second": generated / seconds if seconds > 0 else None,
    }


def _write_quotas(database: Database, history: GeneratedHistory) -> int:
    """Set the history's quotas through storage.quotas when that module is there."""
    try:
        quotas_module = importlib.import_module("storage.quotas")
    except ModuleNotFoundError as error:
        if error.name != "storage.quotas":
            raise
        return 0
    set_quota = getattr(quotas_module, "set_quota", None)
    if set_quota is None:
        return 0
    with database.write() as session:
        for user_id, metric, cadence, target in history.quotas:
            set_quota(session=session, workspace_id=history.workspace_id, user_id=user_id,
                      metric=metric, cadence=cadence, target=target, set_by=MANAGER_ID,
                      now=history.start)
    return len(history.quotas)

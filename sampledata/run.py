"""One pass over a history: the day-by-day simulation that yields its events in order."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sampledata.story import (
    CHANNEL_ID,
    CHURN_REASONS,
    COMPANY_WORDS,
    COMPETITORS,
    DARK_DAYS,
    DAY,
    DEAL_SHARE,
    DROP,
    EVENTS_PER_LEAD,
    HOUR,
    INBOUND_SOURCES,
    LEAD_SOURCE_WEIGHTS,
    LOSS_REASONS,
    MANAGER_ID,
    MARKETING_ID,
    OTHER_SOURCE_TEXT,
    PATIENCE_DAYS,
    SPEND_PER_MONTH,
    WEB_SOURCES,
    Rep,
)
from storage.recording import NewEvent

if TYPE_CHECKING:
    from sampledata.history import GeneratedHistory



# A scheduled event: (day index, second of the local day, sequence, payload).
# payload: (kind, user, count, amount, duration, mrr, deal id, source, source_raw, reason,
#           competitor)
_Payload = tuple


class HistoryRun:
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


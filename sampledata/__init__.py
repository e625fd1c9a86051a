"""Sample data: a realistic, deterministic history of a sales team, for the demo, the tests and the
benchmark. Layered above storage (it writes through storage's event store); only the demo
(`kpibot demo`), the benchmarks and the tests import it.

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

from sampledata.history import GeneratedHistory, generate_history
from sampledata.seed import seed_workspace
from sampledata.story import (
    CHANNEL_ID,
    MANAGER_ID,
    MARKETING_ID,
    STORY_VERSION,
    Rep,
    history_days,
    team_size,
)

__all__ = ["CHANNEL_ID", "MANAGER_ID", "MARKETING_ID", "STORY_VERSION", "GeneratedHistory", "Rep",
           "generate_history", "history_days", "seed_workspace", "team_size"]

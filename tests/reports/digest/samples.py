"""Fixed digests for the rendering tests: one built by `build_digest` over an in-memory Facts
(deterministic: fixed events and `now`, so golden files are stable), a huge one built directly
(many reps, very long names) and a hostile name that must stay literal text everywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from reports.digest.build import build_digest
from reports.digest.model import (
    Digest,
    LossReason,
    QuotaLine,
    RepActivity,
    StalledDeal,
)
from reports.kpis.facts import Quota
from tests.reports.fake_facts import Ev, FakeFacts

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
NASTY = "<!channel> *bold* <http://x|y>"
NAMES = {"U_ANA": "Ana Berg", "U_BO": "Bo Lind", "U_WEI": "王伟", "U_EVE": NASTY}


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _events() -> list[Ev]:
    events: list[Ev] = []
    # activity last week (16-22 Nov) and the week before (9-15 Nov)
    for day in range(9, 23):
        events += [Ev("call", at(11, day), "U_ANA", count=3 + day % 4),
                   Ev("email-sent", at(11, day), "U_BO", count=10 + day % 7),
                   Ev("call", at(11, day), "U_WEI", count=1 + day % 3)]
        if day % 3 == 0:
            events.append(Ev("meeting-held", at(11, day), "U_EVE", deal="initech"))
    # deals: won, lost (reason and competitor), an open one that stalled
    for n, (user, won_day) in enumerate([("U_ANA", 17), ("U_ANA", 19), ("U_WEI", 20),
                                         ("U_BO", 12)]):
        deal = f"deal-{n}"
        events += [Ev("lead", at(11, won_day - 5), user, deal=deal, source="referral"),
                   Ev("mql", at(11, won_day - 4), user, deal=deal),
                   Ev("sql", at(11, won_day - 3), user, deal=deal),
                   Ev("opportunity", at(11, won_day - 2), user, deal=deal),
                   Ev("demo-booked", at(11, won_day - 1), user, deal=deal),
                   Ev("deal-won", at(11, won_day), user, deal=deal, amount=1_250_000 * (n + 1),
                      mrr=100_000 * (n + 1), account=f"acct-{n}")]
    events += [Ev("lead", at(11, 16), "U_BO", deal="globex"),
               Ev("deal-lost", at(11, 18), "U_BO", deal="globex", reason="price"),
               Ev("lead", at(11, 16), "U_EVE", deal="umbrella"),
               Ev("deal-lost", at(11, 21), "U_EVE", deal="umbrella", competitor="northwind"),
               Ev("lead", at(11, 17), "U_EVE", deal="hooli"),
               Ev("deal-lost", at(11, 21), "U_EVE", deal="hooli", reason=NASTY),
               Ev("lead", at(10, 1), "U_EVE", deal=NASTY),  # idle since 1 Oct: stalled
               Ev("lead", at(10, 3), "U_BO", deal="Stark Industries"),
               Ev("opportunity", at(10, 5), "U_BO", deal="Stark Industries")]
    # customers: one won in September and churned in October
    events += [Ev("deal-won", at(9, 10), "U_ANA", deal="acme", amount=900_000, mrr=75_000,
                  account="acme"),
               Ev("churned", at(10, 20), "U_ANA", deal="acme", account="acme")]
    return events


QUOTAS = [Quota("U_ANA", "revenue", "monthly", 2_000_000),
          Quota("U_BO", "revenue", "monthly", 2_000_000),
          Quota("U_WEI", "revenue", "monthly", 3_000_000),
          Quota("U_EVE", "demo-booked", "monthly", 4)]


def sample_digest(language: str = "en", cadence: str = "weekly") -> Digest:
    """The golden digest: every section filled, one hostile deal name and loss reason."""
    return build_digest(facts=FakeFacts(_events(), QUOTAS), cadence=cadence, now=NOW,
                        tz="Europe/Oslo", language=language, names=NAMES)


def nasty_digest(language: str = "en") -> Digest:
    """Every user-supplied string (rep, deal, owner, loss reason) is NASTY."""
    digest = sample_digest(language)
    quotas = tuple(replace(view, rows=tuple(replace(line, rep=NASTY) for line in view.rows))
                   for view in digest.quotas)
    return replace(
        digest,
        activity=tuple(replace(row, rep=NASTY) for row in digest.activity),
        quotas=quotas,
        stalled=tuple(replace(deal, deal=NASTY, owner=NASTY) for deal in digest.stalled),
        loss_reasons=tuple(replace(reason, reason=NASTY) for reason in digest.loss_reasons),
        chart=replace(digest.chart, reps=tuple(NASTY for _ in digest.chart.reps)),
    )


def huge_digest(reps: int = 400, name_length: int = 5000) -> Digest:
    """Far beyond any real digest: hundreds of reps with names thousands of characters long."""
    digest = sample_digest()

    def name(i: int) -> str:
        return (f"Rep {i} " + "Ø<&>*_~`" * name_length)[:name_length]

    line = digest.quotas[0].rows[0]
    quotas = tuple(replace(view, rows=tuple(replace(line, rep=name(i)) for i in range(reps)),
                           warning="⚠" * 4000)
                   for view in digest.quotas)
    return replace(
        digest,
        title="T" * 500,
        fallback="F" * 50_000,
        activity=tuple(RepActivity(rep=name(i), calls=str(i), emails="1", meetings="2",
                                   demos="3", total=str(i + 6)) for i in range(reps)),
        quotas=quotas * 10,
        stalled=tuple(StalledDeal(deal=name(i), stage="Lead", owner=name(i + 1),
                                  days="9 days") for i in range(reps)),
        loss_reasons=tuple(LossReason(reason=name(i), count="1", share="1%")
                           for i in range(reps)),
        notes=tuple(f"note {i} " + "n" * 4000 for i in range(40)),
        funnel_summary="S" * 5000,
        stalled_total="s" * 5000,
    )


__all__ = ["NASTY", "QuotaLine", "huge_digest", "nasty_digest", "sample_digest"]

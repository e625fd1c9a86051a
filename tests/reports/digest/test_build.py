"""build_digest: the view model's periods, figures and notes, from an in-memory Facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.digest.build import build_digest
from reports.kpis.facts import Quota
from tests.reports.fake_facts import Ev, FakeFacts

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Oslo
NASTY = "<!channel> *bold* <http://x|y>"


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


EVENTS = [
    Ev("lead", at(10), "U_ANA", deal="acme"), Ev("opportunity", at(11), "U_ANA", deal="acme"),
    Ev("deal-won", at(12), "U_ANA", deal="acme", amount=1_000_000),  # week before: $10K
    Ev("lead", at(16), "U_ANA", deal="globex"), Ev("opportunity", at(17), "U_ANA", deal="globex"),
    Ev("deal-won", at(18), "U_ANA", deal="globex", amount=3_000_000),  # last week: $30K
    Ev("lead", at(16), "U_BO", deal="initech"),
    Ev("deal-lost", at(19), "U_BO", deal="initech", reason="price"),
    Ev("lead", at(2), "U_BO", deal=NASTY),  # idle since 2 Nov: stalled
    Ev("call", at(17), "U_BO", count=12), Ev("call", at(18), "U_ANA", count=3),
    Ev("email-sent", at(18), "U_BO", count=40),
    Ev("call", at(23, 7), "U_BO", count=99),  # this week: not in last week's digest
]
QUOTAS = [Quota("U_ANA", "revenue", "monthly", 2_000_000),
          Quota("U_BO", "revenue", "monthly", 2_000_000),
          Quota("U_CY", "revenue", "monthly", 2_000_000)]
NAMES = {"U_ANA": "Ana", "U_BO": NASTY}


def _digest(**kwargs):
    args = dict(facts=FakeFacts(EVENTS, QUOTAS), cadence="weekly", now=NOW,
                tz="Europe/Oslo", names=NAMES)
    return build_digest(**{**args, **kwargs})


def test_weekly_digest_covers_last_week_against_the_week_before():
    digest = _digest()
    assert digest.title == "Weekly digest — Nov 16 – 22, 2026".replace(" – ", "\u2009–\u2009")
    assert digest.compared_with.startswith("vs Nov 9")
    figures = {m.key: m for m in digest.headline}
    assert figures["revenue"].value == "$30K"
    assert figures["revenue"].change == "▲ 200%" and figures["revenue"].direction == "up"
    assert figures["deals-won"].value == "1"
    assert figures["win-rate"].value == "50% (1/2)"
    assert figures["activities"].value == "55"  # 15 calls + 40 emails; this week's 99 left out


def test_activity_per_rep_most_active_first_with_names_unescaped():
    digest = _digest()
    assert [(r.rep, r.calls, r.emails, r.total) for r in digest.activity] == \
        [(NASTY, "12", "40", "52"), ("Ana", "3", "0", "3")]
    assert digest.activity_total.total == "55"


def test_quota_views_warn_when_under_60_percent_of_reps_are_at_quota():
    mtd, qtd = _digest().quotas
    assert mtd.title.startswith("Quota — month to date")
    assert qtd.title.startswith("Quota — quarter to date")
    assert mtd.reps_at_quota == "1 of 3 reps (33%)"
    assert mtd.warning == "Only 33% of reps are at quota (under 60%)."
    ana = next(line for line in mtd.rows if line.rep == "Ana")
    assert (ana.attained, ana.target, ana.attainment, ana.at_quota) == \
        ("$40K", "$20K", "200%", True)


def test_funnel_stalled_loss_reasons_and_small_sample_note():
    digest = _digest()
    stages = {s.stage: s for s in digest.funnel}
    assert stages["Lead"].deals == "2" and stages["Won"].deals == "1"
    assert digest.stalled[0].deal == NASTY and digest.stalled[0].owner == NASTY
    assert [(r.reason, r.count) for r in digest.loss_reasons] == [("price", "1")]
    assert any("Win rate" in note and "2" in note for note in digest.notes)
    assert digest.chart.reps and digest.chart.stage_counts[0] == 2


def test_monthly_digest_and_languages():
    monthly = _digest(cadence="monthly")
    assert monthly.title.startswith("Monthly digest — Oct 1")
    assert monthly.quotas[0].title.startswith("Quota — last month")
    english = _digest(facts=FakeFacts(EVENTS * 30, QUOTAS))
    norwegian = _digest(facts=FakeFacts(EVENTS * 30, QUOTAS), language="nb")
    assert english.activity_total.total == "1,650"
    assert norwegian.activity_total.total.replace("\u00a0", " ") == "1 650"
    assert norwegian.locale == "nb_NO"
    assert norwegian.title.split(" — ")[0] == "Ukesrapport"


def test_an_empty_workspace_gets_n_a_not_an_error():
    digest = build_digest(facts=FakeFacts(), cadence="weekly", now=NOW, tz="UTC")
    figures = {m.key: m for m in digest.headline}
    assert figures["win-rate"].value == "n/a (0/0)" and figures["win-rate"].change == "—"
    assert digest.activity == () and digest.stalled == () and digest.chart.empty


def test_unknown_cadence_is_refused():
    with pytest.raises(ValueError, match="cadence"):
        build_digest(facts=FakeFacts(), cadence="daily", now=NOW, tz="UTC")


def test_wins_without_an_amount_are_counted_and_noted_in_every_language():
    events = [*EVENTS, Ev("deal-won", at(19), "U_BO", deal="hooli")]  # last week, no amount
    english = _digest(facts=FakeFacts(events, QUOTAS))
    headline = {m.key: m.value for m in english.headline}
    assert headline["deals-won"] == "2" and "30" in headline["revenue"]
    assert "30" in headline["avg-deal-size"]  # $30K over the one win with an amount
    assert "1 of 2 won deals has no amount: revenue counts the other 1." in english.notes
    assert "1 of 2" not in " ".join(_digest().notes)
    expected = {"nb": "1 av 2 vunne avtaler mangler beløp: omsetningen teller de øvrige 1.",
                "sv": "1 av 2 vunna affärer saknar belopp: intäkterna räknar de övriga 1.",
                "ro": "1 din 2 tranzacții câștigate nu are sumă: "
                      "venitul le numără doar pe celelalte (1).",
                "zh": "2 个赢单中有 1 个没有金额：收入只计入其余 1 个。"}
    for language, note in expected.items():
        notes = _digest(facts=FakeFacts(events, QUOTAS), language=language).notes
        assert note in notes, (language, notes)


def test_a_cut_list_says_how_many_it_left_out_and_which_command_shows_them_all():
    reps = [f"U_{i:02d}" for i in range(32)]
    events = [Ev("call", at(17), rep, count=i + 1) for i, rep in enumerate(reps)]
    events += [Ev("deal-lost", at(18), "U_00", deal=f"d{i}", reason=f"reason {i}")
               for i in range(8)]
    quotas = [Quota(rep, "revenue", "monthly", 1_000_000) for rep in reps]
    names = {rep: f"Rep {rep[2:]}" for rep in reps}
    for language, more in (("en", "+20 more: "), ("nb", "+20 til: "), ("zh", "另有 20 项：")):
        digest = _digest(facts=FakeFacts(events, quotas), names=names, language=language)
        assert len(digest.activity) == 12
        assert [r.rep for r in digest.activity][:2] == ["Rep 31", "Rep 30"]  # most first
        assert digest.activity_total.total == format(sum(range(1, 33)), ",").replace(
            ",", "\u00a0" if language == "nb" else ",")
        assert digest.activity_more == more + "/kpi leaderboard activities last-week"
        mtd, qtd = digest.quotas
        assert len(mtd.rows) == 12
        assert mtd.more == more + "/kpi leaderboard quota-attainment mtd"
        assert qtd.more == more + "/kpi leaderboard quota-attainment qtd"
        assert len(digest.loss_reasons) == 5
        assert digest.loss_reasons_more == more.replace("20", "3") + \
            "/kpi loss-reasons last-week"
    assert _digest().activity_more is None and _digest().quotas[0].more is None


def test_the_funnel_panel_of_the_chart_names_its_period():
    chart = _digest().chart
    assert (chart.funnel_title, chart.funnel_period) == \
        ("Deals reaching each stage", "Nov 16\u2009–\u200922, 2026")

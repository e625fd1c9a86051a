"""Digest labels in every supported language, and the Babel locale of each language.

Every language has every key (a test checks); templates read them through `Digest.labels`,
so a missing key fails rendering (StrictUndefined) instead of showing an empty heading.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "nb", "sv", "ro", "zh")
DEFAULT_LANGUAGE = "en"
BABEL_LOCALES = {"en": "en", "nb": "nb_NO", "sv": "sv_SE", "ro": "ro_RO", "zh": "zh_Hans_CN"}

EN: dict[str, str] = {
    "weekly_title": "Weekly digest",
    "monthly_title": "Monthly digest",
    "compared_with": "vs {period}",
    "headline": "Headline",
    "revenue": "Revenue",
    "deals-won": "Deals won",
    "win-rate": "Win rate",
    "avg-deal-size": "Average deal size",
    "activities": "Activities",
    "activity": "Activity per rep",
    "rep": "Rep",
    "calls": "Calls",
    "emails": "Emails",
    "meetings": "Meetings",
    "demos": "Demos",
    "total": "Total",
    "team": "Team",
    "no_activity": "No activity logged.",
    "funnel": "Funnel",
    "stage": "Stage",
    "deals": "Deals",
    "conversion": "Conversion",
    "median_days": "Median time in stage",
    "funnel_summary": "{won} won · {lost} lost · {stalled} stalled",
    "lead": "Lead",
    "mql": "MQL",
    "sql": "SQL",
    "opportunity": "Opportunity",
    "demo": "Demo",
    "won": "Won",
    "quota": "Quota",
    "quota_mtd": "Quota — month to date ({period})",
    "quota_qtd": "Quota — quarter to date ({period})",
    "quota_last_month": "Quota — last month ({period})",
    "team_attainment": "Team attainment",
    "team_of": "{share} ({attained} of {target})",
    "reps_at_quota": "Reps at quota",
    "reps_at_quota_value": "{count} of {total} reps ({share})",
    "reps_at_quota_warning": "Only {share} of reps are at quota (under 60%).",
    "no_quotas": "No quotas set: /kpi quota set @rep AMOUNT",
    "attained": "Attained",
    "target": "Target",
    "attainment": "Attainment",
    "pace": "Pace",
    "churn": "Churn",
    "churn_last_month": "Last month ({period})",
    "churn_mtd": "Month to date ({period})",
    "customer_churn": "Customer churn",
    "mrr_churn": "MRR churn",
    "stalled": "Stalled deals",
    "stalled_total": "{stalled} of {open} open deals",
    "deal": "Deal",
    "owner": "Owner",
    "idle": "Idle",
    "no_stalled": "No stalled deals.",
    "loss_reasons": "Loss reasons",
    "reason": "Reason",
    "lost": "Lost",
    "competitor": "competitor",
    "share": "Share",
    "no_losses": "No deals lost.",
    "notes": "Notes",
    "small_sample": "Small sample: {what} rests on {n} deals.",
    "chart_title": "Quota attainment and funnel",
    "chart_quota": "Quota attainment (month to date)",
    "chart_funnel": "Deals reaching each stage",
    "chart_alt": "Chart: quota attainment per rep and deals per funnel stage",
    "new": "new",
    "pts": "pts",
    "na": "n/a",
    "days": "{n} days",
    "fallback": "{title}: revenue {revenue} ({change}), win rate {win_rate}",
    "footer": "kpibot · /kpi digest list · /kpi help",
}

# Filled per language; a test asserts each has exactly EN's keys.
TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN}


def labels_for(language: str) -> Mapping[str, str]:
    """The labels of `language` (English for an unknown one)."""
    return TRANSLATIONS.get(language, EN)


def babel_locale(language: str) -> str:
    return BABEL_LOCALES.get(language, "en")

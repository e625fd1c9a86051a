"""The golden scenario: every KPI computed by hand on one small team's history (scenario.py,
cases.py), matched by the engine and by every view."""

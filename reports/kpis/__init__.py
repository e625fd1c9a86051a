"""The KPI catalog (SPEC section 6): pure formulas over aggregate facts."""

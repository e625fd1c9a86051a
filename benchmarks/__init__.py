"""kpibot's own benchmark (SPEC section 11): `python -m benchmarks --help`."""

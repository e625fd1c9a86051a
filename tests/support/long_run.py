"""Whether this pytest run is the long one (`--long`); tests/conftest.py sets it at start-up,
before any test module is imported, so decorators may use it:

    @settings(max_examples=examples(500))   # 500, or 5,000 with --long
"""

from __future__ import annotations

LONG = False
LONG_FACTOR = 10


def examples(short: int) -> int:
    """Hypothesis examples for a property test: `short`, times LONG_FACTOR in the long run."""
    return short * LONG_FACTOR if LONG else short

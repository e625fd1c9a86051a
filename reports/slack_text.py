"""Slack's rules for text kpibot posts, in one place: escaping and Block Kit limits.

Escaping. Slack reads `&`, `<` and `>` as control sequences in every mrkdwn text and in a
message's top-level `text` (the notification and fallback): `<!channel>`, `<!here>`, `<@U…>`,
`<#C…>` and `<https://…|…>` mention, name or link. `slack_escape` turns the three into entities,
so a string a user typed shows as typed and can never do any of that.

Limits. At most `MAX_BLOCKS` blocks a message, `MAX_TEXT` characters a text, `MAX_FIELDS` fields
a section of at most `MAX_FIELD_TEXT` characters each, `MAX_HEADER` for a header and
`MAX_CONTEXT_ELEMENTS` elements a context block; what does not fit is cut with "…" (`clip`).

Every renderer that posts to Slack (bot/slack/blocks.py for replies, reports/digest/render.py
for digests) uses these.
"""

from __future__ import annotations

from collections.abc import Sequence

ELLIPSIS = "…"
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10


def slack_escape(value: object) -> str:
    """`value` shown literally by Slack: `&`, `<`, `>` as entities (nothing mentions or links)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(value: object, limit: int) -> str:
    """`value` shortened to `limit` characters, ending with "…" when cut."""
    text = str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def plain_text(text: str, limit: int = MAX_TEXT) -> dict:
    """A Block Kit `plain_text` object (never empty, clipped to `limit`)."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def code_blocks(lines: Sequence[str]) -> list[str]:
    """Already escaped lines as ``` blocks, split between lines so each fits in MAX_TEXT."""
    chunks: list[str] = []
    current: list[str] = []
    size = 6
    for line in lines:
        line = clip(line, MAX_TEXT - 7)
        if current and size + len(line) + 1 > MAX_TEXT:
            chunks.append("```" + "\n".join(current) + "```")
            current, size = [], 6
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("```" + "\n".join(current) + "```")
    return chunks

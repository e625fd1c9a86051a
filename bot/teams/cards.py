"""Render a Reply as an Adaptive Card (v1.5) for Teams, plus the message and webhook bodies.

Every piece of text, including user-supplied deal names and notes, goes into `TextRun`s of
`RichTextBlock`s: Adaptive Cards never interpret markdown in a TextRun, so a deal called
`*bold* [x](http://y)` shows exactly as typed and cannot become a link. Teams has no
`<at>` mention inside a card unless the message declares one, so text cannot ping anyone.
"""

from __future__ import annotations

import re

from bot.replies import Reply, Section, looks_numeric
from reports.teams_card import CARD_SCHEMA, CARD_VERSION, MAX_CARD_BYTES, card_size, fit_body

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_RUN_TEXT = 2000
MAX_TABLE_ROWS = 60  # header included
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SHORTENED = "(shortened: too long for one message)"


def _clean(text: str, limit: int = MAX_RUN_TEXT) -> str:
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\t", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_run(text: str, **style: object) -> dict:
    return {"type": "TextRun", "text": _clean(text) or " ", **style}


def rich_text(text: str, *, spacing: str | None = None, **style: object) -> dict:
    block: dict = {"type": "RichTextBlock", "inlines": [text_run(text, **style)]}
    if spacing:
        block["spacing"] = spacing
    return block


def _cell(text: str, **style: object) -> dict:
    return {"type": "TableCell", "items": [rich_text(text, **style)]}


def _table(rows: tuple[tuple[str, ...], ...]) -> list[dict]:
    width = max(len(row) for row in rows)
    padded = [tuple(row) + ("",) * (width - len(row)) for row in rows]
    shortened = len(padded) > MAX_TABLE_ROWS
    padded = padded[:MAX_TABLE_ROWS]
    numeric = [
        len(padded) > 1 and all(looks_numeric(row[i]) for row in padded[1:] if row[i])
        for i in range(width)
    ]
    columns = [
        {"type": "TableColumnDefinition", "width": 2 if i == 0 else 1,
         **({"horizontalCellContentAlignment": "Right"} if numeric[i] else {})}
        for i in range(width)
    ]
    table_rows = [
        {"type": "TableRow",
         "cells": [_cell(value, **({"weight": "Bolder"} if r == 0 else {}))
                   for value in row]}
        for r, row in enumerate(padded)
    ]
    blocks = [{"type": "Table", "columns": columns, "rows": table_rows,
               "firstRowAsHeader": True, "showGridLines": False}]
    if shortened:
        blocks.append(rich_text(_SHORTENED, isSubtle=True, size="Small"))
    return blocks


def _fields(fields: tuple[tuple[str, str], ...]) -> dict:
    return {
        "type": "Table",
        "columns": [{"type": "TableColumnDefinition", "width": 1},
                    {"type": "TableColumnDefinition", "width": 2}],
        "rows": [{"type": "TableRow", "cells": [_cell(label, weight="Bolder"), _cell(value)]}
                 for label, value in fields],
        "firstRowAsHeader": False,
        "showGridLines": False,
    }


def _section_items(section: Section) -> list[dict]:
    items: list[dict] = []
    if section.title:
        items.append(rich_text(section.title, weight="Bolder"))
    for line in section.lines:
        for part in line.split("\n"):
            items.append(rich_text(part, spacing="None"))
    if section.fields:
        items.append(_fields(section.fields))
    if section.table:
        items.extend(_table(section.table))
    if section.context:
        items.append(rich_text(section.context, isSubtle=True, size="Small"))
    return items


def render_card(reply: Reply) -> dict:
    """The Adaptive Card for a reply; `fallbackText` carries the whole reply as plain text."""
    headline_style: dict = {"weight": "Bolder"}
    headline = reply.text
    if not reply.ok:
        headline_style["color"] = "Attention"
        headline = f"⚠ {headline}"
    body: list[dict] = [rich_text(part, **headline_style) for part in headline.split("\n")]
    for section in reply.sections:
        items = _section_items(section)
        if items:
            body.append({"type": "Container", "items": items, "separator": True,
                         "spacing": "Medium"})
    if reply.digest is not None:
        from reports.digest.render import render_teams_card

        card = render_teams_card(reply.digest)
        return _fit({**card, "body": body + list(card.get("body", []))})
    card = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": _clean(reply.plain_text(), 4000),
        "body": body,
    }
    return _fit(card)


def _fit(card: dict) -> dict:
    """Drop trailing body elements until the card fits into one Teams message."""
    if card_size(card) <= MAX_CARD_BYTES:
        return card
    card["fallbackText"] = _clean(card["fallbackText"], 1000)
    note = rich_text(_SHORTENED, isSubtle=True, size="Small")
    card["body"] = fit_body(card, card["body"], [note])
    return card


def card_attachment(card: dict) -> dict:
    """The Bot Framework attachment that carries an Adaptive Card."""
    return {"contentType": CONTENT_TYPE, "content": card}


def workflow_body(card: dict) -> dict:
    """The body Teams Workflows' "Post to a channel when a webhook request is received" expects."""
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }

"""Render a digest view model (reports/digest/model.py) with the Jinja2 templates next to this
module: Slack Block Kit (`render_slack`), a Teams Adaptive Card v1.5 (`render_teams_card`) and
plain text for terminals and notifications (`render_text`). Pure: no I/O besides reading the
template files, no chat SDK.

Escaping. The view model's user-supplied strings (rep, deal and owner names, loss reasons) are
raw, so autoescape is off (the targets are JSON and text, not HTML) and every template applies
an explicit filter for its markup instead:

- `tojson` — a JSON string literal (the JSON templates quote every value with it);
- `slack_mrkdwn` — for Slack `mrkdwn` text: `&`, `<`, `>` become entities (`slack_escape` of
  reports/slack_text.py, the one rule for everything posted, the `text` fallback included: so
  nothing can mention `@channel`, link or name a user) and `*`, `_`, `~` and the backtick
  become look-alike characters, so no string can switch on bold, italics, strike or code.
  The Slack template puts user strings only into `plain_text` objects or into code blocks
  (`slack_code`), never into a mrkdwn sentence; headings and formatted figures go through
  `slack_mrkdwn`;
- `slack_code` — table lines as a ``` block: entities as above and backticks replaced, so a
  string can neither close the block nor become a mention or link inside it;
- `card_text` — for Adaptive Card `TextBlock`/`Fact` markdown: a backslash before each
  character that starts markup anywhere in a line (backslash, backtick, `*`, `_`, `[`, `]`,
  `<`, `>`, `~`, `&`; parentheses need none once brackets are escaped) and before a line
  start that would make a list or heading (`1.`, `1)`, `-`, `+`, `=`, `#`): Norwegian dates
  such as `1. nov.` would otherwise start a numbered list. User strings go into `TextRun`s
  of `RichTextBlock`s, which never interpret markdown (quoted with `tojson`).

Limits. `render_slack` enforces Slack's (reports/slack_text.py: blocks, text, fields, header
lengths) and a non-empty `text` fallback; what does not fit is cut with an explicit "…" instead
of failing. `render_teams_card` keeps a card under `MAX_CARD_BYTES` (reports/teams_card.py) the
same way.

Tables are aligned by display width (a Chinese character takes two monospace columns), cells
longer than `MAX_CELL` are shortened with "…", and at most `MAX_ROWS` rows are shown.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2

from reports.digest.model import Digest
from reports.i18n import translations
from reports.slack_text import (
    ELLIPSIS,
    MAX_BLOCKS,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_TEXT,
    clip,
    code_blocks,
    slack_escape,
)
from reports.slack_text import plain_text as _plain
from reports.teams_card import CARD_SCHEMA, CARD_VERSION, MAX_CARD_BYTES, card_size, fit_body

TEMPLATE_DIR = Path(__file__).with_name("templates")
SLACK_TEMPLATE = "digest.slack.json.j2"
TEAMS_TEMPLATE = "digest.teams.json.j2"
TEXT_TEMPLATE = "digest.txt.j2"

MAX_CELL = 40  # display columns per table cell
MAX_ROWS = 30  # rows per table (header and team line not counted)

# Slack's limits: reports/slack_text.py; the card's schema and size: reports/teams_card.py
MAX_CARD_TEXT = 500  # characters per TextBlock, TextRun or fact
MAX_FALLBACK = 1000

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_MRKDWN_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
_CARD_SPECIAL = re.compile(r"([\\`*_\[\]<>~&])")  # markup anywhere in a line
_CARD_LINE_START = re.compile(r"^(\s*)(\d+)([.)])|^(\s*)([-+=>#])", re.MULTILINE)


# ---------------------------------------------------------------------------- filters
def clean(value: object) -> str:
    """One line of text: control characters and line breaks become spaces."""
    return _CONTROL.sub(" ", str(value).replace("\r\n", " "))


def slack_mrkdwn(value: object) -> str:
    """`value` inert inside Slack mrkdwn: no mention, link, or bold/italic/strike/code."""
    return slack_escape(clean(value)).translate(_MRKDWN_LOOKALIKES)


def slack_code(lines: Iterable[str]) -> str:
    """Lines as a Slack code block (``` ... ```), escaped so nothing inside is live."""
    body = "\n".join(slack_escape(clean(line)).replace("`", "ˋ") for line in lines)
    return f"```{body}```"


def card_text(value: object) -> str:
    """`value` shown literally by an Adaptive Card TextBlock (markdown escaped)."""
    text = _CARD_SPECIAL.sub(r"\\\1", clean(value))
    return _CARD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    if match.group(2) is not None:  # "1." / "1)" starts an ordered list
        return f"{match.group(1)}{match.group(2)}\\{match.group(3)}"
    return f"{match.group(4)}\\{match.group(5)}"  # "-", "+", "=", "#" (">" is escaped already)


def to_json(value: object) -> str:
    """A JSON literal (strings cleaned of control characters by the callers that need it)."""
    return json.dumps(value, ensure_ascii=False)


def display_width(text: str) -> int:
    """Monospace columns: East Asian wide and full-width characters take two."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _clip_width(text: str, limit: int) -> str:
    if display_width(text) <= limit:
        return text
    out, width = [], display_width(ELLIPSIS)
    for char in text:
        w = display_width(char)
        if width + w > limit:
            break
        out.append(char)
        width += w
    return "".join(out) + ELLIPSIS


def table(rows: Sequence[Sequence[object]], align: str = "", *, max_cell: int = MAX_CELL,
          indent: str = "") -> list[str]:
    """Rows (the first is the header) as aligned lines; `align` has one letter per column,
    `l` or `r` (default `l`). Cells are cleaned and shortened to `max_cell` columns."""
    cells = [[_clip_width(clean(cell), max_cell) for cell in row] for row in rows]
    if not cells:
        return []
    count = max(len(row) for row in cells)
    cells = [row + [""] * (count - len(row)) for row in cells]
    widths = [max(display_width(row[i]) for row in cells) for i in range(count)]
    lines = []
    for row in cells:
        parts = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - display_width(cell))
            parts.append(pad + cell if align[i:i + 1] == "r" else cell + pad)
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def limit_rows(rows: Sequence[Any], limit: int = MAX_ROWS) -> list[Any]:
    """At most `limit` items (the template adds the "…" line for the rest)."""
    return list(rows)[:limit]


def build_template_environment(language: str = "en") -> jinja2.Environment:
    """A new Jinja2 environment over reports/digest/templates with the escaping filters and
    the gettext catalog of `language` (`jinja2.ext.i18n`: `_("Rep")`, `ngettext`).

    StrictUndefined: a missing attribute fails rendering instead of leaving a hole.
    Autoescape is off — the targets are JSON and text, not HTML — so templates escape every
    user-supplied string explicitly for their markup (see the module docstring)."""
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        tojson=to_json, slack_mrkdwn=slack_mrkdwn, slack_code=slack_code, card_text=card_text,
        clean=clean, clip=clip, limit_rows=limit_rows, width=display_width,
    )
    env.globals.update(table=table, MAX_ROWS=MAX_ROWS, MAX_CELL=MAX_CELL, ELLIPSIS=ELLIPSIS,
                       CARD_SCHEMA=CARD_SCHEMA, CARD_VERSION=CARD_VERSION,
                       MAX_CARD_TEXT=MAX_CARD_TEXT, MAX_FALLBACK=MAX_FALLBACK)
    env.install_gettext_translations(translations(language), newstyle=True)
    return env


@functools.cache
def shared_environment(language: str = "en") -> jinja2.Environment:
    """One environment per language for the process: its compiled templates are reused by
    every render (a new environment compiles them again: about 18 ms a digest against 1 ms).
    The templates are package files, so it does not look for changed files (auto_reload off)."""
    env = build_template_environment(language)
    env.auto_reload = False
    return env


def _render(env: jinja2.Environment | None, name: str, digest: Digest) -> str:
    env = env or shared_environment(digest.language)
    return env.get_template(name).render(digest=digest)


def _load(source: str, name: str) -> Any:
    try:
        return json.loads(source)
    except json.JSONDecodeError as error:  # a template bug: show where
        start = max(error.pos - 120, 0)
        raise ValueError(f"{name} produced invalid JSON ({error.msg}) near: "
                         f"{source[start:error.pos + 120]!r}") from None


# ---------------------------------------------------------------------------- text
def render_text(digest: Digest, *, env: jinja2.Environment | None = None) -> str:
    """The digest as plain text with aligned tables (terminal, notification fallback)."""
    return _render(env, TEXT_TEMPLATE, digest).rstrip() + "\n"


# ---------------------------------------------------------------------------- Slack
def render_slack(digest: Digest, *, env: jinja2.Environment | None = None) -> dict:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage, within Slack's limits."""
    message = _load(_render(env, SLACK_TEMPLATE, digest), SLACK_TEMPLATE)
    blocks = [fitted for block in message["blocks"] for fitted in _fit_block(block)]
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [_context([_plain(ELLIPSIS)])]
    text = clean(message.get("text") or "").strip() or clean(digest.title).strip()
    text = clip(slack_escape(text or "kpibot digest"), MAX_TEXT)  # the fallback is live mrkdwn
    return {"text": text, "blocks": blocks}


def _context(elements: list[dict]) -> dict:
    return {"type": "context", "elements": elements}


def _fit_text(obj: dict, limit: int) -> dict:
    text = obj.get("text") or " "
    return {**obj, "text": clip(text, limit)}


def _fit_block(block: dict) -> list[dict]:
    """One template block as one or more blocks within Slack's per-block limits."""
    kind = block.get("type")
    if kind == "header":
        return [{**block, "text": _fit_text(block["text"], MAX_HEADER)}]
    if kind == "context":
        elements = [_fit_text(e, MAX_TEXT) if "text" in e else e for e in block["elements"]]
        return [_context(elements[i:i + MAX_CONTEXT_ELEMENTS])
                for i in range(0, len(elements), MAX_CONTEXT_ELEMENTS)] or []
    if kind != "section":
        return [block]
    out: list[dict] = []
    text = block.get("text")
    if text is not None:
        raw = text.get("text") or " "
        if (text["type"] == "mrkdwn" and len(raw) > MAX_TEXT and raw.startswith("```")
                and raw.endswith("```")):
            out.extend({"type": "section", "text": {**text, "text": chunk}}
                       for chunk in code_blocks(raw[3:-3].split("\n")))
        else:
            out.append({**{k: v for k, v in block.items() if k != "fields"},
                        "text": _fit_text(text, MAX_TEXT)})
    fields = [_fit_text(f, MAX_FIELD_TEXT) for f in block.get("fields") or []]
    for n, start in enumerate(range(0, len(fields), MAX_FIELDS)):
        group = fields[start:start + MAX_FIELDS]
        if n == 0 and out:
            out[-1] = {**out[-1], "fields": group}
        else:
            out.append({"type": "section", "fields": group})
    return out


# ---------------------------------------------------------------------------- Teams
def render_teams_card(digest: Digest, *, env: jinja2.Environment | None = None) -> dict:
    """The digest as an Adaptive Card (v1.5) object, under MAX_CARD_BYTES."""
    card = _load(_render(env, TEAMS_TEMPLATE, digest), TEAMS_TEMPLATE)
    return _fit_card(card)


def _fit_card(card: dict) -> dict:
    """A card under MAX_CARD_BYTES: first the longest tables lose rows (a "… +N" row says how
    many; a total row stays), then, if that is not enough, trailing body elements go (the
    footer stays, a "…" line marks the cut)."""
    if card_size(card) <= MAX_CARD_BYTES:
        return card
    tables = [i for i, e in enumerate(card["body"]) if e.get("type") == "Table"]
    cut = dict.fromkeys(tables, 0)
    shortened = card
    while card_size(shortened) > MAX_CARD_BYTES:
        kept = {i: len(card["body"][i]["rows"]) - cut[i] for i in tables}
        longest = max(tables, key=lambda i: kept[i], default=None)
        if longest is None or kept[longest] <= 4:
            break
        cut[longest] += 1
        shortened = _cut_rows(card, cut)
    if card_size(shortened) <= MAX_CARD_BYTES:
        return shortened
    body = list(shortened["body"])
    footer, body = body[-1:], body[:-1]
    note = {"type": "TextBlock", "text": ELLIPSIS, "wrap": True, "isSubtle": True}
    return {**card, "body": fit_body(card, body, [note, *footer])}


def _cut_rows(card: dict, cut: dict[int, int]) -> dict:
    """`card` with `cut[i]` rows less in body table i, and a "… +N" row in their place."""
    body = list(card["body"])
    for i, count in cut.items():
        if not count:
            continue
        table = body[i]
        rows = list(table["rows"])
        total = rows[-1:] if table.get("id") == "with-total" else []
        rows = rows[: len(rows) - len(total)]
        texts = [f"{ELLIPSIS} +{count}"] + [" "] * (len(table["columns"]) - 1)
        marker = {"type": "TableRow", "cells": [
            {"type": "TableCell", "items": [{"type": "TextBlock", "text": text, "isSubtle": True}]}
            for text in texts]}
        body[i] = {**table, "rows": [*rows[: len(rows) - count], marker, *total]}
    return {**card, "body": body}

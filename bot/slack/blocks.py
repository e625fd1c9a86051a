"""Render a Reply as a Slack slash-command response (Block Kit + fallback text).

User-supplied text (deal names, notes) only ever goes into `plain_text` objects, escaped code
blocks, or escaped mrkdwn, and the top-level `text` fallback is escaped by the same rule
(`slack_escape`), so it can never mention @channel, link, or break the markup.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.replies import Reply, Section, render_table_text
from reports.i18n import Translator, translator
from reports.slack_text import (
    MAX_BLOCKS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_TEXT,
    clip,
    code_blocks,
    slack_escape,
)
from reports.slack_text import plain_text as _plain

escape_mrkdwn = slack_escape  # the three characters Slack treats as control sequences


def _section_blocks(section: Section) -> list[dict]:
    blocks: list[dict] = []
    if section.title:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": f"*{escape_mrkdwn(section.title)}*",
                                "verbatim": True}})
    if section.lines:
        blocks.append({"type": "section", "text": _plain("\n".join(section.lines))})
    fields = list(section.fields)
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({
            "type": "section",
            "fields": [_plain(f"{label}: {value}", MAX_FIELD_TEXT)
                       for label, value in fields[start : start + MAX_FIELDS]],
        })
    if section.table:
        lines = [escape_mrkdwn(raw.replace("`", "ˋ")) for raw in render_table_text(section.table)]
        for chunk in code_blocks(lines):
            blocks.append({"type": "section",
                           "text": {"type": "mrkdwn", "text": chunk, "verbatim": True}})
    if section.context:
        blocks.append({"type": "context", "elements": [_plain(section.context)]})
    return blocks


UNDO_ACTION = "kpi_undo"  # action_id of the Undo button (bot/slack/interactive.py)
UndoValue = Callable[[int], str]  # event id -> the button's signed value (interactive/values.py)


def undo_button(value: str, t: Translator | None = None) -> dict:
    """The Undo button under a logged event, labelled in the language of `t`."""
    label = (t or translator("en")).gettext("Undo")
    return {"type": "actions", "block_id": "kpi_undo", "elements": [{
        "type": "button", "action_id": UNDO_ACTION, "text": _plain(label), "value": value}]}


def with_mentions(escaped: str, user_ids: tuple[str, ...]) -> str:
    """`escaped` text with the mentions of `user_ids` (and only those) rendered again: a
    person the handler names by id (`<@U123>`, no name known yet) shows as Slack's name."""
    for user_id in user_ids:
        escaped = escaped.replace(slack_escape(f"<@{user_id}>"), f"<@{user_id}>")
    return escaped


def _headline(reply: Reply) -> dict:
    headline = reply.text if reply.ok else f":warning: {reply.text}"
    if not reply.mentions:
        return {"type": "section", "text": _plain(headline)}
    return {"type": "section", "text": {"type": "mrkdwn", "verbatim": True, "text": clip(
        with_mentions(escape_mrkdwn(headline), reply.mentions), MAX_TEXT)}}


def render_blocks(reply: Reply, undo_value: UndoValue | None = None) -> list[dict]:
    """The reply as blocks; with `undo_value`, a logged event gets its Undo button. The
    renderer's own words are in the reply's language (`reply.language`)."""
    t = translator(reply.language)
    blocks: list[dict] = [_headline(reply)]
    for section in reply.sections:
        blocks.extend(_section_blocks(section))
    room = MAX_BLOCKS - (1 if reply.undo_event and undo_value else 0)
    if len(blocks) > room:
        blocks = blocks[: room - 1] + [
            {"type": "context",
             "elements": [_plain(t.gettext("(shortened: too long for one message)"))]}
        ]
    if reply.undo_event and undo_value:
        blocks.append(undo_button(undo_value(reply.undo_event), t))
    return blocks


def render_slash_response(reply: Reply, undo_value: UndoValue | None = None) -> dict:
    """The JSON body that answers a slash command (ephemeral unless the reply is public)."""
    if reply.digest is not None:
        from reports.digest.render import render_slack

        message = render_slack(reply.digest)
        blocks = render_blocks(reply) + message["blocks"]
        return {"response_type": "in_channel" if reply.public else "ephemeral",
                "text": clip(message["text"], MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}
    return {
        "response_type": "in_channel" if reply.public else "ephemeral",
        "text": clip(with_mentions(slack_escape(reply.plain_text()), reply.mentions), MAX_TEXT),
        "blocks": render_blocks(reply, undo_value),
    }

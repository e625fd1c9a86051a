"""The one escaping rule for text kpibot posts to Slack, blocks and `text` fallback alike.

Slack reads `&`, `<` and `>` as control sequences in every mrkdwn text and in a message's
top-level `text` (the notification and fallback): `<!channel>`, `<!here>`, `<@U…>`, `<#C…>`
and `<https://…|…>` mention, name or link. `slack_escape` turns the three into entities, so a
string a user typed shows as typed and can never do any of that. Every renderer that posts to
Slack (bot/slack/blocks.py for replies, reports/digest/render.py for digests) uses it.
"""

from __future__ import annotations


def slack_escape(value: object) -> str:
    """`value` shown literally by Slack: `&`, `<`, `>` as entities (nothing mentions or links)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

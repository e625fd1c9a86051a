"""Adaptive Cards from replies: valid against the official v1.5 schema, user text inert."""

from __future__ import annotations

import json

import pytest

from bot.replies import Reply, Section, error_reply
from bot.teams.cards import MAX_CARD_BYTES, card_attachment, render_card, workflow_body
from tests.bot.teams.card_schema import assert_valid_card, card_errors

RICH = Reply(
    text="Funnel this month",
    sections=(
        Section(title="Stages", table=(("stage", "deals", "conversion"),
                                       ("lead", "120", "—"), ("mql", "60", "50% (60/120)"),
                                       ("won", "9", "n/a"))),
        Section(fields=(("Revenue", "$112,000"), ("Win rate", "38% (19/50)"))),
        Section(lines=("Stalled: acme (demo, 21 days)", "globex (proposal, 9 days)"),
                context="Median days between stages; deals that left the stage this month."),
    ),
)


def _texts(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") in ("TextRun", "TextBlock") else []
        return found + [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


@pytest.mark.parametrize("reply", [
    RICH,
    Reply(text="Logged demo-booked acme (#1)", sections=(Section(context="Wrong? /kpi undo 1"),)),
    error_reply('"wonn" is not an event', usage="/kpi log EVENT", example="/kpi log won acme"),
    Reply(text="multi\nline headline"),
    Reply(text=""),
])
def test_cards_validate_against_the_official_schema(reply):
    card = render_card(reply)
    assert_valid_card(card)
    assert card["fallbackText"] == reply.plain_text()


def test_the_schema_check_is_strict():
    card = render_card(RICH)
    assert card_errors({**card, "msteams": {"width": "Full"}})
    broken = json.loads(json.dumps(card))
    broken["body"][0]["inlines"][0]["weight"] = "Heavy"
    assert card_errors(broken)


def test_tables_and_fields_keep_every_value_in_order():
    card = render_card(RICH)
    texts = _texts(card)
    for value in ("stage", "lead", "120", "50% (60/120)", "Revenue", "$112,000", "38% (19/50)",
                  "Stalled: acme (demo, 21 days)"):
        assert value in texts
    table = card["body"][1]["items"][1]
    assert table["type"] == "Table" and table["firstRowAsHeader"] is True
    assert [c.get("horizontalCellContentAlignment") for c in table["columns"]] == [
        None, "Right", None]


def test_user_text_is_never_markdown_or_a_mention():
    nasty = '*bold* [click](http://evil.example) <at>Everyone</at> @channel _x_'
    card = render_card(Reply(text=f"Logged demo-booked {nasty} (#3)",
                             sections=(Section(lines=(f"note: {nasty}",)),)))
    assert_valid_card(card)
    runs = [n for n in _walk(card) if n.get("type") == "TextRun"]
    assert any(nasty in run["text"] for run in runs)
    assert not [n for n in _walk(card) if n.get("type") == "TextBlock"]  # TextBlocks do markdown
    assert "selectAction" not in json.dumps(card) and "msteams" not in card


def test_errors_are_marked():
    card = render_card(error_reply("12kk is not an amount", usage="/kpi log ...",
                                   example="/kpi log won acme 12k"))
    headline = card["body"][0]["inlines"][0]
    assert headline["color"] == "Attention" and headline["text"].startswith("⚠")


def test_huge_replies_are_shortened_to_one_teams_message():
    rows = (("deal", "stage", "days"),) + tuple((f"deal-{i} " + "x" * 60, "demo", str(i))
                                                 for i in range(500))
    card = render_card(Reply(text="Stalled deals", sections=tuple(
        Section(title=f"Team {n}", table=rows) for n in range(6))))
    assert_valid_card(card)
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_CARD_BYTES
    assert "shortened" in json.dumps(card)


def test_control_characters_are_removed():
    card = render_card(Reply(text="a\x00b\x1bc"))
    assert card["body"][0]["inlines"][0]["text"] == "a b c"


def test_attachment_and_workflow_envelopes():
    card = render_card(RICH)
    assert card_attachment(card) == {"contentType": "application/vnd.microsoft.card.adaptive",
                                     "content": card}
    assert workflow_body(card) == {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                         "contentUrl": None, "content": card}],
    }


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)

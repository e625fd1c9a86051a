"""A reply's table is laid out once, however often it is rendered (the blocks and the
fallback text of a Slack reply both show it; the same figures are often asked again)."""

from __future__ import annotations

from bot import replies
from bot.replies import Reply, Section, render_table_text
from bot.slack.blocks import render_slash_response

TABLE = (("stage", "deals", "conversion"), ("lead", "1,204", "—"), ("mql", "310", "25.7%"),
         ("won", "12", "3.9%"))


def test_a_table_is_laid_out_once_for_the_blocks_and_the_text(monkeypatch):
    checked: list[str] = []
    looks_numeric = replies.looks_numeric

    def counted(cell: str) -> bool:
        checked.append(cell)
        return looks_numeric(cell)

    monkeypatch.setattr(replies, "looks_numeric", counted)
    replies._table_lines.cache_clear()  # an earlier test may have laid TABLE out
    reply = Reply(text="Funnel", sections=(Section(table=TABLE),))
    first = render_slash_response(reply)
    # once: lead, 1,204, 310, 12 (a numeric column), then "—" (not one, the column stops)
    assert checked == ["lead", "1,204", "310", "12", "—"]
    assert render_slash_response(reply) == first
    assert len(checked) == 5
    assert "1,204" in first["text"] and "1,204" in first["blocks"][1]["text"]["text"]


def test_the_lines_are_the_same_for_rows_given_as_lists():
    assert render_table_text(TABLE) == render_table_text([list(row) for row in TABLE]) == [
        "stage  deals  conversion", "lead   1,204  —", "mql      310  25.7%",
        "won       12  3.9%"]

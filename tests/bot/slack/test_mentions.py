"""A reply names a person kpibot has no name for by mention (`<@U…>`, Slack shows the name):
only the mentions the handler put there are rendered; everything else stays escaped."""

from __future__ import annotations

from bot.replies import Reply, Section
from bot.slack.blocks import render_slash_response


def test_only_the_mentions_a_handler_vouches_for_are_rendered():
    reply = Reply(text='Quota set: <@U_CY> — note "<@U_OTHER> <!channel> *bold*"',
                  sections=(Section(lines=("<@U_CY> in a line stays text",)),),
                  mentions=("U_CY",))
    body = render_slash_response(reply)
    headline = body["blocks"][0]["text"]
    assert headline["type"] == "mrkdwn" and headline["verbatim"] is True
    assert headline["text"].startswith("Quota set: <@U_CY> — ")
    for text in (headline["text"], body["text"]):
        assert "<@U_OTHER>" not in text and "<!channel>" not in text
        assert "&lt;@U_OTHER&gt;" in text and "&lt;!channel&gt;" in text
    plain = Reply(text="Quota set: <@U_CY>")  # no mention vouched for: shown as typed
    assert render_slash_response(plain)["blocks"][0]["text"]["type"] == "plain_text"

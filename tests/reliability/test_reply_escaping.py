"""User text can never mention, name or link in anything the bot posts (issue 14, item 3).

Signed slash commands over real HTTP into the running bot carry `<!channel>`, `<!here>`,
`<@U…>`, `<#C…>`, `<https://…|…>` and friends in deal names, notes, reasons and unknown words;
no reply's top-level `text` (the notification fallback, read as mrkdwn) nor any mrkdwn block
may carry one live. `plain_text` objects are inert by definition and may show them literally.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.harness import SECRET, TEAM
from tests.support.slack_signing import post_slash_command

pytestmark = pytest.mark.reliability

LIVE = re.compile(r"<\s*[!@#]|<\s*(https?|mailto|tel|slack):", re.IGNORECASE)
NASTY = ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<@W0X|boss>", "<#C0GEN|general>",
         "<https://evil.example|click>", "<http://x>", "<mailto:a@b.example|mail>",
         "<!subteam^S0TEAM>", "<!date^1392734382^{date}|x>", "< !here>")
WORDS = ("pub", "acme", "big deal", "&amp;", "&lt;!channel&gt;", "*b*", "_i_", "`c`", "~s~")
TEMPLATES = (
    'log demo-booked "{x}" public',
    "log deal-lost acme reason={x}",
    'log deal-lost "{x}" reason=price competitor={x}',
    'log call "{x}" 2 note {x}',
    "log won {x} 12k",
    "{x}",
    "log {x}",
    "funnel {x}",
    "show {x}",
    "quota set {x} 10k",
    "undo {x}",
)
FOLLOW_UPS = ("loss-reasons public", "funnel this-month public", "leaderboard public",
              "me public", "show stalled-deals public")


def texts_read_as_markup(payload: dict) -> list[str]:
    """The top-level `text` and every mrkdwn text of the reply's blocks."""
    found = [payload.get("text", "")]
    for block in payload.get("blocks", []):
        objects = [block.get("text")] + list(block.get("fields", [])) \
            + list(block.get("elements", []))
        found += [o["text"] for o in objects
                  if isinstance(o, dict) and o.get("type") == "mrkdwn" and "text" in o]
    return found


def live_markup(payload: dict) -> list[str]:
    return [text for text in texts_read_as_markup(payload) if LIVE.search(text)]


def send(base_url: str, text: str) -> dict:
    status, payload, _ = post_slash_command(base_url, text, secret=SECRET, team_id=TEAM,
                                            user_id="U0ESC", user_name="esc", channel_id="C0ESC")
    assert status == 200 and isinstance(payload, dict), (text, status, payload)
    return payload


def test_the_reported_cases_post_no_live_mention(slack_server):
    for text in ('log demo-booked "<!channel> pub" public', "log deal-lost acme reason=<!channel>",
                 "loss-reasons public", 'log won "<https://evil.example|click>" 5k public',
                 "<@U0BOSS>"):
        payload = send(slack_server, text)
        assert live_markup(payload) == [], (text, payload["text"])
    assert "&lt;!channel&gt;" in send(slack_server, "loss-reasons public")["text"]


def test_fuzzed_user_text_never_reaches_a_reply_live(slack_server, sizes, figures):
    replies = []

    @settings(max_examples=max(sizes.fuzz_examples // 2, 40), deadline=None, database=None,
              derandomize=not sizes.long,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(template=st.sampled_from(TEMPLATES),
           parts=st.lists(st.sampled_from(NASTY + WORDS), min_size=1, max_size=3),
           follow_up=st.sampled_from(FOLLOW_UPS))
    def run(template: str, parts: list[str], follow_up: str) -> None:
        x = " ".join(parts).replace('"', "")
        for text in (template.format(x=x), follow_up):
            payload = send(slack_server, text)
            replies.append(payload)
            assert live_markup(payload) == [], (text, live_markup(payload))

    run()
    figures.add(requests_sent=len(replies), live_mentions=0)

"""The buttons under a posted Slack digest (answered in bot/slack/interactive.py)."""

from __future__ import annotations

from reports.i18n import translator

DIGEST_FUNNEL = "kpi_digest_funnel"
DIGEST_STALLED = "kpi_digest_stalled"
DIGEST_PAUSE = "kpi_digest_pause"
MAX_MESSAGE_BLOCKS = 50


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def with_digest_buttons(blocks: list[dict], language: str = "en") -> list[dict]:
    """A digest message's blocks with its buttons, labelled in the digest's `language`: the
    funnel and the stalled deals (answered to the clicker only) and, for admins, pausing the
    channel's digest."""
    t = translator(language)
    actions = {"type": "actions", "block_id": "kpi_digest", "elements": [
        {"type": "button", "action_id": DIGEST_FUNNEL, "text": _plain(t.gettext("Funnel")),
         "value": "funnel"},
        {"type": "button", "action_id": DIGEST_STALLED,
         "text": _plain(t.gettext("Stalled deals")), "value": "stalled"},
        {"type": "button", "action_id": DIGEST_PAUSE, "text": _plain(t.gettext("Pause digest")),
         "value": "pause", "confirm": {
             "title": _plain(t.gettext("Pause the digest?")),
             "text": _plain(t.gettext("No digest will be posted here until an admin runs "
                                      "{command} again.", command="/kpi digest here")),
             "confirm": _plain(t.gettext("Pause")), "deny": _plain(t.gettext("Keep it"))}}]}
    return [*blocks[: MAX_MESSAGE_BLOCKS - 1], actions]

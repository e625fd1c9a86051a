"""How `kpibot serve` stops on SIGTERM or SIGINT (a deployment's stop, Ctrl-C): gracefully.

1. The digest scheduler fires nothing more (its jobs and minute tick are paused).
2. The server stops listening (a new connection is refused: the load balancer or Slack tries
   elsewhere) and answers the requests it already received, each within its own deadline
   (under Slack's 3 s); it waits for them, for the commands answered "cannot tell yet" whose
   outcome follows (bot/core.py), and for the follow-ups they started (a modal's
   confirmation, a late outcome on Slack or Teams), up to the grace time, at least
   `REQUEST_DRAIN_SECONDS` (`request_drain`).
3. The digests being sent get what is left of the grace time (`KPIBOT_SHUTDOWN_GRACE_SECONDS`,
   counted from the signal) to finish; nothing new is claimed. A delivery still running then
   is cancelled and its claim handed back to the ledger (storage/digests.py `release_claim`):
   the next process to run a catch-up (the restarted server, another worker's tick) takes it
   over at once, and first looks for an attempt that may have posted in the channel by its
   slot key, so it is posted exactly once.
4. One line says what was done, and the process exits 0.

A second signal while stopping changes nothing (the grace time is already bounded); a
supervisor that loses patience sends SIGKILL, and then the ledger's lease recovers the claims.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

log = logging.getLogger("kpibot")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Requests already received are waited for at least this long: each has a deadline under 3 s.
REQUEST_DRAIN_SECONDS = 5.0


class Shutdown:
    """The stop of one serving process: `requested` is set by the first SIGTERM or SIGINT."""

    def __init__(self, grace: float, *, who: str = "kpibot",
                 monotonic: Callable[[], float] = time.monotonic,
                 on_request: Callable[[], object] | None = None) -> None:
        self.grace, self.who, self.monotonic = grace, who, monotonic
        self.on_request = on_request
        self.requested = asyncio.Event()
        self.signal_name: str | None = None
        self._at: float | None = None

    def install(self) -> None:
        """Handle SIGTERM and SIGINT on the running event loop (instead of dying at once)."""
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self.request, signal.Signals(signum).name)

    def request(self, reason: str = "stop") -> None:
        """Start stopping (a signal's name as `reason`); a second request only says so."""
        if self.requested.is_set():
            log.info("%s: %s received: already stopping (at most %.0f s more)", self.who,
                     reason, self.remaining())
            return
        self.signal_name, self._at = reason, self.monotonic()
        log.info("%s: %s received: stopping (no new connections; requests in flight "
                 "answered; digests in flight given up to %.0f s)", self.who, reason, self.grace)
        self.requested.set()
        if self.on_request is not None:
            self.on_request()

    @property
    def request_drain(self) -> float:
        """How long the requests (or Socket Mode envelopes) in flight are waited for."""
        return max(REQUEST_DRAIN_SECONDS, self.grace)

    def remaining(self) -> float:
        """Seconds of the grace time left (all of it before the signal)."""
        return max(0.0, self.grace - self._elapsed())

    async def drain_follow_ups(self, slack_app, teams=None) -> str:
        """What the requests just answered still post, within the requests' time (at least
        1 s more each): the outcome of commands answered "cannot tell yet" (bot/core.py),
        then Slack's follow-ups (a modal's confirmation, a button's answer) and Teams' late
        messages."""
        from bot.core import drain_late_answers

        def budget() -> float:
            return max(1.0, self.request_drain - self._elapsed())

        cut = [f"{left} {what} cut off" for left, what in (
            (await drain_late_answers(budget()), "late answer(s)"),
            (await self._drain_slack(slack_app, budget()), "Slack follow-up(s)"),
            (await teams.drain(budget()) if teams is not None else 0, "Teams late message(s)"),
        ) if left]
        return ", ".join(cut)

    @staticmethod
    async def _drain_slack(slack_app, timeout: float) -> int:
        if slack_app is None:
            return 0
        from bot.slack.app import drain_follow_ups

        return await drain_follow_ups(slack_app, timeout)

    def _elapsed(self) -> float:
        return 0.0 if self._at is None else self.monotonic() - self._at

    async def drain_digests(self, scheduler) -> str:
        """Let the digests in flight finish within the grace time left, hand back the rest
        (`DigestScheduler.drain`); what was done, for the last line."""
        if scheduler is None:
            return "no digest scheduler"
        finished, released = await scheduler.drain(self.remaining())
        text = f"{finished} digest task(s) finished"
        if released:
            text += f", {released} digest claim(s) handed back to the next process"
        return text

    def stopped(self, *details: str) -> None:
        log.info("%s stopped (%s): %s", self.who, self.signal_name or "stop",
                 "; ".join(detail for detail in details if detail) or "nothing in flight")

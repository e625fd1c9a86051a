"""`SchedulerHandle`: what the command handlers hold of the digest scheduler, without
importing it (APScheduler, delivery): `kpibot serve` starts the scheduler once it listens."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.digests.scheduler import DigestScheduler
    from storage.models import DigestSchedule

# How long `send_now` waits for a scheduler that is still starting (a few tens of ms after
# the server listens); within a chat command's deadline.
STARTING_SECONDS = 1.5


class SchedulerHandle:
    """The `DigestControl` handlers see: forwards to the scheduler once one runs here.

    `kpibot serve` answers commands while its scheduler is still starting (`expect`, then
    `settled` once it runs or failed): a digest sent in that moment waits for it, rather than
    being told that no scheduler runs in this process."""

    def __init__(self) -> None:
        self.scheduler: DigestScheduler | None = None
        self._settled = threading.Event()
        self._settled.set()

    def expect(self) -> None:
        """A scheduler is starting in this process: `send_now` waits for `settled`."""
        self._settled.clear()

    def settled(self) -> None:
        """The scheduler runs (or could not start): nothing more to wait for."""
        self._settled.set()

    def attach(self, scheduler: DigestScheduler) -> None:
        self.scheduler = scheduler

    def schedules_changed(self) -> None:
        # Before the scheduler's start the change needs no call: its start reads the rows.
        if self.scheduler is not None:
            self.scheduler.schedules_changed()

    def send_now(self, schedule: DigestSchedule) -> bool:
        """Called from a worker thread (the handlers'), never on the event loop."""
        self._settled.wait(STARTING_SECONDS)
        return self.scheduler is not None and self.scheduler.send_now(schedule)

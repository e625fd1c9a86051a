"""Identical digests are composed, rendered and drawn once, however many channels get them.

When many schedules come due at the same minute (the Monday fan-out), channels of one
workspace with the same cadence, time zone and language get the same digest: the same SQL,
the same Block Kit message, the same chart. `SharedDigests` keys a composed digest by what
decides its content — workspace, cadence, time zone, language, the slot's instant, the
workspace's fiscal year start and its `history_version` (moved by any write that changes an
older deal time, so a backdated change composes anew) — and hands the same `Digest` to every
channel asking within `ttl` seconds. Concurrent askers wait for the one composition in flight
(single flight); a failure is not remembered.

The facts are shared one level further: digests that differ only by language (a workspace's
channels in English and in Norwegian) read the same facts, so their compositions share one
`RememberedFacts` answer book (reports/kpis/remembered.py), composed one after the other: the
second language reads only the workspace and its names.

A composed digest is forgotten as soon as the deliveries that wanted it are done (`hold` /
`release`, called by the deliverer around each delivery; those of one minute all start before
any finishes): a fan-out's digests, messages, charts and facts do not stay in memory until its
end or for the `ttl`. Digests asked for without a hold (a preview, the tests) keep the `ttl`.

The Slack message and the chart PNG are remembered per composed digest. Charts are drawn one at
a time (`draw_slots`), on a thread of this process (`InProcessCharts`) or by a child process
(`ChartProcess`, `kpibot serve --chart-process`: the second core, and matplotlib never imported
by the server; `close()` stops it), both in bot/digests/chart_process.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bot.digests.chart_process import ChartProcess, InProcessCharts
from bot.digests.compose import UnknownWorkspace, compose_digest
from bot.digests.malloc import trim_malloc
from bot.digests.threads import in_database_thread
from reports.digest.model import Digest
from storage.engine import Database
from storage.models import DigestSchedule, Workspace

DEFAULT_TTL = 300.0  # seconds a composed digest is handed out again
FULL_COLLECTION_EVERY = 8  # charts drawn between full collections (`_drawn_and_trimmed`)


@dataclass
class _Answers:
    """The facts read for one (workspace, cadence, time zone, slot, history), any language."""

    created: float
    book: dict = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _Entry:
    task: asyncio.Future  # -> Digest
    created: float
    message: dict | None = None
    chart: asyncio.Future | None = None  # -> bytes | None


@dataclass
class SharedDigests:
    """Compose-once memo for one process's digest deliveries (see the module docstring)."""

    ttl: float = DEFAULT_TTL
    monotonic: Callable[[], float] = time.monotonic
    draw_slots: int = 1
    compose: Callable[..., Digest] = compose_digest
    charts: ChartProcess | InProcessCharts = field(default_factory=InProcessCharts)
    composed: int = 0  # digests composed (the rest were shared)
    drawn: int = 0  # charts drawn
    _entries: dict[tuple, _Entry] = field(default_factory=dict)
    _by_digest: dict[int, _Entry] = field(default_factory=dict)
    _answers: dict[tuple, _Answers] = field(default_factory=dict)
    _wanted: Counter = field(default_factory=Counter)  # deliveries under way, by _wanted_key
    _draw_lock: asyncio.Semaphore | None = None

    async def digest(self, database: Database, schedule: DigestSchedule,
                     now: datetime) -> Digest:
        """The digest of `schedule` due at `now`, composed once per identical digest."""
        workspace = await in_database_thread(self._workspace, database,
                                             schedule.workspace_id)
        facts_key = (id(database.engine), schedule.workspace_id, schedule.cadence,
                     schedule.timezone, now, workspace.fiscal_year_start,
                     workspace.history_version)
        key = (*facts_key, schedule.language)
        self.expire()
        entry = self._entries.get(key)
        if entry is None:
            answers = self._answers.get(facts_key)
            if answers is None:
                answers = self._answers[facts_key] = _Answers(created=self.monotonic())
            task = asyncio.ensure_future(self._composed(database, schedule, now, answers))
            entry = self._entries[key] = _Entry(task=task, created=self.monotonic())
        try:
            digest = await asyncio.shield(entry.task)
        except BaseException:
            if self._entries.get(key) is entry and entry.task.done():
                del self._entries[key]  # a failure is tried again by the next asker
            raise
        self._by_digest.setdefault(id(digest), entry)
        return digest

    def slack_message(self, digest: Digest) -> dict:
        """`render_slack(digest)`, once per composed digest."""
        from reports.digest.render import render_slack

        entry = self._by_digest.get(id(digest))
        if entry is None:
            return render_slack(digest)
        if entry.message is None:
            entry.message = render_slack(digest)
        return entry.message

    async def chart_png(self, digest: Digest) -> bytes | None:
        """The chart PNG of `digest` (None when empty), drawn once per composed digest."""
        entry = self._by_digest.get(id(digest))
        if entry is None:
            return await self._draw(digest)
        if entry.chart is None or (entry.chart.done() and entry.chart.exception() is not None):
            entry.chart = asyncio.ensure_future(self._draw(digest))
        return await asyncio.shield(entry.chart)

    async def _draw(self, digest: Digest) -> bytes | None:
        if self._draw_lock is None:
            self._draw_lock = asyncio.Semaphore(self.draw_slots)
        async with self._draw_lock:
            self.drawn += 1
            return await asyncio.to_thread(_drawn_and_trimmed, self.charts, digest,
                                           self.drawn % FULL_COLLECTION_EVERY == 0)

    async def close(self) -> None:
        """Stop the chart process, if any (the scheduler's stop); a later chart starts a new
        one."""
        await asyncio.to_thread(self.charts.close)

    async def _composed(self, database: Database, schedule: DigestSchedule, now: datetime,
                        answers: _Answers) -> Digest:
        async with answers.lock:  # one language after the other: the second reuses the facts
            return await in_database_thread(self._compose, database, schedule, now,
                                            answers.book)

    def _compose(self, database: Database, schedule: DigestSchedule, now: datetime,
                 book: dict) -> Digest:
        self.composed += 1
        return self.compose(database=database, workspace_id=schedule.workspace_id,
                            cadence=schedule.cadence, timezone=schedule.timezone,
                            language=schedule.language, now=now, answers=book)

    def hold(self, schedule: DigestSchedule) -> tuple:
        """A delivery of `schedule` begins: its digest is kept until `release`."""
        wanted = _wanted_key(schedule)
        self._wanted[wanted] += 1
        return wanted

    @contextlib.contextmanager
    def holding(self, *schedules: DigestSchedule) -> Iterator[None]:
        """`hold` each of `schedules` for the duration of the block, then `release` them."""
        held = [self.hold(schedule) for schedule in schedules]
        try:
            yield
        finally:
            for wanted in held:
                self.release(wanted)

    def release(self, wanted: tuple) -> None:
        """A delivery ended (`wanted`: what `hold` returned). When no delivery under way wants
        that digest any more, it is forgotten (digest, message, chart), and so are the facts
        it was composed from once no language of them is wanted."""
        self._wanted[wanted] -= 1
        if self._wanted[wanted] > 0:
            return
        del self._wanted[wanted]
        for key, entry in list(self._entries.items()):
            if _wanted_key_of(key) == wanted and entry.task.done() and \
                    (entry.chart is None or entry.chart.done()):
                self._forget(key, entry)
        if not any(other[:3] == wanted[:3] for other in self._wanted):
            for key, answers in list(self._answers.items()):
                if _wanted_key_of(key)[:3] == wanted[:3] and not answers.lock.locked():
                    del self._answers[key]

    def _forget(self, key: tuple, entry: _Entry) -> None:
        del self._entries[key]
        if not entry.task.cancelled() and entry.task.exception() is None:
            self._by_digest.pop(id(entry.task.result()), None)

    def remembered(self) -> int:
        """How many composed digests are kept."""
        return len(self._entries)

    @staticmethod
    def _workspace(database: Database, workspace_id: str) -> Workspace:
        with database.read() as session:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                raise UnknownWorkspace(f"no workspace {workspace_id!r}")
            return workspace

    async def rest(self) -> None:
        """Stop the chart process (if any) once no chart was asked for `ttl` seconds, or reap
        it if it died (the minute tick): its memory is given back until the next fan-out."""
        await asyncio.to_thread(self.charts.close_if_idle, self.ttl)

    def expire(self) -> None:
        """Forget digests composed more than `ttl` ago (the minute tick calls this too, so a
        fan-out's digests do not stay in memory until the next one)."""
        cutoff = self.monotonic() - self.ttl
        for key, entry in list(self._entries.items()):
            if entry.created < cutoff and entry.task.done():
                self._forget(key, entry)
        for key, answers in list(self._answers.items()):
            if answers.created < cutoff and not answers.lock.locked():
                del self._answers[key]


def _wanted_key(schedule: DigestSchedule) -> tuple:
    return (schedule.workspace_id, schedule.cadence, schedule.timezone, schedule.language)


def _wanted_key_of(key: tuple) -> tuple:
    """The `_wanted_key` part of an entry's key (or, without the language, of a facts key)."""
    return (key[1], key[2], key[3], *key[7:8])


def _drawn_and_trimmed(charts: ChartProcess | InProcessCharts, digest: Digest,
                       full_collection: bool = False) -> bytes | None:
    """The chart PNG (`charts.draw`); then, when asked, a full collection; then the heap's free
    pages go back to the system (`trim_malloc`): a chart drawn here frees several megabytes of
    buffers in the middle of the heap, which glibc would otherwise keep for the rest of the
    process (and the deliveries in flight free memory there too).

    A chart collects its own garbage from the young generations (reports/digest/chart.py);
    the deliveries' reference cycles (sessions, tasks) that reach the oldest generation wait
    for a full collection, which Python starts only once that generation has grown by a
    quarter: one every `FULL_COLLECTION_EVERY` charts keeps the fan-out's memory flat for a
    few percent of the cost of one after every chart."""
    try:
        return charts.draw(digest.chart)
    finally:
        if full_collection:
            gc.collect()
        trim_malloc()

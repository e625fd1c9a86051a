"""`kpibot serve --workers N`: N server processes answering on one port (pre-fork).

One process serves requests on one core at most (Python, one event loop). The master binds
the port, imports the bot's modules (shared copy-on-write by the children), then forks N
workers; each builds its own bot (database engine, Slack app). Nothing with a thread, a
connection or an event loop exists before the fork.

Each worker listens on a socket of its own bound to the same port with SO_REUSEPORT, and the
kernel spreads new connections over them. On one inherited socket the workers race to accept,
and the one that wins takes every waiting connection at once (asyncio accepts up to the
backlog per wake-up): 32 keep-alive clients ended up 32/0, 30/2 or 24/8, so one worker was
saturated while the other idled. Without SO_REUSEPORT (not Linux or BSD) they share one socket.

The digest scheduler's cron jobs and minute tick run in worker 0 only, so each slot is fired
in exactly one place (the ledger would stop a double post anyway). Every worker can still
deliver a `/kpi digest now` it answered (the scheduler in delivery-only mode); a schedule
changed in another worker reaches worker 0's jobs within a minute, by the tick.

Each worker checkpoints SQLite's WAL on a thread of its own (storage/checkpoints.py): several
PASSIVE checkpoints are harmless to each other, and a worker's requests never wait for one.

The master waits for its workers. SIGTERM or SIGINT is passed on to them all as SIGTERM: each
stops gracefully (bot/cli/shutdown.py: no new connections, requests in flight answered,
digests in flight finished within KPIBOT_SHUTDOWN_GRACE_SECONDS or handed back), and the
master exits 0 once they have, or kills those still running after the grace time and a
margin (`stop_bound`) and exits 1. SIGTERM and SIGINT are blocked from before the first fork
until each process can handle them (the master its handlers, a worker its event loop), so a
signal arriving while they start is acted on, never lost nor fatal to one process alone. A
worker that exits on its own stops the others too, and the master exits non-zero, so a
supervisor restarts the whole server.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.wiring import Bot

log = logging.getLogger(__name__)


def listening_socket(host: str, port: int, backlog: int = 1024, *,
                     reuse_port: bool = False) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (IPv6 when `host` is an IPv6 address);
    `reuse_port`: one of several on the same port, each given its share of connections."""
    sock = _bound_socket(host, port, reuse_port=reuse_port)
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def _bound_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def stop_bound(grace: float) -> float:
    """Seconds the master waits for stopping workers before it kills them: the grace time
    their requests and digests get (requests at least REQUEST_DRAIN_SECONDS), and a margin
    to hand claims back and exit."""
    from bot.cli.shutdown import REQUEST_DRAIN_SECONDS

    return max(REQUEST_DRAIN_SECONDS, grace) + 15.0


def serve_workers(build: Callable[[], Bot], *, host: str, port: int, workers: int,
                  scheduler: bool = True, reuse_port: bool = REUSE_PORT,
                  grace: float = 20.0) -> int:
    """Fork `workers` processes serving on `host:port`; returns when they have all stopped
    (`grace`: the workers' KPIBOT_SHUTDOWN_GRACE_SECONDS, bounding the wait for them)."""
    import bot.server  # noqa: F401  (imported once, shared by the children)
    import bot.wiring  # noqa: F401
    from bot.cli.shutdown import SIGNALS

    if reuse_port:
        # Bound, never listening (it gets no connections): the port is checked and held
        # here, before any worker starts; each worker listens on a socket of its own.
        held = _bound_socket(host, port, reuse_port=True)
        port = held.getsockname()[1]
    else:
        held = listening_socket(host, port)
    log.info("kpibot listening on http://%s:%s with %d workers", host, port, workers)
    children: dict[int, int] = {}
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # until each process handles them
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                sock = held
                if reuse_port:
                    held.close()
                    sock = listening_socket(host, port, reuse_port=True)
                from storage.checkpoints import WalCheckpointer

                bot = build()
                with WalCheckpointer(bot.database.engine):  # one per worker: harmless
                    asyncio.run(_serve_worker(bot, sock, index,
                                              jobs=scheduler and index == 0, deliver=scheduler))
                code = 0
            except KeyboardInterrupt:
                code = 0
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                os._exit(code)
        children[pid] = index
    held.close()
    gc.enable()  # the supervisor's start-up is over (each worker turns it on when ready)
    return _supervise(children, stop_bound(grace))


def _supervise(children: dict[int, int], bound: float) -> int:
    """Wait for the workers; on SIGTERM or SIGINT stop them and wait up to `bound` seconds
    (then SIGKILL). 0 if they all stopped cleanly when asked, else 1."""
    from bot.cli.shutdown import SIGNALS

    stopping: str | None = None
    code = 0

    def stop_all(reason: str) -> None:
        nonlocal stopping
        if stopping is None:
            stopping = reason
            _signal_all(children, signal.SIGTERM)
            signal.setitimer(signal.ITIMER_REAL, bound)  # then `too_late`

    def on_signal(signum, _frame) -> None:
        log.info("%s received: stopping %d worker(s)", signal.Signals(signum).name,
                 len(children))
        stop_all(signal.Signals(signum).name)

    def too_late(_signum, _frame) -> None:
        nonlocal code
        log.error("worker(s) %s still running %.0f s after the stop: killed",
                  sorted(children.values()), bound)
        code = 1
        _signal_all(children, signal.SIGKILL)

    signal.signal(signal.SIGALRM, too_late)
    for signum in SIGNALS:
        signal.signal(signum, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is None:
            continue
        exit_code = os.waitstatus_to_exitcode(status)
        if stopping is None:
            log.error("worker %d exited (status %d): stopping the others", index, exit_code)
            code = 1
            stop_all("a worker exited")
        elif exit_code != 0:
            log.error("worker %d ended with status %d while stopping", index, exit_code)
            code = 1
    signal.setitimer(signal.ITIMER_REAL, 0)
    if code == 0:
        log.info("kpibot stopped (%s): every worker finished its requests and digests",
                 stopping)
    return code


def _signal_all(children: dict[int, int], signum: int) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signum)


async def _serve_worker(bot: Bot, sock: socket.socket, index: int, *, jobs: bool,
                        deliver: bool) -> None:
    from bot.cli.serve import freeze_startup_objects
    from bot.cli.shutdown import SIGNALS, Shutdown
    from bot.server import build_web_app, run_web_app

    digest_scheduler = None
    shutdown = Shutdown(bot.settings.shutdown_grace, who=f"worker {index}",
                        on_request=lambda: digest_scheduler and digest_scheduler.pause())
    shutdown.install()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # blocked since before the fork
    if deliver:
        digest_scheduler = bot.build_digest_scheduler()
        await digest_scheduler.start(jobs=jobs)
    web_app = build_web_app(database=bot.database, slack_app=bot.slack_app,
                            slack_signing_secret=bot.slack_signing_secret, teams=bot.teams,
                            api=bot.api)
    freeze_startup_objects()  # as in a single-process serve
    log.info("worker %d (pid %d) serving%s", index, os.getpid(),
             " and running the digest jobs" if jobs else "")
    await run_web_app(web_app, host="", port=0, sock=sock, stop=shutdown.requested,
                      drain_seconds=shutdown.request_drain)
    follow_ups = await shutdown.drain_follow_ups(bot.slack_app, bot.teams)
    shutdown.stopped("requests in flight answered", follow_ups,
                     await shutdown.drain_digests(digest_scheduler))

"""PostgreSQL: the caller's workspace and user rows guessed, and checked in the command's own
first round trip.

Every chat command that touches the database reads the caller's workspace and user rows first
(storage/workspaces.py `workspace_and_user`): on PostgreSQL a round trip and a pool checkout of
their own before the command's own work (issue 18: `/kpi log` ≤ 2× ping, the funnel ≤ 0.2× its
SQL floor). A process that has read a (workspace, user) before remembers the row it read
(`remember`, a bounded LRU per engine, so never used on another database) and the core
(bot/core.py) may answer a command from that guess (`recall`) instead, on condition that the
command's first transaction checks it: a `WorkspaceCheck` given to the command's `Database`
(`Database.checking`) is taken by whatever opens that transaction and sent as the statement
right after its BEGIN and settings (storage/plans.py for a read, storage/pg_begin.py for a
write), in the same round trip, snapshot and checkout.

The check is one plain-SQL statement (`CHECK`, no function, no migration): the md5 of the row
as the server prints it (every column of the workspace, the user's id, name and email, the
digest `workspace_and_user` read with the row) against the digest guessed; when they differ or
the row is gone it fails the transaction with a recognisable error (`missed`: a text that is no
integer, cast to one), so every statement after it in the pipeline is skipped, a pipelined
COMMIT included: a write on a wrong guess stores nothing. The core then forgets the guess and
answers the command again the normal way. What the check compares is the whole row, so a
change by any process (another worker, an admin's `/kpi settings`) makes the guess miss: the
memo needs no invalidation to be right, and correctness never depends on it (with two worker
processes each has its own).

A write whose COMMIT goes out in its first pipeline (`Database.write_one`) needs an instant on
the server's clock no later than the command's deadline (`Database.note_server_clock`), which
the workspace read gave. A guessed command has no such read: the engine's last answered clock
(`server_clock`, from the workspace reads and the checks) serves, if younger than
`CLOCK_MAX_AGE_S`, moved back by `CLOCK_DRIFT` of its age (a server clock running slower than
ours by up to that rate still refuses a COMMIT past the deadline).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_GUESSES = 2048  # (workspace, user) pairs remembered per engine, least recently used dropped
CLOCK_MAX_AGE_S = 30.0  # an engine's server clock serves a guessed command this long
CLOCK_DRIFT = 0.001  # seconds of server clock counted lost per second of the clock's age
MISSED = "kpibot: the workspace guess missed"  # in the check's error
_INVALID_TEXT = "22P02"  # invalid_text_representation: the check's cast

# The digest of the workspace's row and the user's (the statement's FROM names them `workspaces`
# and `users`); `workspace_and_user`'s statement reads it too (storage/workspaces.py).
DIGEST_SQL = "md5(CAST(ROW(workspaces.*, users.id, users.display_name, users.email) AS text))"

# 1 when the row's digest is the one guessed; else a cast of a text that is no integer (it
# depends on the count(*), so the server cannot fold it while planning) fails the transaction.
CHECK = (
    f"SELECT CAST(CASE WHEN max({DIGEST_SQL}) = %(kpibot_digest)s THEN '1' "
    f"ELSE '{MISSED} (' || count(*) || ')' END AS integer), statement_timestamp() "
    "FROM workspaces LEFT OUTER JOIN users ON users.workspace_id = workspaces.id "
    "AND users.id = %(kpibot_user)s WHERE workspaces.id = %(kpibot_workspace)s")

CHECK_NUMBERED = CHECK % {"kpibot_digest": "$1", "kpibot_user": "$2", "kpibot_workspace": "$3"}


@dataclass(frozen=True)
class Guess:
    """A (workspace, user) as `workspace_and_user` read it: the workspace's columns, the
    user's (name, email), the row's digest."""

    columns: tuple
    user: tuple[str | None, str | None]
    digest: str


@dataclass
class WorkspaceCheck:
    """One command's guess, to be checked by its first transaction (`take`, once)."""

    engine: Any
    workspace_id: str
    user_id: str
    digest: str
    sent: bool = field(default=False)

    def take(self) -> tuple[str, dict] | None:
        """The check's statement and values, the first time (then it is sent); None after."""
        if self.sent:
            return None
        self.sent = True
        return CHECK, {"kpibot_digest": self.digest, "kpibot_user": self.user_id,
                       "kpibot_workspace": self.workspace_id}

    def take_numbered(self) -> tuple[str, tuple] | None:
        """`take` with the server's `$n` placeholders and the values by position (a pipeline
        of statements prepared by name, storage/pg_batch.py)."""
        return None if self.take() is None else (
            CHECK_NUMBERED, (self.digest, self.user_id, self.workspace_id))

    def answered(self, rows: list[tuple], at: float) -> None:
        """The check's answer (its row: 1 and the server's clock), back at `at` (monotonic)."""
        if rows:
            note_clock(self.engine, rows[0][1], at)


class _Memo:
    """An engine's guesses (LRU, at most MAX_GUESSES) and its server clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.guesses: OrderedDict[tuple[str, str], Guess] = OrderedDict()
        self.clock: tuple[datetime, float] | None = None


def _memo(engine: Any) -> _Memo:
    engine = getattr(engine, "_proxied", engine)  # (an engine with options: its engine's)
    memo = engine.__dict__.get("_kpibot_workspace_guesses")
    if memo is None:
        memo = engine.__dict__.setdefault("_kpibot_workspace_guesses", _Memo())
    return memo


def remember(engine: Any, workspace_id: str, user_id: str, guess: Guess) -> None:
    """Keep what the workspace read answered, for the next command of this (workspace, user)."""
    memo = _memo(engine)
    with memo.lock:
        memo.guesses[workspace_id, user_id] = guess
        memo.guesses.move_to_end((workspace_id, user_id))
        while len(memo.guesses) > MAX_GUESSES:
            memo.guesses.popitem(last=False)


def recall(engine: Any, workspace_id: str, user_id: str) -> Guess | None:
    """The row remembered for this (workspace, user) on this engine, or None."""
    memo = _memo(engine)
    with memo.lock:
        guess = memo.guesses.get((workspace_id, user_id))
        if guess is not None:
            memo.guesses.move_to_end((workspace_id, user_id))
        return guess


def forget(engine: Any, workspace_id: str, user_id: str) -> None:
    """Drop the guess of this (workspace, user) (it missed)."""
    memo = _memo(engine)
    with memo.lock:
        memo.guesses.pop((workspace_id, user_id), None)


def forget_workspace(engine: Any, workspace_id: str) -> None:
    """Drop every guess of the workspace: this process is changing its row (its history
    version, storage/workspaces.py `note_history_change`), so they would miss."""
    memo = _memo(engine)
    with memo.lock:
        for key in [key for key in memo.guesses if key[0] == workspace_id]:
            del memo.guesses[key]


def remembered(engine: Any) -> int:
    """How many guesses the engine keeps."""
    return len(_memo(engine).guesses)


def note_clock(engine: Any, server_now: datetime, answered: float) -> None:
    """The server's `statement_timestamp()` of a statement whose answer was back at `answered`
    (monotonic): its clock was at least `server_now` then."""
    memo = _memo(engine)
    if memo.clock is None or memo.clock[1] <= answered:
        memo.clock = (server_now, answered)


def server_clock(engine: Any) -> tuple[datetime, float] | None:
    """(an instant on the server's clock, a monotonic instant at which the server's clock was at
    least that), from the engine's last answer, moved back by `CLOCK_DRIFT` of its age; None
    when there is none younger than `CLOCK_MAX_AGE_S`."""
    clock = _memo(engine).clock
    if clock is None:
        return None
    age = time.monotonic() - clock[1]
    if age > CLOCK_MAX_AGE_S:
        return None
    return clock[0] - timedelta(seconds=max(age, 0.0) * CLOCK_DRIFT), clock[1]


def missed(error: BaseException) -> bool:
    """Whether `error` (SQLAlchemy's, or the driver's) is the check's: the guess was wrong, so
    the transaction that sent it stored nothing."""
    return refused_with(error, MISSED)


def refused_with(error: BaseException, text: str) -> bool:
    """Whether `error` is a statement's refusal on purpose that names `text` (a text that is no
    integer, cast to one, as `CHECK` does; storage/deals.py `stamped_or_refused` too): nothing
    of its transaction was stored. Never a `CommitOutcomeUnknown`, whatever it carries: a
    write again after a COMMIT whose answer was lost (bot/handlers/log.py) may meet a refusal
    since, while the first COMMIT may have stored the event."""
    from storage.commit_unknown import CommitOutcomeUnknown

    if isinstance(error, CommitOutcomeUnknown):
        return False
    orig = getattr(error, "orig", None) or error
    return getattr(orig, "sqlstate", None) == _INVALID_TEXT and text in str(orig)

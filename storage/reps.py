"""Reps named in imported files: matching them to chat users, named reps, and `/kpi rep link`.

A CSV names people the way a CRM does ("Jane Doe", "jane@acme.com"). `RepDirectory` matches
such a name to a user of the workspace: by user id, then by email, then by display name. A name
that matches nobody becomes a *named rep*: a `users` row with the id `rep:<slug>` (for
example `rep:jane-doe`) that events are credited to until an admin links it to the chat user
with `link_rep`, which re-credits the named rep's events and keeps deals and rollups in step.

Every function takes the caller's session and runs inside the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from reports.events import MAX_USER_ID, UNASSIGNED_NAME, UNASSIGNED_USER
from storage.deals import refresh_deals
from storage.engine import dialect_insert
from storage.models import DailyRollup, Event, MonthlyRollup, User

NAMED_REP_PREFIX = "rep:"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NOT_WORD = re.compile(r"[^\w]+")


class RepError(ValueError):
    """A name that cannot be matched safely; str(error) is the user-facing problem."""


def is_named_rep(user_id: str) -> bool:
    return user_id.startswith(NAMED_REP_PREFIX)


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL_RE.match(text.strip()))


def rep_slug(name: str) -> str:
    """`Jane Doe` → `jane-doe`, `José Núñez` → `jose-nunez`, `王伟` → `王伟` (letters kept)."""
    text = unicodedata.normalize("NFKD", name.strip().casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    slug = _NOT_WORD.sub("-", text).replace("_", "-").strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[: MAX_USER_ID - len(NAMED_REP_PREFIX)].strip("-") or "unnamed"


def named_rep_id(name: str) -> str:
    return NAMED_REP_PREFIX + rep_slug(name)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class RepDirectory:
    """The users of one workspace, loaded once, for matching many names quickly.

    `resolve(name)` never writes: new named reps are remembered in `pending` and written by
    `create_pending(session)` (so a dry run can report them without storing anything).
    """

    workspace_id: str
    ids: set[str] = field(default_factory=set)
    by_email: dict[str, list[str]] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id →
    # (display name, email) of users to create
    created: list[tuple[str, str | None]] = field(default_factory=list)  # (id, name) written
    _cache: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, workspace_id: str) -> RepDirectory:
        directory = cls(workspace_id)
        rows = session.execute(
            select(User.id, User.display_name, User.email).where(User.workspace_id == workspace_id)
        ).all()
        for user_id, display_name, email in rows:
            directory._remember(user_id, display_name, email)
        return directory

    def _remember(self, user_id: str, display_name: str | None, email: str | None) -> None:
        self.ids.add(user_id)
        if email:
            self.by_email.setdefault(_norm(email), []).append(user_id)
        if display_name:
            self.by_name.setdefault(_norm(display_name), []).append(user_id)

    def resolve(self, name: str) -> str:
        """The user id for a name, id or email as written in a file (see the module doc)."""
        text = " ".join(name.split())
        if not text:
            raise RepError("the user is empty")
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        user_id = self._match(text)
        self._cache[text] = user_id
        return user_id

    def _match(self, text: str) -> str:
        if text in self.ids:
            return text
        key = _norm(text)
        for table, what in ((self.by_email, "email"), (self.by_name, "name")):
            found = table.get(key)
            if not found:
                continue
            people = [u for u in found if not is_named_rep(u)] or found
            if len(people) == 1:
                return people[0]
            raise RepError(f'the {what} "{text}" matches {len(people)} users '
                           f"({', '.join(sorted(people)[:4])}); use the user's id or email")
        rep_id = named_rep_id(text)
        if rep_id not in self.ids and rep_id not in self.pending:
            email = text if looks_like_email(text) else None
            self.pending[rep_id] = (text, email)
            self._remember(rep_id, text, email)
        return rep_id

    def ensure_id(self, user_id: str, display_name: str | None) -> str:
        """A user id given verbatim (an exported `user_id` column): created when missing."""
        if len(user_id) > MAX_USER_ID:
            raise RepError(f"the user id is {len(user_id)} characters long; the limit is "
                           f"{MAX_USER_ID}")
        if user_id not in self.ids and user_id not in self.pending:
            name = " ".join((display_name or "").split()) or None
            self.pending[user_id] = (name, None)
            self._remember(user_id, name, None)
        return user_id

    def create_pending(self, session: Session, *, now: datetime | None = None) -> int:
        """Write the users and named reps met since the last call; returns how many."""
        if not self.pending:
            return 0
        now = now or datetime.now(UTC)
        values = [
            {"workspace_id": self.workspace_id, "id": user_id,
             "display_name": (name or "")[:200] or None, "email": email, "is_admin": False,
             "created_at": now}
            for user_id, (name, email) in self.pending.items()
        ]
        insert = _insert_for(session)
        statement = insert(User.__table__).on_conflict_do_nothing()
        for start in range(0, len(values), 500):
            session.execute(statement, values[start : start + 500])
        count = len(self.pending)
        self.created.extend((user_id, name) for user_id, (name, _) in self.pending.items())
        self.pending.clear()
        return count


def prune_unused_named_reps(*, session: Session, workspace_id: str, ids: list[str]) -> set[str]:
    """Delete those of `ids` that are named reps without any event; returns the ids deleted.

    An import creates the named reps it meets before it knows whether their events are new;
    re-importing a file after `link_rep` would otherwise leave an empty named rep behind.
    """
    candidates = [i for i in ids if is_named_rep(i)]
    unused: set[str] = set()
    for start in range(0, len(candidates), 500):
        part = candidates[start : start + 500]
        used = set(session.scalars(
            select(Event.user_id).distinct().where(Event.workspace_id == workspace_id,
                                                   Event.user_id.in_(part))
        ).all())
        unused.update(set(part) - used)
    if unused:
        session.execute(sa.delete(User).where(User.workspace_id == workspace_id,
                                              User.id.in_(sorted(unused))))
    return unused


@dataclass(frozen=True)
class NamedRep:
    id: str
    display_name: str | None
    email: str | None
    events: int


def list_named_reps(*, session: Session, workspace_id: str) -> list[NamedRep]:
    """The workspace's named reps (not yet linked), with how many events each has; the team
    (UNASSIGNED_USER, events without a rep) is not one."""
    counts = dict(
        session.execute(
            sa.select(Event.user_id, sa.func.count())
            .where(Event.workspace_id == workspace_id,
                   Event.user_id.startswith(NAMED_REP_PREFIX, autoescape=True))
            .group_by(Event.user_id)
        ).all()
    )
    rows = session.scalars(
        select(User).where(User.workspace_id == workspace_id,
                           User.id.startswith(NAMED_REP_PREFIX, autoescape=True),
                           User.id != UNASSIGNED_USER)  # the team, not a person to link
        .order_by(User.id)
    ).all()
    return [NamedRep(r.id, r.display_name, r.email, counts.get(r.id, 0)) for r in rows]


@dataclass(frozen=True)
class LinkResult:
    events: int  # events re-credited
    deals: int  # deals refreshed


def link_rep(
    *, session: Session, workspace_id: str, rep_id: str, user_id: str,
    now: datetime | None = None,
) -> LinkResult:
    """`/kpi rep link`: credit everything of the named rep `rep_id` to the chat user `user_id`.

    Events (void ones too) move to the user; the daily rollup rows move with them (rollups are
    sums per (day, kind, user, source), so moving a user's rows is exact); every deal the rep's
    events touch is rewritten from its events. The rep's email is kept on the user when the
    user has none, and the named rep's row is removed. Raises RepError for a bad pair.
    """
    now = now or datetime.now(UTC)
    if not is_named_rep(rep_id):
        raise RepError(f'"{rep_id}" is not a named rep (named reps have ids like rep:jane-doe)')
    if rep_id == user_id:
        raise RepError("a named rep cannot be linked to itself")
    if rep_id == UNASSIGNED_USER:
        raise RepError(f"{UNASSIGNED_USER} is the team (events without a rep, shown as "
                       f"{UNASSIGNED_NAME}), not a person; it cannot be linked")
    if is_named_rep(user_id):
        raise RepError(f'"{user_id}" is a named rep too; link to a chat user')
    rep = session.get(User, (workspace_id, rep_id))
    if rep is None:
        raise RepError(f"there is no named rep {rep_id} in this workspace")
    user = session.get(User, (workspace_id, user_id))
    if user is None:
        user = User(workspace_id=workspace_id, id=user_id, display_name=None, email=None,
                    is_admin=False, created_at=now)
    if not user.email and rep.email:
        user.email = rep.email
    session.add(user)
    session.flush()

    deal_keys = sorted(
        key for key in session.scalars(
            select(Event.deal_key).distinct().where(
                Event.workspace_id == workspace_id, Event.user_id == rep_id,
                Event.deal_key.is_not(None))
        ).all() if key
    )
    moved = session.execute(
        sa.update(Event)
        .where(Event.workspace_id == workspace_id, Event.user_id == rep_id)
        .values(user_id=user_id)
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    _move_rollups(session, workspace_id, rep_id, user_id)
    refresh_deals(session=session, workspace_id=workspace_id, deal_keys=deal_keys, now=now)
    session.delete(rep)
    session.flush()
    return LinkResult(events=moved, deals=len(deal_keys))


def link_by_email(
    *, session: Session, workspace_id: str, user_id: str, email: str,
    now: datetime | None = None,
) -> list[tuple[NamedRep, LinkResult]]:
    """Link to the chat user `user_id` the named rep that has the same email (an import's
    `owner` column held it): its events now count for the user. Several named reps with that
    email are all the same person; the team is never one. Returns what was linked."""
    key = _norm(email)
    reps = [rep for rep in list_named_reps(session=session, workspace_id=workspace_id)
            if rep.email and _norm(rep.email) == key]
    return [(rep, link_rep(session=session, workspace_id=workspace_id, rep_id=rep.id,
                           user_id=user_id, now=now)) for rep in reps]


def _move_rollups(session: Session, workspace_id: str, from_user: str, to_user: str) -> None:
    """Move `from_user`'s daily and monthly rollups onto `to_user` (adding to theirs)."""
    for table, period in ((DailyRollup.__table__, "day"), (MonthlyRollup.__table__, "month")):
        _move_rollup_rows(session, table, period, workspace_id, from_user, to_user)
    session.flush()


def _move_rollup_rows(session: Session, table: sa.Table, period: str, workspace_id: str,
                      from_user: str, to_user: str) -> None:
    sums = ("events", "count_sum", "amount_sum", "duration_sum")
    rows = session.execute(
        sa.select(table.c[period], table.c.kind, table.c.source, *(table.c[s] for s in sums))
        .where(table.c.workspace_id == workspace_id, table.c.user_id == from_user)
    ).all()
    if not rows:
        return
    session.execute(
        sa.delete(table).where(table.c.workspace_id == workspace_id,
                               table.c.user_id == from_user)
    )
    insert = _insert_for(session)
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id", period, "kind", "user_id", "source"],
        set_={name: getattr(table.c, name) + getattr(statement.excluded, name) for name in sums},
    )
    values = [
        {"workspace_id": workspace_id, period: r[0], "kind": r.kind, "user_id": to_user,
         "source": r.source, **{name: getattr(r, name) for name in sums}}
        for r in rows
    ]
    for start in range(0, len(values), 500):
        session.execute(statement, values[start : start + 500])


def _insert_for(session: Session):
    dialect = session.get_bind().dialect.name
    return dialect_insert(dialect)


def user_names(*, session: Session, workspace_id: str) -> dict[str, str]:
    """user id → display name (or email) for every user of the workspace that has one."""
    names: dict[str, str] = {}
    for user_id, display_name, email in session.execute(
        select(User.id, User.display_name, User.email).where(User.workspace_id == workspace_id)
    ).all():
        if display_name or email:
            names[user_id] = display_name or email
    return names

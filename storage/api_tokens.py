"""Per-workspace API tokens of the events API: create, verify, list, revoke.

A token looks like `kpi_<id>_<secret>`: `kpi_` makes it recognisable (secret scanners, logs),
`<id>` (16 hex digits) is its public lookup part, `<secret>` 32 random bytes (base64url). Only
an HMAC-SHA256 of the whole token, keyed with the server's token key (the KPIBOT_TOKEN_KEY
setting; it never enters the database), is stored: the database alone can neither give a token
back nor check a guess. Verifying looks the row up by its id and compares the hashes in
constant time. Changing the key invalidates every token.

Every function takes the caller's session and runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ApiToken

PREFIX = "kpi_"
MAX_NAME = 80
MAX_TOKEN = 100  # longer presented tokens are refused before hashing
LAST_USE_STEP = timedelta(minutes=1)  # last use is recorded to the minute (one write a minute)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOKEN = re.compile(r"^kpi_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$")
_NO_HASH = "0" * 64  # compared against when no row matches, so both paths do the same work


class TokenError(ValueError):
    """A token name or action that cannot be done; str(error) says why."""


@dataclass(frozen=True)
class TokenInfo:
    """What `kpibot token list` shows: never the token or its hash."""

    workspace_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_hash(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise TokenError(f"token name {name!r}: use 1-{MAX_NAME} letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit (e.g. zapier)")
    return name


def create_token(*, session: Session, key: bytes, workspace_id: str, name: str,
                 now: datetime) -> str:
    """A new token for the workspace (returned once, never stored). Raises TokenError when a
    live token already has this name."""
    name = check_name(name)
    if _live(session, workspace_id, name) is not None:
        raise TokenError(f"workspace {workspace_id} already has a token named {name}; revoke "
                         "it first or choose another name")
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiToken(workspace_id=workspace_id, name=name, token_id=token_id,
                         token_hash=token_hash(key, token), created_at=now))
    session.flush()
    return token


def verify_token(*, session: Session, key: bytes, presented: str) -> ApiToken | None:
    """The live token row `presented` is, or None (malformed, unknown, wrong or revoked)."""
    match = _TOKEN.match(presented) if len(presented) <= MAX_TOKEN else None
    row = None
    if match is not None:
        row = session.scalars(select(ApiToken).where(ApiToken.token_id == match[1])).first()
    expected = row.token_hash if row is not None else _NO_HASH
    same = hmac.compare_digest(expected, token_hash(key, presented[:MAX_TOKEN]))
    if row is None or not same or row.revoked_at is not None:
        return None
    return row


def note_use(*, session: Session, token: ApiToken, now: datetime) -> bool:
    """Record `now` as the token's last use when the recorded one is a minute old or more."""
    if not needs_use_noted(token, now):
        return False
    row = session.get(ApiToken, token.id)
    if row is None:
        return False
    row.last_used_at = now
    session.add(row)
    session.flush()
    return True


def needs_use_noted(token: ApiToken, now: datetime) -> bool:
    """Whether note_use would write (checked before opening a write transaction)."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USE_STEP


def list_tokens(*, session: Session, workspace_id: str | None = None) -> list[TokenInfo]:
    """Every token (revoked ones too), by workspace, then name, then creation."""
    query = select(ApiToken)
    if workspace_id is not None:
        query = query.where(ApiToken.workspace_id == workspace_id)
    rows = session.scalars(query.order_by(ApiToken.workspace_id, ApiToken.name,
                                       ApiToken.created_at)).all()
    return [TokenInfo(r.workspace_id, r.name, r.created_at, r.last_used_at, r.revoked_at)
            for r in rows]


def revoke_token(*, session: Session, workspace_id: str, name: str, now: datetime) -> None:
    """Revoke the live token of that name; raises TokenError when there is none."""
    row = _live(session, workspace_id, name.strip())
    if row is None:
        raise TokenError(f"workspace {workspace_id} has no live token named {name.strip()} "
                         "(kpibot token list shows them)")
    row.revoked_at = now
    session.add(row)
    session.flush()


def _live(session: Session, workspace_id: str, name: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(
        ApiToken.workspace_id == workspace_id, ApiToken.name == name,
        ApiToken.revoked_at.is_(None))).first()

"""deals and accounts re-derived by the dated-record rules of SPEC 5 (no schema change)

A deal's events on one local day now count in funnel order, so a date-only lead (stored at
local noon) no longer comes after a win at 02:00 the same day; a lead/mql/sql dated after the
close is a late record and no longer reopens the deal. Deals stored before this revision were
derived by the old order: they are rewritten here with storage's own bulk refresh (which reads
and writes only columns that exist since 0007), with their accounts and a new history_version.
Downgrading leaves the rows as they are (the old rules would only lose wins again).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""

from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from storage.upkeep import apply_deferred, Deferred

    bind = op.get_bind()
    workspaces = sa.table("workspaces", sa.column("id"), sa.column("timezone"))
    deals = sa.table("deals", sa.column("workspace_id"), sa.column("key"))
    session = Session(bind=bind)
    for workspace_id, timezone in bind.execute(sa.select(workspaces.c.id, workspaces.c.timezone)
                                               .order_by(workspaces.c.id)).all():
        keys = {key for (key,) in bind.execute(sa.select(deals.c.key).where(
            deals.c.workspace_id == workspace_id))}
        if keys:
            apply_deferred(session=session,
                           workspace=SimpleNamespace(id=workspace_id, timezone=timezone),
                           deferred=Deferred(deal_keys=keys))
    session.flush()


def downgrade() -> None:
    pass

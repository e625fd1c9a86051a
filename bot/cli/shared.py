"""What several commands need: the workspace to act on, a database at the current schema, a
database URL without its password."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.models import Workspace


def pick_workspace(session, workspace_id: str | None) -> Workspace:
    """The workspace `workspace_id`, or the only one in the database; SettingsError else."""
    from sqlalchemy import select

    from bot.settings import SettingsError
    from storage.models import Workspace

    if workspace_id:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise SettingsError(f"no workspace {workspace_id!r} in the database")
        return workspace
    workspaces = session.scalars(select(Workspace).order_by(Workspace.id)).all()
    if len(workspaces) != 1:
        names = ", ".join(w.id for w in workspaces) or "none yet"
        raise SettingsError(f"choose a workspace with --workspace ({names})")
    return workspaces[0]


def shown(url: str) -> str:
    """`url` without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def require_schema(settings: Settings) -> None:
    """SettingsError unless the database is at the newest migration."""
    from bot.settings import SettingsError
    from storage import migrate

    if not migrate.is_at_head(settings.database_url):
        raise SettingsError(
            f"the database {shown(settings.database_url)} is not at the current schema: run "
            "kpibot db upgrade (or kpibot serve --migrate; kpibot demo makes a database with "
            "sample data)")

"""What several commands need: the workspace to act on, a database at the current schema, a
database URL without its password."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.lite import WorkspaceRow
    from storage.models import Workspace


def pick_workspace(session, workspace_id: str | None) -> Workspace | WorkspaceRow:
    """The workspace `workspace_id`, or the only one in the database; SettingsError else.
    `session`: a SQLAlchemy Session (a Workspace row), or the light SQLite reader
    (storage/lite.py: its id, currency, time zone and fiscal-year start)."""
    from bot.settings import SettingsError

    light = getattr(session, "workspace", None)  # storage.lite.Reader
    if light is not None:
        found = light(workspace_id)
        if not isinstance(found, list):
            return found
        ids = found
    elif workspace_id:
        from storage.models import Workspace

        workspace = session.get(Workspace, workspace_id)
        if workspace is not None:
            return workspace
        ids = []
    else:
        from sqlalchemy import select

        from storage.models import Workspace

        workspaces = session.scalars(select(Workspace).order_by(Workspace.id)).all()
        if len(workspaces) == 1:
            return workspaces[0]
        ids = [w.id for w in workspaces]
    if workspace_id:
        raise SettingsError(f"no workspace {workspace_id!r} in the database")
    raise SettingsError(f"choose a workspace with --workspace ({', '.join(ids) or 'none yet'})")


def shown(url: str) -> str:
    """`url` without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def require_schema(settings: Settings) -> None:
    """SettingsError unless the database is at the newest migration."""
    from bot.settings import SettingsError
    from storage import lite, migrate

    if lite.missing_file(settings.database_url) is not None:
        raise SettingsError(
            f"there is no database at {shown(settings.database_url)} yet: kpibot demo makes one "
            "with sample data (kpibot-demo.db; its last lines say how to use it), kpibot db "
            "upgrade (or kpibot serve --migrate) an empty one")
    if not migrate.is_at_head(settings.database_url):
        raise SettingsError(
            f"the database {shown(settings.database_url)} is not at the current schema: run "
            "kpibot db upgrade (or kpibot serve --migrate; kpibot demo makes a database with "
            "sample data)")

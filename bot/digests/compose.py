"""Build a digest from the database (a short read session): a schedule's, or a preview of one
as `/kpi digest preview` and `kpibot digest preview` show it."""

from __future__ import annotations

from datetime import datetime

from reports.digest.build import build_digest
from reports.digest.model import Digest
from reports.kpis.remembered import RememberedFacts
from storage.engine import Database
from storage.facts import SqlFacts
from storage.models import DigestSchedule, Workspace
from storage.users import display_names


class UnknownWorkspace(LookupError):
    pass


def compose_digest(*, database: Database, workspace_id: str, cadence: str, timezone: str,
                   language: str, now: datetime, answers: dict | None = None) -> Digest:
    """The digest of `workspace_id` due at `now`, for a schedule in `timezone`. Each distinct
    fact is read once (`RememberedFacts`); `answers` shares them with digests composed before
    (other languages of the same workspace, time zone, cadence, slot and history version)."""
    with database.read() as session:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None:
            raise UnknownWorkspace(f"no workspace {workspace_id!r}")
        facts = RememberedFacts(SqlFacts(session=session, workspace=workspace), answers)
        return build_digest(facts=facts,
                            cadence=cadence, now=now, tz=timezone,
                            fiscal_year_start=workspace.fiscal_year_start, language=language,
                            names=display_names(session=session, workspace_id=workspace_id))


def compose_for_schedule(*, database: Database, schedule: DigestSchedule,
                         now: datetime) -> Digest:
    return compose_digest(database=database, workspace_id=schedule.workspace_id,
                          cadence=schedule.cadence, timezone=schedule.timezone,
                          language=schedule.language, now=now)


def compose_preview(*, database: Database, workspace: Workspace,
                    schedule: DigestSchedule | None, now: datetime, cadence: str | None = None,
                    language: str | None = None, timezone: str | None = None) -> Digest:
    """The digest a channel's `schedule` would post at `now` (weekly, in English, in the
    workspace's time zone when there is no schedule), with any of cadence, language and time
    zone asked for instead."""
    return compose_digest(
        database=database, workspace_id=workspace.id,
        cadence=cadence or (schedule.cadence if schedule else "weekly"),
        timezone=timezone or (schedule.timezone if schedule else workspace.timezone),
        language=language or (schedule.language if schedule else "en"), now=now)

"""A write whose COMMIT went out and whose answer never came back.

The connection broke after the COMMIT was sent (a database restart, a network cut) and before
the server said COMMIT: the transaction may have committed or not, and no client can tell the
two apart from that connection. `kpibot.commit_by` still holds (a COMMIT refused past the
command's deadline), so by then the outcome is settled, and a row with a unique key answers it:
bot/handlers/log.py writes the event again with the same idempotency key, which stores it once
whichever way the first COMMIT went. Raised by storage/pg_pipeline.py; an OperationalError, so
every caller that does not know of it treats it as the database gone, as before.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


class CommitOutcomeUnknown(OperationalError):
    """The COMMIT was sent and the connection broke before its answer."""

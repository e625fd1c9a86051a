"""Logging set-up with a filter that keeps tokens and secrets out of every log line."""

from __future__ import annotations

import logging
import re

SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), "[redacted]"),  # Slack bot/user tokens
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "[redacted]"),  # Slack app-level tokens
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(password|secret|sig|signature|token)=([^&\s]+)"), r"\1=[redacted]"),
    (re.compile(r"https://[^/\s]+\.logic\.azure\.com\S*"), "[redacted webhook]"),
    (re.compile(r"(postgresql\+psycopg://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
)


def redact(text: str) -> str:
    """`text` with every token, password and webhook URL replaced by [redacted]."""
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every plugin and revision at INFO; keep the bot's own lines readable.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))

"""Logging set-up with a filter that keeps tokens and secrets out of every log line, and keeps
every line one bounded line: control characters (a newline that would forge a line of its
own) are escaped and a message longer than MAX_LINE is cut."""

from __future__ import annotations

import logging
import re

MAX_LINE = 2000  # characters of one log message (tracebacks are separate and kept)

SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), "[redacted]"),  # Slack bot/user tokens
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "[redacted]"),  # Slack app-level tokens
    (re.compile(r"\bpat-[a-z]{2,4}\d*-[A-Za-z0-9-]+"), "[redacted]"),  # HubSpot private apps
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(password|secret|sig|signature|token|ticket)=([^&\s]+)"), r"\1=[redacted]"),
    (re.compile(r"https://[^/\s]+\.logic\.azure\.com\S*"), "[redacted webhook]"),
    (re.compile(r"(postgresql\+psycopg://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def redact(text: str) -> str:
    """`text` with every token, password and webhook URL replaced by [redacted]."""
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def safe_text(value: object, limit: int = MAX_LINE) -> str:
    """`value` as one inert line: control characters as `\\xNN`, cut to `limit` with "…"."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactSecrets(logging.Filter):
    """Every record: secrets redacted, one line, at most MAX_LINE characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = safe_text(redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    handler.addFilter(QuietChatSdks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every plugin and revision at INFO; keep the bot's own lines readable.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


CHAT_SDK_LOGGERS = ("slack_bolt", "slack_sdk")


class QuietChatSdks(logging.Filter):
    """Drops the Slack SDKs' DEBUG records, whatever KPIBOT_LOG_LEVEL says: at DEBUG they log
    every payload they receive and every answer (a slash command's text, a Socket Mode
    envelope, the reply), and request bodies never reach the logs. (A level on their loggers
    would not hold: Bolt copies the root level onto each logger it creates.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or not record.name.startswith(CHAT_SDK_LOGGERS)

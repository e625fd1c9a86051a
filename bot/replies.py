"""The platform-neutral reply every handler returns.

All strings are plain text as users typed them (no markup, not escaped); each renderer
(Slack Block Kit, Teams Adaptive Card, terminal) escapes for its own format.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from reports.digest.model import Digest
from reports.i18n import Translator, translator


@dataclass(frozen=True)
class Section:
    title: str | None = None
    lines: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()  # label, value
    table: tuple[tuple[str, ...], ...] = ()  # first row is the header
    context: str | None = None  # small print under the section


@dataclass(frozen=True)
class Reply:
    text: str  # the headline; also the notification / fallback text
    sections: tuple[Section, ...] = field(default_factory=tuple)
    public: bool = False  # post into the channel instead of only to the caller
    ok: bool = True  # False for errors and refusals
    digest: Digest | None = None  # a digest to show in full (each adapter renders it)
    undo_event: int | None = None  # the event an Undo button under the reply voids
    mentions: tuple[str, ...] = ()  # user ids whose `<@id>` in the headline Slack may render
    language: str = "en"  # the reader's: for the renderer's own words (the Undo button, ...)
    follows: bool = False  # the command's outcome is told later (bot/core.py answer_in_time)

    def plain_text(self) -> str:
        """The whole reply as plain text (terminal, Teams fallback, logs of replies)."""
        parts = [self.text]
        if self.digest is not None:
            from reports.digest.render import render_text

            parts.append(render_text(self.digest))
        for section in self.sections:
            block: list[str] = []
            if section.title:
                block.append(section.title)
            block.extend(section.lines)
            block.extend(f"{label}: {value}" for label, value in section.fields)
            if section.table:
                block.extend(render_table_text(section.table))
            if section.context:
                block.append(section.context)
            parts.append("\n".join(block))
        return "\n\n".join(p for p in parts if p)


def render_table_text(rows: tuple[tuple[str, ...], ...]) -> list[str]:
    """Rows as aligned monospace lines: text columns left, numeric columns right."""
    if not rows:
        return []
    try:
        return list(_table_lines(rows))
    except TypeError:  # rows given as lists: not remembered
        return list(_table_lines.__wrapped__(rows))


@functools.lru_cache(maxsize=256)
def _table_lines(rows: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """render_table_text's lines, worked out once per table: a Slack reply renders its table
    twice (the blocks and the fallback text), and the same figures are often asked again."""
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(rows[0]))]
    numeric = [
        all(looks_numeric(row[i]) for row in rows[1:] if i < len(row) and row[i])
        and len(rows) > 1
        for i in range(len(widths))
    ]
    lines = []
    for row in rows:
        cells = [
            (cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]))
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return tuple(lines)


def looks_numeric(cell: str) -> bool:
    """Whether a table cell reads as a figure (then its column is right-aligned)."""
    stripped = cell.strip().lstrip("+-−$€£¥").rstrip("%kKmMdx")
    return bool(stripped) and stripped.replace(",", "").replace(".", "").replace(" ", "").isdigit()


def mention(user_id: str) -> str:
    """A person without a known name, as the platforms write a mention (`<@U123>`): never a
    bare id (Slack shows it as the person's name; the console reads it back as that person)."""
    return f"<@{user_id}>"


def person(user_id: str, names: dict[str, str]) -> str:
    """The name people know `user_id` by (`names`: id → display name), else its mention."""
    return names.get(user_id) or mention(user_id)


def error_reply(problem: str, *, usage: str | None = None, example: str | None = None,
                t: Translator | None = None) -> Reply:
    """A refusal: the specific problem, then the correct usage with an example (`t`: the
    user's language for the "Usage"/"Example" words; the command itself stays as typed)."""
    t = t or translator("en")
    lines = []
    if usage:
        lines.append(t.gettext("Usage: {usage}", usage=usage))
    if example:
        lines.append(t.gettext("Example: {example}", example=example))
    sections = (Section(lines=tuple(lines)),) if lines else ()
    return Reply(text=problem, sections=sections, ok=False)

"""`/kpi help [command|kpi]` — short usage with examples. `/kpi list` — the KPI catalog."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from bot.core import Invocation
from bot.grammar import COMMAND_USAGE, HelpCommand, ListCommand
from bot.replies import Reply, Section, error_reply
from reports.events import Group, kinds_in_group


def build_help_handlers(
    topics: Mapping[str, Callable], kpi_help: Callable[[str], Reply | None] = lambda name: None
):
    """Help and list handlers that read their text from the command handlers' docstrings."""

    def handle_help(command: HelpCommand, invocation: Invocation) -> Reply:
        topic = (command.topic or "").strip().lower()
        if not topic:
            return _overview()
        if topic in ("events", "kinds"):
            return _event_catalog()
        if topic in topics:
            doc = inspect.getdoc(inspect.getmodule(topics[topic])) or ""
            usage, example = COMMAND_USAGE.get(topic, ("", ""))
            lines = tuple(line for line in doc.splitlines() if line.strip())
            return Reply(text=f"/kpi {topic}", sections=(
                Section(lines=lines, fields=(("Usage", usage), ("Example", example))),
            ))
        reply = kpi_help(topic)
        if reply is not None:
            return reply
        return error_reply(
            f'"{command.topic}" is not a command or KPI.',
            usage="/kpi help [command|kpi]",
            example="/kpi help log",
        )

    def handle_list(command: ListCommand, invocation: Invocation) -> Reply:
        reply = kpi_help("")
        return reply if reply is not None else _event_catalog()

    return handle_help, handle_list


def _overview() -> Reply:
    rows = [("command", "example")]
    rows.extend((usage, example) for usage, example in COMMAND_USAGE.values())
    return Reply(
        text="kpibot: log sales activity and ask for any KPI.",
        sections=(
            Section(table=tuple(rows)),
            Section(context="/kpi help COMMAND for details · /kpi help events for every event "
                            "you can log · /kpi list for every KPI · add `public` to post "
                            "the answer in the channel"),
        ),
    )


def _event_catalog() -> Reply:
    sections = []
    for group in Group:
        kinds = kinds_in_group(group)
        sections.append(Section(
            title=group.value.capitalize(),
            table=(("event", "what", "example"),)
            + tuple((k.name, k.summary, f"/kpi log {k.example}") for k in kinds),
        ))
    return Reply(text="Events you can log with /kpi log", sections=tuple(sections))

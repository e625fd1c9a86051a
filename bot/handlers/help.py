"""`/kpi help [command|kpi]` — short usage with examples. `/kpi list` — the KPI catalog.

Both read the command table (`CommandSpec`s): the overview lists every spec's usage and example,
`/kpi help WORD` shows that spec's own help, usage and example; the README's command table is
`command_table()` of the same specs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from bot.core import Invocation
from bot.grammar import CommandSpec, HelpCommand, ListCommand
from bot.grammar.about import parse_help, parse_list
from bot.replies import Reply, Section, error_reply
from reports.events import Group, kinds_in_group

KpiHelp = Callable[[str], Reply | None]

HELP = CommandSpec(
    word="help", command=HelpCommand, parse=parse_help,
    usage="/kpi help [command|kpi]", example="/kpi help log",
    summary="usage with examples; `/kpi help events` lists every event kind",
    help="""Every command with an example; `/kpi help COMMAND` explains one command,
    `/kpi help KPI` one KPI's formula, `/kpi help events` every event you can log.""")
LIST = CommandSpec(
    word="list", command=ListCommand, parse=parse_list,
    usage="/kpi list", example="/kpi list",
    summary="the catalog",
    help="Every KPI with its formula, by group.")


def with_help(specs: Sequence[CommandSpec], kpi_help: KpiHelp = lambda name: None
              ) -> tuple[CommandSpec, ...]:
    """`specs` with the `help` and `list` commands answering from them (and `kpi_help`)."""
    handle_help, handle_list = build_help_handlers(specs, kpi_help)
    bound = {"help": handle_help, "list": handle_list}
    return tuple(dataclasses.replace(spec, handle=bound[spec.word])
                 if spec.word in bound and spec.handle is None else spec for spec in specs)


def build_help_handlers(specs: Sequence[CommandSpec], kpi_help: KpiHelp = lambda name: None):
    """Help and list handlers that read their text from the command specs."""
    topics = {spec.word: spec for spec in specs}

    def handle_help(command: HelpCommand, invocation: Invocation) -> Reply:
        topic = (command.topic or "").strip().lower()
        if not topic:
            return _overview(specs)
        if topic in ("events", "kinds"):
            return _event_catalog()
        if topic in topics:
            spec = topics[topic]
            return Reply(text=f"/kpi {topic}", sections=(
                Section(lines=spec.help_lines(),
                        fields=(("Usage", spec.usage), ("Example", spec.example))),
            ))
        reply = kpi_help(topic)
        if reply is not None:
            return reply
        return error_reply(
            f'"{command.topic}" is not a command or KPI.',
            usage=HELP.usage,
            example=HELP.example,
        )

    def handle_list(command: ListCommand, invocation: Invocation) -> Reply:
        reply = kpi_help("")
        return reply if reply is not None else _event_catalog()

    return handle_help, handle_list


README_START = "<!-- command table: generated from the CommandSpecs by scripts/command-table -->"
README_END = "<!-- end of the command table -->"


def command_table(specs: Sequence[CommandSpec]) -> str:
    """The README's command table (Markdown), one row per spec, between its two markers."""
    rows = [README_START, "| command | what it does |", "|---|---|"]
    rows += [f"| `{spec.usage.replace('|', chr(92) + '|')}` | {spec.summary} |" for spec in specs]
    return "\n".join([*rows, README_END])


def with_command_table(readme: str, specs: Sequence[CommandSpec]) -> str:
    """`readme` with the part between the markers replaced by `command_table(specs)`."""
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    return readme[:start] + command_table(specs) + readme[end:]


def _overview(specs: Sequence[CommandSpec]) -> Reply:
    rows = [("command", "example")]
    rows.extend((spec.usage, spec.example) for spec in specs)
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

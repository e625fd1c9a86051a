"""`/kpi help [command|kpi]` — short usage with examples. `/kpi list` — the KPI catalog.

Both read the command table (`CommandSpec`s): the overview lists every spec's usage and example,
`/kpi help WORD` shows that spec's own help, usage and example; the README's command table is
`command_table()` of the same specs.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence

from bot.core import Invocation
from bot.grammar import CommandSpec, HelpCommand, ListCommand
from bot.grammar.about import parse_help, parse_list
from bot.replies import Reply, Section, error_reply
from reports.events import Group, kinds_in_group
from reports.i18n import N_, Translator

# The event groups' names (`/kpi help events`)
GROUP_TITLES = {Group.OUTREACH: N_("Outreach"), Group.WEB: N_("Web"),
                Group.INBOUND: N_("Inbound"), Group.FUNNEL: N_("Funnel"),
                Group.CUSTOMERS: N_("Customers"), Group.MONEY: N_("Money")}

KpiHelp = Callable[..., Reply | None]  # kpi_help(name, t): a KPI's help, or None

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


def help_paragraphs(spec: CommandSpec) -> tuple[str, ...]:
    """The paragraphs of a command's help (its `help`, else its handler's docstring), each on
    one line: the English texts `/kpi help WORD` translates (scripts/i18n.py extracts them)."""
    text = spec.help or inspect.getdoc(spec.handle) or ""
    blocks = [" ".join(line.strip() for line in block.splitlines() if line.strip())
              for block in inspect.cleandoc(text).split("\n\n")]
    return tuple(block for block in blocks if block)


def _no_kpi_help(name: str, t: Translator | None = None) -> Reply | None:
    return None


def with_help(specs: Sequence[CommandSpec], kpi_help: KpiHelp = _no_kpi_help
              ) -> tuple[CommandSpec, ...]:
    """`specs` with the `help` and `list` commands answering from them (and `kpi_help`)."""
    handle_help, handle_list = build_help_handlers(specs, kpi_help)
    bound = {"help": handle_help, "list": handle_list}
    return tuple(dataclasses.replace(spec, handle=bound[spec.word])
                 if spec.word in bound and spec.handle is None else spec for spec in specs)


def build_help_handlers(specs: Sequence[CommandSpec], kpi_help: KpiHelp = _no_kpi_help):
    """Help and list handlers that read their text from the command specs."""
    topics = {spec.word: spec for spec in specs}

    def handle_help(command: HelpCommand, invocation: Invocation) -> Reply:
        t = invocation.t
        topic = (command.topic or "").strip().lower()
        if not topic:
            return _overview(specs, t)
        if topic in ("events", "kinds"):
            return _event_catalog(t)
        if topic in topics:
            spec = topics[topic]
            return Reply(text=f"/kpi {topic}", sections=(
                Section(lines=tuple(t.gettext(p) for p in help_paragraphs(spec)),
                        fields=((t.gettext("Usage"), spec.usage),
                                (t.gettext("Example"), spec.example))),
            ))
        reply = kpi_help(topic, t)
        if reply is not None:
            return reply
        return error_reply(t.gettext('"{topic}" is not a command or KPI.', topic=command.topic),
                           usage=HELP.usage, example=HELP.example, t=t)

    def handle_list(command: ListCommand, invocation: Invocation) -> Reply:
        reply = kpi_help("", invocation.t)
        return reply if reply is not None else _event_catalog(invocation.t)

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


def _overview(specs: Sequence[CommandSpec], t: Translator) -> Reply:
    rows = [(t.gettext("command"), t.gettext("example"))]
    rows.extend((spec.usage, spec.example) for spec in specs)
    return Reply(
        text=t.gettext("kpibot: log sales activity and ask for any KPI."),
        sections=(
            Section(table=tuple(rows)),
            Section(context=t.gettext(
                "{help} for details · {events} for every event you can log · {list} for every "
                "KPI · add {public} to post the answer in the channel",
                help="/kpi help COMMAND", events="/kpi help events", list="/kpi list",
                public="`public`")),
        ),
    )


def _event_catalog(t: Translator) -> Reply:
    sections = []
    for group in Group:
        kinds = kinds_in_group(group)
        sections.append(Section(
            title=t.gettext(GROUP_TITLES[group]),
            table=((t.gettext("event"), t.gettext("what"), t.gettext("example")),)
            + tuple((k.name, t.gettext(k.summary), f"/kpi log {k.example}") for k in kinds),
        ))
    return Reply(text=t.gettext("Events you can log with {command}", command="/kpi log"),
                 sections=tuple(sections))

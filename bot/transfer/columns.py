"""Columns: which column of the file holds which field, for the events and the deals format
(--map COLUMN=FIELD first, then a preset's CRM names, then common names), and the --map,
--stage and --source options as the command line gives them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.transfer.presets import (
    DEAL_ALIASES,
    DEAL_FIELD_SET,
    DEAL_FIELDS,
    EVENT_ALIASES,
    EVENT_FIELDS,
    EVENT_REQUIRED,
    EXPORT_COLUMNS,
    PRESETS,
    STAGE_TARGETS,
    header_key,
    stage_key,
)
from bot.transfer.problems import ImportRefused, suggest
from reports.events import LEAD_SOURCES, source_group, source_key


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """`["Deal Ref=id", "Junk=-"]` → {"Deal Ref": "id", "Junk": "-"}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise ImportRefused(f'--map "{pair}" must look like COLUMN=FIELD, e.g. '
                                '--map "Deal Ref=id" (or COLUMN=- to ignore a column)')
        mapping[column.strip()] = target.strip()
    return mapping


def parse_stage_map(pairs: Sequence[str]) -> dict[str, str]:
    """`["Contract Sent=demo"]` → {"contract sent": "demo"}."""
    stages: dict[str, str] = {}
    for pair in pairs:
        name, sep, target = pair.rpartition("=")
        target = target.strip().lower()
        target = {"demo-booked": "demo", "deal-won": "won", "deal-lost": "lost"}.get(target,
                                                                                     target)
        if not sep or not name.strip() or target not in STAGE_TARGETS:
            raise ImportRefused(f'--stage "{pair}" must look like "CRM STAGE=STAGE" with STAGE '
                                f"one of {', '.join(STAGE_TARGETS)}")
        stages[stage_key(name)] = target
    return stages


def parse_source_map(pairs: Sequence[str]) -> dict[str, str]:
    """`["Trade Show=other"]` → {"trade-show": "other"} (keys compared like source_key)."""
    sources: dict[str, str] = {}
    for pair in pairs:
        name, sep, target = pair.rpartition("=")
        group = source_group(target) if target.strip() else None
        if not sep or not name.strip() or group is None or source_key(target) != group:
            raise ImportRefused(f'--source "{pair}" must look like "CRM SOURCE=GROUP" with '
                                f"GROUP one of {', '.join(LEAD_SOURCES)}")
        sources[source_key(name)] = group
    return sources


def _apply_mapping(header: list[str], mapping: dict[str, str], fields: frozenset[str],
                   format_name: str) -> dict[int, str]:
    """Column index → field (or "-") for the columns named in --map."""
    by_key = {header_key(name): i for i, name in enumerate(header)}
    chosen: dict[int, str] = {}
    for column, target in mapping.items():
        target_field = target.strip().lower().replace(" ", "_")
        if target_field in ("-", "ignore", "skip"):
            target_field = "-"
        elif target_field not in fields:
            hint = suggest(target_field, sorted(fields))
            raise ImportRefused(
                f'--map "{column}={target}": {target} is not a field of the {format_name} '
                f"format" + (f" (did you mean {hint}?)" if hint else "")
                + f"; fields: {', '.join(sorted(fields))}")
        index = by_key.get(header_key(column))
        if index is None:
            raise ImportRefused(f'--map "{column}={target}": the file has no column "{column}" '
                                f"(columns: {', '.join(header)})")
        chosen[index] = target_field
    return chosen


def _check_duplicates(columns: dict[str, int], header: list[str], index: int,
                      name: str) -> None:
    if name in columns and columns[name] != index:
        raise ImportRefused(f'columns "{header[columns[name]]}" and "{header[index]}" both '
                            f"mean {name}; map one of them elsewhere (--map \"COLUMN=-\")")


def event_columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """field → column index for the events format; unknown columns are refused."""
    mapped = _apply_mapping(header, mapping, EVENT_FIELDS, "events")
    field_keys = {header_key(f): f for f in EVENT_FIELDS}
    field_keys.update({header_key(a): f for a, f in EVENT_ALIASES.items()})
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for i, name in enumerate(header):
        target = mapped.get(i) or field_keys.get(header_key(name))
        if target == "-":
            continue
        if target is None:
            if name:
                unknown.append(name)
            continue
        _check_duplicates(columns, header, i, target)
        columns[target] = i
    missing = [f for f in EVENT_REQUIRED if f not in columns]
    if missing:
        raise ImportRefused(_missing_event_columns(header, missing, unknown))
    if unknown:
        raise ImportRefused(_unknown_event_columns(unknown))
    return columns


def _missing_event_columns(header: list[str], missing: list[str], unknown: list[str]) -> str:
    """The message for an events file without a required column: which unknown column may be
    it, and whether the file is a CRM deals export instead."""
    message = "missing required column " + ", ".join(missing)
    hints = []
    for name in unknown:
        hint = suggest(header_key(name).replace(" ", "_"), missing)
        if hint:
            hints.append(f'"{name}" → {hint}?')
    if hints:
        message += " (the header has " + ", ".join(hints) + ")"
    if _looks_like_deals(header):
        message += ("; this looks like a CRM deals export: use --format deals "
                    "(or --preset hubspot|salesforce|pipedrive)")
    else:
        message += f"; the events header is {','.join(EXPORT_COLUMNS[:11])}"
    return message


def _unknown_event_columns(unknown: list[str]) -> str:
    parts = []
    for name in unknown:
        hint = suggest(header_key(name).replace(" ", "_"), sorted(EVENT_FIELDS))
        parts.append(f'"{name}"' + (f" (did you mean {hint}?)" if hint else ""))
    return ("unknown column " + ", ".join(parts) + ": rename it, map it with "
            f'--map "{unknown[0]}=FIELD", or ignore it with --map "{unknown[0]}=-"')


def _looks_like_deals(header: list[str]) -> bool:
    keys = {header_key(h) for h in header}
    generic = {header_key(a) for aliases in DEAL_ALIASES.values() for a in aliases}
    preset = {header_key(c) for p in PRESETS.values() for cs in p.columns.values() for c in cs}
    return len(keys & (generic | preset)) >= 3 and "event" not in keys


def deal_columns(header: list[str], mapping: dict[str, str],
                 preset: str | None) -> dict[str, int]:
    """field → column index for the deals format: --map, then the preset, then common names."""
    mapped = _apply_mapping(header, mapping, DEAL_FIELD_SET, "deals")
    by_key: dict[str, int] = {}
    for i, name in enumerate(header):
        by_key.setdefault(header_key(name), i)
    columns: dict[str, int] = {}
    for i, target in mapped.items():
        if target != "-":
            _check_duplicates(columns, header, i, target)
            columns[target] = i
    spec = PRESETS[preset] if preset else None
    _add_known_columns(columns, by_key, set(mapped), spec)
    _check_deal_columns(columns, header, spec)
    return columns


def _add_known_columns(columns: dict[str, int], by_key: dict[str, int], taken: set[int],
                       spec) -> None:
    """The fields --map left out, found by the preset's CRM column names, then common names."""
    for field_name in DEAL_FIELDS:
        if field_name in columns:
            continue
        candidates = list(spec.columns.get(field_name, ())) if spec else []
        candidates += list(DEAL_ALIASES.get(field_name, ()))
        for candidate in candidates:
            i = by_key.get(header_key(candidate))
            if i is not None and i not in taken:
                columns[field_name] = i
                taken.add(i)
                break


def _check_deal_columns(columns: dict[str, int], header: list[str], spec) -> None:
    """Refuse a deals file without a created date, a deal (id or name) or a stage/status."""
    problems = []
    if "created" not in columns:
        problems.append(_missing_deal_field("created", spec))
    if "id" not in columns and "name" not in columns:
        problems.append(_missing_deal_field("id", spec))
    if "stage" not in columns and "status" not in columns:
        problems.append(_missing_deal_field("stage", spec))
    if problems:
        hint = ""
        if {"occurred_at", "event"} <= {header_key(h).replace(" ", "_") for h in header}:
            hint = "; this looks like a kpibot events file: leave out --format deals / --preset"
        raise ImportRefused("; ".join(problems) + f" (columns: {', '.join(header)}){hint}")


def _missing_deal_field(name: str, spec) -> str:
    what = {"created": "created (the created date)", "id": "id or name (the deal)",
            "stage": "stage or status"}[name]
    expected = ""
    if spec is not None:
        names = spec.columns.get(name, ())
        if names:
            expected = f' ("{names[0]}" in a {spec.title})'
    return (f"missing required column {what}{expected}: map it with "
            f'--map "YOUR COLUMN={name}"')


__all__ = ["deal_columns", "event_columns", "parse_mapping", "parse_source_map",
           "parse_stage_map"]

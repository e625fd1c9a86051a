"""A HubSpot deal as kpibot events, with the CSV import's vocabulary (bot/transfer/presets.py).

Stages: each pipeline stage maps to a kpibot stage. First the workspace's own mapping
(`kpibot sync hubspot --stage "LABEL=STAGE"`, by label, by `PIPELINE/LABEL` or by stage id);
then a closed stage by its metadata (probability 1.0: won, 0.0: lost); then an open stage by
its label or id as the HubSpot deals preset knows it (`map_stage`, preset hubspot: the default
sales pipeline's stages and kpibot's own words). Anything else is unmapped: reported, never
guessed; a deal whose current stage is unmapped is left out of the run.

A deal becomes, with the deal id as its deal key and its owner (matched by email to a user of
the workspace, else a named rep as the CSV import makes them; no owner: Unassigned):

* one stage event per kpibot stage the deal entered, at the earliest HubSpot entry time of
  the stages mapped to it (`hs_v2_date_entered_<stage id>`, else `hs_date_entered_<stage id>`):
  lead, mql, sql, opportunity, demo-booked. An open deal keeps only the stages up to its
  current one (a deal moved back loses the later stages). The first carries the lead source
  (`hs_analytics_source`, grouped like the CSV preset's sources) when its kind takes one, an
  opportunity the amount. A deal without entry times gets its current stage (a closed deal:
  opportunity) at its create date, as a CSV row does;
* won (the stage maps to won, or `hs_is_closed_won`): `deal-won` at `closedate` (else when it
  entered the stage), with `amount` when there is one (a win without an amount is a win);
  lost: `deal-lost` with `closed_lost_reason`.

Each event's idempotency key is `hubspot:` + a hash of (deal id, kind, time and everything the
event carries, the HubSpot owner id rather than the user it resolves to), so syncing the same
deal again adds nothing, and a change to a deal changes exactly the events it touches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bot.sync.hubspot import Deal, Owner, Stage, parse_instant
from bot.transfer.presets import PRESETS, STAGE_TARGETS, map_stage, stage_key
from reports.events import (
    LEAD_SOURCES,
    MAX_NAME,
    SOURCE_KINDS,
    UNASSIGNED_NAME,
    source_group,
    source_key,
)
from reports.units import currency_exponent
from storage.recording import NewEvent
from storage.reps import RepDirectory, RepError

LOGGED_BY = "kpibot:sync:hubspot"
OPEN_STAGES = ("lead", "mql", "sql", "opportunity", "demo")
STAGE_KIND = {"lead": "lead", "mql": "mql", "sql": "sql", "opportunity": "opportunity",
              "demo": "demo-booked"}
BASE_PROPERTIES = ("dealname", "dealstage", "pipeline", "createdate", "closedate", "amount",
                   "deal_currency_code", "hubspot_owner_id", "hs_analytics_source",
                   "closed_lost_reason", "hs_is_closed_won", "hs_lastmodifieddate",
                   "hs_merged_object_ids")


class Unmapped(ValueError):
    """A deal that cannot be placed; `label` names what (a stage, a source, a currency)."""

    def __init__(self, what: str, label: str, hint: str) -> None:
        super().__init__(f'{what} "{label}"')
        self.what, self.label, self.hint = what, label, hint


@dataclass
class StageMap:
    """Stage id → kpibot stage (None: unmapped), and the stages themselves."""

    stages: dict[str, Stage]
    targets: dict[str, str | None]

    @property
    def unmapped(self) -> list[Stage]:
        return [self.stages[i] for i, t in self.targets.items() if t is None]

    def properties(self) -> list[str]:
        """The deal properties a search asks for: the base ones and every entry time."""
        entered = [f"{prefix}{stage_id}" for stage_id in self.stages
                   for prefix in ("hs_v2_date_entered_", "hs_date_entered_")]
        return [*BASE_PROPERTIES, *entered]


def stage_label(stage: Stage) -> str:
    return f"{stage.pipeline_label}/{stage.label}"


def map_stages(stages: Iterable[Stage], overrides: dict[str, str]) -> StageMap:
    """Every stage's kpibot stage (see the module doc); `overrides` keys are `stage_key`s."""
    found: dict[str, Stage] = {}
    targets: dict[str, str | None] = {}
    for stage in stages:
        found[stage.id] = stage
        targets[stage.id] = _target(stage, overrides)
    return StageMap(found, targets)


def _target(stage: Stage, overrides: dict[str, str]) -> str | None:
    for name in (stage_label(stage), stage.label, stage.id):
        if stage_key(name) in overrides:
            return overrides[stage_key(name)]
    if stage.closed:
        if stage.probability == 1.0:
            return "won"
        if stage.probability == 0.0:
            return "lost"
        return None
    target = map_stage(stage.label, None, "hubspot") or map_stage(stage.id, None, "hubspot")
    return target if target in OPEN_STAGES else None


@dataclass
class DealMapper:
    """Turns deals into events for one workspace (see the module doc)."""

    stage_map: StageMap
    owners: dict[str, Owner]
    directory: RepDirectory
    currency: str
    source_map: dict[str, str] = field(default_factory=dict)  # source_key → group
    unassigned: int = 0

    def events(self, deal: Deal) -> list[NewEvent]:
        """The deal's events; raises Unmapped when it cannot be placed."""
        stage_id = deal.get("dealstage")
        stage = self.stage_map.stages.get(stage_id or "")
        if stage is None:
            raise Unmapped("deal stage", stage_id or "(none)", "a stage no pipeline lists")
        current = self.stage_map.targets[stage.id]
        if current is None:
            raise Unmapped("deal stage", stage_label(stage), _stage_hint(stage))
        won = current == "won" or deal.get("hs_is_closed_won") == "true"
        outcome = "won" if won else "lost" if current == "lost" else "open"
        created = parse_instant(deal.get("createdate"))
        if created is None:
            raise Unmapped("create date", deal.get("createdate") or "(none)",
                           "HubSpot sets createdate on every deal")
        currency = (deal.get("deal_currency_code") or self.currency).upper()
        if currency != self.currency:
            raise Unmapped("currency", currency, f"this workspace counts in {self.currency}")
        amount = self._amount(deal.get("amount"))
        source_raw = _text(deal.get("hs_analytics_source"))
        source = self._source(source_raw)
        owner_ref = deal.get("hubspot_owner_id") or ""
        user_id = self._owner(owner_ref)
        name = _text(deal.get("dealname")) or deal.id
        common = {"user_id": user_id, "logged_by": LOGGED_BY, "deal_key": deal.id.casefold(),
                  "deal_name": name}

        entries = self._entries(deal, current if outcome == "open" else None)
        if not entries:
            entries = {(current if outcome == "open" else "opportunity"): created}
        events: list[NewEvent] = []
        first = min(entries.items(), key=lambda item: (item[1], OPEN_STAGES.index(item[0])))
        for target, at in sorted(entries.items(), key=lambda item: item[1]):
            kind = STAGE_KIND[target]
            extra: dict = {}
            if target == first[0] and kind in SOURCE_KINDS and source_raw:
                extra.update(source=source, source_raw=source_raw)
            if kind == "opportunity" and amount is not None:
                extra.update(amount_minor=amount, currency=self.currency)
            events.append(self._event(deal, kind, at, owner_ref, common, extra))
        if outcome != "open":
            closed_at = parse_instant(deal.get("closedate")) or self._entered(deal, stage.id) \
                or parse_instant(deal.get("hs_lastmodifieddate")) or created
            if outcome == "won":
                extra = {"amount_minor": amount, "currency": self.currency} \
                    if amount is not None else {}
                events.append(self._event(deal, "deal-won", closed_at, owner_ref, common, extra))
            else:
                events.append(self._event(deal, "deal-lost", closed_at, owner_ref, common,
                                          {"reason": _text(deal.get("closed_lost_reason"))}))
        return events

    # ------------------------------------------------------------------ parts
    def _entries(self, deal: Deal, open_at: str | None) -> dict[str, datetime]:
        """kpibot stage → earliest entry time; an open deal's only up to its current stage."""
        limit = OPEN_STAGES.index(open_at) if open_at else len(OPEN_STAGES)
        found: dict[str, datetime] = {}
        for stage_id, target in self.stage_map.targets.items():
            if target not in OPEN_STAGES or OPEN_STAGES.index(target) > limit:
                continue
            at = self._entered(deal, stage_id)
            if at is not None and (target not in found or at < found[target]):
                found[target] = at
        return found

    @staticmethod
    def _entered(deal: Deal, stage_id: str) -> datetime | None:
        return parse_instant(deal.get(f"hs_v2_date_entered_{stage_id}")
                             or deal.get(f"hs_date_entered_{stage_id}"))

    def _event(self, deal: Deal, kind: str, at: datetime, owner_ref: str, common: dict,
               extra: dict) -> NewEvent:
        material = "\x1f".join(str(part) for part in (
            deal.id, kind, at.isoformat(), owner_ref, common["deal_name"],
            *(f"{k}={v}" for k, v in sorted(extra.items()))))
        key = "hubspot:" + hashlib.sha256(material.encode()).hexdigest()[:40]
        return NewEvent(kind=kind, occurred_at=at, idempotency_key=key, **common, **extra)

    def _amount(self, text: str | None) -> int | None:
        if not text:
            return None
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise Unmapped("amount", text, "HubSpot amounts are numbers") from None
        if not value.is_finite() or value < 0 or value > 10**12:
            raise Unmapped("amount", text, "an amount between 0 and 1,000,000,000,000")
        return int((value * 10 ** currency_exponent(self.currency)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP))

    def _source(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        group = self.source_map.get(source_key(raw)) or source_group(raw)
        if group is None:
            known = ", ".join(PRESETS["hubspot"].sources)
            raise Unmapped("lead source", raw, f"the HubSpot sources kpibot knows are {known}; "
                           f"map it with --source \"{raw}=GROUP\" (GROUP one of "
                           f"{', '.join(LEAD_SOURCES)})")
        return group

    def _owner(self, owner_id: str) -> str:
        if not owner_id:
            self.unassigned += 1
            return self.directory.resolve(UNASSIGNED_NAME)
        owner = self.owners.get(owner_id) or Owner(owner_id, None, f"HubSpot owner {owner_id}")
        try:
            if owner.email and " ".join(owner.email.split()).casefold() in self.directory.by_email:
                return self.directory.resolve(owner.email)
            user_id = self.directory.resolve(owner.name or owner.email or owner_id)
        except RepError as error:
            raise Unmapped("owner", owner.name or owner.email or owner_id, str(error)) from None
        if user_id in self.directory.pending and owner.email:  # a new named rep: keep its email
            name, _ = self.directory.pending[user_id]
            self.directory.pending[user_id] = (name, owner.email)
        return user_id


def _stage_hint(stage: Stage) -> str:
    return (f'map it with --stage "{stage_label(stage)}=STAGE" (STAGE one of '
            f"{', '.join(STAGE_TARGETS)})")


def _text(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = " ".join(value.split())
    return cleaned[:MAX_NAME] or None

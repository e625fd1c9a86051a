"""`/kpi digest here|off|list|preview|now|status` — the weekly digest of this channel.

`/kpi digest here [weekly DAY HH:MM|monthly DAY HH:MM] [TZ] [lang=xx] [webhook=URL]` (admins)
posts the digest into this channel: weekly on Monday at 09:00 in the workspace time zone
unless told otherwise; lang= is en, nb, sv, ro or zh; webhook= (Teams) posts through a Teams
Workflows webhook instead of the bot. `/kpi digest off` (admins) stops it. `/kpi digest list`
shows every channel's digest with its next run; `/kpi digest preview` shows this channel's
digest to you only; `/kpi digest now` (admins) posts it now; `/kpi digest status` shows the
last deliveries (sent, failed with the reason, skipped).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import Invocation
from bot.digests.compose import compose_preview
from bot.digests.outbound import mask_url
from bot.digests.status import INTERRUPTED_RULE, delivery_detail, rule_of
from bot.grammar import CommandSpec, DigestCommand, DigestHereCommand
from bot.grammar.digest import parse_digest, parse_digest_here
from bot.replies import Reply, Section, error_reply
from reports.languages import LANGUAGE_NAMES, LANGUAGES
from storage import digests as ledger
from storage.models import DigestSchedule


def _refuse_non_admin(invocation: Invocation, what: str) -> Reply | None:
    if invocation.is_admin():
        return None
    spec = DIGEST_HERE if what == "here" else DIGEST
    return error_reply(f"Only admins can {what}; nothing was changed.", usage=spec.usage,
                       example=spec.example)


def _channel(invocation: Invocation) -> str | None:
    return invocation.request.channel_id


def _mask(url: str | None) -> str:
    return mask_url(url) if url else ""


def _when(instant: datetime, tz: str) -> str:
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%a %d %b %Y %H:%M} {tz}"


def handle_digest_here(command: DigestHereCommand, invocation: Invocation) -> Reply:
    refusal = _refuse_non_admin(invocation, "set up the digest")
    if refusal:
        return refusal
    channel = _channel(invocation)
    if not channel:
        return error_reply("/kpi digest here must be used in the channel that should get the "
                           "digest; nothing was changed.")
    platform = invocation.request.platform
    if command.webhook and platform != "teams":
        return error_reply("webhook= is for Teams Workflows webhooks; in Slack the bot posts "
                           "itself. Nothing was changed.",
                           usage=DIGEST_HERE.usage,
                           example=DIGEST_HERE.example)
    if command.webhook:
        try:  # the policy wiring injects: Microsoft's Workflows hosts, public addresses
            invocation.context.outbound.check_webhook(command.webhook)
        except ValueError as problem:
            return error_reply(f"This webhook is refused: {problem}. Nothing was changed.",
                               usage=DIGEST_HERE.usage,
                               example=DIGEST_HERE.example)
    tz = command.tz or invocation.workspace.timezone
    language = command.lang or "en"
    fields = ledger.ScheduleFields(cadence=command.cadence, day=command.day,
                                   hour=command.time.hour, minute=command.time.minute,
                                   timezone=tz, language=language)
    with invocation.context.database.write() as session:
        schedule = ledger.save_schedule(
            session=session, workspace_id=invocation.workspace.id, platform=platform,
            channel_id=channel, owner_id=invocation.request.user_id, fields=fields,
            now=invocation.now, webhook_url=command.webhook,
            channel_name=invocation.request.channel_name)
    if invocation.context.digests is not None:
        invocation.context.digests.schedules_changed()
    rule = rule_of(schedule)
    lines = [f"Next digest: {_when(rule.next_slot(invocation.now), tz)}.",
             "Preview it with /kpi digest preview; /kpi digest off stops it."]
    if schedule.webhook_url:
        lines.insert(0, "Posting through the Teams Workflows webhook "
                        f"{_mask(schedule.webhook_url)}.")
    elif platform == "slack":
        lines.append("Invite the bot to this channel (/invite @kpibot) if it is not a member.")
    return Reply(text=f"Digest set for this channel: {rule.describe()}, in "
                      f"{LANGUAGE_NAMES.get(language, language)}.",
                 sections=(Section(lines=tuple(lines)),))


def handle_digest(command: DigestCommand, invocation: Invocation) -> Reply:
    action = command.action
    if action == "off":
        return _off(invocation)
    if action == "list":
        return _list(invocation)
    if action == "preview":
        return _preview(invocation)
    if action == "now":
        return _now(invocation)
    return _status(invocation)


def _this_schedule(invocation: Invocation) -> DigestSchedule | None:
    channel = _channel(invocation)
    if not channel:
        return None
    with invocation.context.database.read() as session:
        return ledger.get_schedule(session=session, workspace_id=invocation.workspace.id,
                                   platform=invocation.request.platform, channel_id=channel)


def _off(invocation: Invocation) -> Reply:
    refusal = _refuse_non_admin(invocation, "turn the digest off")
    if refusal:
        return refusal
    channel = _channel(invocation)
    with invocation.context.database.write() as session:
        schedule = ledger.disable_schedule(
            session=session, workspace_id=invocation.workspace.id,
            platform=invocation.request.platform, channel_id=channel or "", now=invocation.now)
    if schedule is None:
        return Reply(text="This channel has no digest to turn off; nothing was changed.",
                     ok=False)
    if invocation.context.digests is not None:
        invocation.context.digests.schedules_changed()
    return Reply(text="Digest turned off for this channel. /kpi digest here turns it back on.")


def _list(invocation: Invocation) -> Reply:
    with invocation.context.database.read() as session:
        schedules = ledger.list_schedules(session=session, workspace_id=invocation.workspace.id)
        last = {d.schedule_id: d for d in reversed(ledger.list_deliveries(
            session=session, workspace_id=invocation.workspace.id, limit=200))}
    if not schedules:
        return Reply(text="No digests yet. An admin can type /kpi digest here in a channel.")
    rows = [("channel", "when", "language", "next", "last")]
    for s in schedules:
        rule = rule_of(s)
        nxt = _when(rule.next_slot(invocation.now), s.timezone) if s.enabled else "off"
        d = last.get(s.id)
        rows.append((s.where, rule.describe(), s.language, nxt,
                     f"{d.status} {_when(d.slot_at, s.timezone)}" if d else "—"))
    return Reply(text=f"{len(schedules)} digest schedule(s)",
                 sections=(Section(table=tuple(rows)),))


def _preview(invocation: Invocation) -> Reply:
    schedule = _this_schedule(invocation)
    digest = compose_preview(database=invocation.context.database,
                             workspace=invocation.workspace, schedule=schedule,
                             now=invocation.now)
    note = "" if schedule else " (this channel has no digest yet: /kpi digest here)"
    return Reply(text=f"Preview of this channel's digest, only you can see it{note}.",
                 digest=digest)


def _now(invocation: Invocation) -> Reply:
    refusal = _refuse_non_admin(invocation, "post the digest now")
    if refusal:
        return refusal
    schedule = _this_schedule(invocation)
    if schedule is None:
        return error_reply("This channel has no digest yet; set it up with /kpi digest here "
                           "first.", usage=DIGEST_HERE.usage,
                           example=DIGEST_HERE.example)
    control = invocation.context.digests
    if control is None or not control.send_now(schedule):
        return error_reply("Digests are posted by the running bot (kpibot serve), which is not "
                           "running here; try /kpi digest preview, or kpibot digest send.")
    return Reply(text="Posting this channel's digest now; /kpi digest status shows how it went.")


def _status(invocation: Invocation) -> Reply:
    with invocation.context.database.read() as session:
        schedules = {s.id: s for s in ledger.list_schedules(
            session=session, workspace_id=invocation.workspace.id)}
        deliveries = ledger.list_deliveries(session=session,
                                            workspace_id=invocation.workspace.id, limit=15)
    if not deliveries:
        return Reply(text="No digest has been posted yet.")
    rows = [("slot", "channel", "status", "attempts", "detail")]
    for d in deliveries:
        s = schedules.get(d.schedule_id)
        tz = s.timezone if s else "UTC"
        rows.append((_when(d.slot_at, tz), s.where if s else "?",
                     d.status + ("" if d.trigger == "scheduled" else f" ({d.trigger})"),
                     str(d.attempts), delivery_detail(d)))
    text = f"Last {len(deliveries)} digest deliveries"
    if any(s.platform == "teams" for s in schedules.values()):
        text += f". {INTERRUPTED_RULE}"
    return Reply(text=text, sections=(Section(table=tuple(rows)),))


DIGEST = CommandSpec(
    word="digest", command=DigestCommand, parse=parse_digest, handle=handle_digest,
    usage="/kpi digest here|off|list|preview|now|status", example="/kpi digest preview",
    summary="`off` (admins): stop this channel's digest / `list`: every channel's digest with "
            "its next run / `preview`: this channel's digest, only to you / `now` (admins): post "
            "it now / `status`: the last deliveries",
    help=__doc__)
DIGEST_HERE = CommandSpec(
    word="digest here", command=DigestHereCommand, parse=parse_digest_here,
    handle=handle_digest_here,
    usage="/kpi digest here [weekly DAY HH:MM|monthly DAY HH:MM] [TZ] [lang=xx] [webhook=URL]",
    example="/kpi digest here weekly mon 09:00 Europe/Oslo",
    summary="admins: post the digest into this channel (default weekly, Monday 09:00, workspace "
            "time zone; `lang=` en, nb, sv, ro, zh; `webhook=` a Teams Workflows URL)",
    help="""(admins) Posts the digest into this channel: weekly on Monday at 09:00 in the
    workspace time zone unless told otherwise; DAY is mon..sun for weekly, 1..28 or `last` for
    monthly; lang= is en, nb, sv, ro or zh; webhook= (Teams) posts through a Teams Workflows
    webhook instead of the bot.""")

__all__ = ["DIGEST", "DIGEST_HERE", "LANGUAGES", "handle_digest", "handle_digest_here"]

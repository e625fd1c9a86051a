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

from babel import Locale
from babel.dates import format_datetime, get_day_names

from bot.core import Invocation
from bot.digests.compose import compose_preview
from bot.digests.outbound import mask_url
from bot.digests.status import INTERRUPTED_RULE, rule_of
from bot.grammar import CommandSpec, DigestCommand, DigestHereCommand
from bot.grammar.digest import parse_digest, parse_digest_here
from bot.replies import Reply, Section, error_reply
from reports.digest.slots import SlotRule
from reports.format import format_number
from reports.i18n import N_, Translator, babel_locale
from reports.languages import LANGUAGES
from storage import digests as ledger
from storage.models import DigestSchedule

# What an admin may do here, for "Only admins can {what}" (said in the user's language)
_ADMIN_ACTIONS = {"here": N_("Only admins can set up the digest; nothing was changed."),
                  "off": N_("Only admins can turn the digest off; nothing was changed."),
                  "now": N_("Only admins can post the digest now; nothing was changed.")}
# A delivery's status and trigger as a person reads them
_STATUSES = {"claimed": N_("posting"), "sent": N_("sent"), "failed": N_("failed"),
             "skipped": N_("skipped"), "catch-up": N_("catch-up"), "manual": N_("manual")}


def _refuse_non_admin(invocation: Invocation, what: str) -> Reply | None:
    if invocation.is_admin():
        return None
    spec = DIGEST_HERE if what == "here" else DIGEST
    return error_reply(invocation.t.gettext(_ADMIN_ACTIONS[what]), usage=spec.usage,
                       example=spec.example, t=invocation.t)


def _channel(invocation: Invocation) -> str | None:
    return invocation.request.channel_id


def _mask(url: str | None) -> str:
    return mask_url(url) if url else ""


def _when(instant: datetime, tz: str, t: Translator) -> str:
    local = instant.astimezone(ZoneInfo(tz))
    return f"{format_datetime(local, 'EEE d MMM yyyy HH:mm', locale=t.locale)} {tz}"


def describe_rule(rule: SlotRule, t: Translator) -> str:
    """`weekly on Monday at 09:00 Europe/Oslo` in the language of `t`."""
    at = f"{rule.hour:02d}:{rule.minute:02d} {rule.tz}"
    if rule.cadence == "weekly":
        day = get_day_names("wide", locale=t.locale)[rule.day]
        return t.gettext("weekly on {day} at {time}", day=day, time=at)
    if rule.day == -1:
        return t.gettext("monthly on the last day at {time}", time=at)
    return t.gettext("monthly on day {day} at {time}", day=rule.day, time=at)


def language_name(code: str, t: Translator) -> str:
    """The name of language `code` in the language of `t` ("norsk bokmål", "瑞典语")."""
    return Locale.parse(babel_locale(code)).get_language_name(t.locale) or code


def handle_digest_here(command: DigestHereCommand, invocation: Invocation) -> Reply:
    t = invocation.t
    refusal = _refuse_non_admin(invocation, "here")
    if refusal:
        return refusal
    channel = _channel(invocation)
    if not channel:
        return error_reply(t.gettext("{command} must be used in the channel that should get the "
                                     "digest; nothing was changed.",
                                     command="/kpi digest here"), t=t)
    platform = invocation.request.platform
    if command.webhook and platform != "teams":
        return error_reply(t.gettext("{option} is for Teams Workflows webhooks; in Slack the bot "
                                     "posts itself. Nothing was changed.", option="webhook="),
                           usage=DIGEST_HERE.usage, example=DIGEST_HERE.example, t=t)
    if command.webhook:
        try:  # the policy wiring injects: Microsoft's Workflows hosts, public addresses
            invocation.context.outbound.check_webhook(command.webhook)
        except ValueError as problem:
            return error_reply(t.gettext("This webhook is refused: {problem}. Nothing was "
                                         "changed.", problem=problem),
                               usage=DIGEST_HERE.usage, example=DIGEST_HERE.example, t=t)
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
    lines = [t.gettext("Next digest: {when}.", when=_when(rule.next_slot(invocation.now), tz, t)),
             t.gettext("Preview it with {preview}; {off} stops it.",
                       preview="/kpi digest preview", off="/kpi digest off")]
    if schedule.webhook_url:
        lines.insert(0, t.gettext("Posting through the Teams Workflows webhook {url}.",
                                  url=_mask(schedule.webhook_url)))
    elif platform == "slack":
        lines.append(t.gettext("Invite the bot to this channel ({command}) if it is not a "
                               "member.", command="/invite @kpibot"))
    return Reply(text=t.gettext("Digest set for this channel: {when}, in {language}.",
                                when=describe_rule(rule, t),
                                language=language_name(language, t)),
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
    t = invocation.t
    refusal = _refuse_non_admin(invocation, "off")
    if refusal:
        return refusal
    channel = _channel(invocation)
    with invocation.context.database.write() as session:
        schedule = ledger.disable_schedule(
            session=session, workspace_id=invocation.workspace.id,
            platform=invocation.request.platform, channel_id=channel or "", now=invocation.now)
    if schedule is None:
        return Reply(text=t.gettext("This channel has no digest to turn off; nothing was "
                                    "changed."), ok=False)
    if invocation.context.digests is not None:
        invocation.context.digests.schedules_changed()
    return Reply(text=t.gettext("Digest turned off for this channel. {command} turns it back "
                                "on.", command="/kpi digest here"))


def _status_word(status: str, t: Translator) -> str:
    return t.gettext(_STATUSES[status]) if status in _STATUSES else status


def _list(invocation: Invocation) -> Reply:
    t = invocation.t
    with invocation.context.database.read() as session:
        schedules = ledger.list_schedules(session=session, workspace_id=invocation.workspace.id)
        last = {d.schedule_id: d for d in reversed(ledger.list_deliveries(
            session=session, workspace_id=invocation.workspace.id, limit=200))}
    if not schedules:
        return Reply(text=t.gettext("No digests yet. An admin can type {command} in a channel.",
                                    command="/kpi digest here"))
    rows = [(t.gettext("channel"), t.gettext("when"), t.gettext("language"), t.gettext("next"),
             t.gettext("last"))]
    for s in schedules:
        rule = rule_of(s)
        nxt = (_when(rule.next_slot(invocation.now), s.timezone, t) if s.enabled
               else t.gettext("off"))
        d = last.get(s.id)
        rows.append((s.where, describe_rule(rule, t), language_name(s.language, t), nxt,
                     f"{_status_word(d.status, t)} {_when(d.slot_at, s.timezone, t)}"
                     if d else "—"))
    return Reply(text=t.ngettext("{count} digest schedule", "{count} digest schedules",
                                 len(schedules), count=len(schedules)),
                 sections=(Section(table=tuple(rows)),))


def _preview(invocation: Invocation) -> Reply:
    t = invocation.t
    schedule = _this_schedule(invocation)
    digest = compose_preview(database=invocation.context.database,
                             workspace=invocation.workspace, schedule=schedule,
                             now=invocation.now)
    if schedule:
        text = t.gettext("Preview of this channel's digest, only you can see it.")
    else:
        text = t.gettext("Preview of this channel's digest, only you can see it (this channel "
                         "has no digest yet: {command}).", command="/kpi digest here")
    return Reply(text=text, digest=digest)


def _now(invocation: Invocation) -> Reply:
    t = invocation.t
    refusal = _refuse_non_admin(invocation, "now")
    if refusal:
        return refusal
    schedule = _this_schedule(invocation)
    if schedule is None:
        return error_reply(t.gettext("This channel has no digest yet; set it up with {command} "
                                     "first.", command="/kpi digest here"),
                           usage=DIGEST_HERE.usage, example=DIGEST_HERE.example, t=t)
    control = invocation.context.digests
    if control is None or not control.send_now(schedule):
        return error_reply(t.gettext(
            "Digests are posted by the running bot ({serve}), which is not running here; try "
            "{preview}, or {send}.", serve="kpibot serve", preview="/kpi digest preview",
            send="kpibot digest send"), t=t)
    return Reply(text=t.gettext("Posting this channel's digest now; {command} shows how it "
                                "went.", command="/kpi digest status"))


def _status(invocation: Invocation) -> Reply:
    t = invocation.t
    with invocation.context.database.read() as session:
        schedules = {s.id: s for s in ledger.list_schedules(
            session=session, workspace_id=invocation.workspace.id)}
        deliveries = ledger.list_deliveries(session=session,
                                            workspace_id=invocation.workspace.id, limit=15)
    if not deliveries:
        return Reply(text=t.gettext("No digest has been posted yet."))
    rows = [(t.gettext("slot"), t.gettext("channel"), t.gettext("status"),
             t.gettext("attempts"), t.gettext("detail"))]
    for d in deliveries:
        s = schedules.get(d.schedule_id)
        tz = s.timezone if s else "UTC"
        trigger = "" if d.trigger == "scheduled" else f" ({_status_word(d.trigger, t)})"
        rows.append((_when(d.slot_at, tz, t), s.where if s else "?",
                     _status_word(d.status, t) + trigger, format_number(d.attempts, t.locale),
                     "; ".join(part for part in (d.note, d.error) if part)))
    text = t.gettext("Last digest deliveries: {count}",
                      count=format_number(len(deliveries), t.locale))
    if any(s.platform == "teams" for s in schedules.values()):
        text += f". {t.gettext(INTERRUPTED_RULE)}"
    return Reply(text=text, sections=(Section(table=tuple(rows)),))


DIGEST = CommandSpec(
    word="digest", command=DigestCommand, parse=parse_digest, handle=handle_digest,
    usage="/kpi digest here|off|list|preview|now|status", example="/kpi digest preview",
    summary="`off` (admins): stop this channel's digest / `list`: every channel's digest with "
            "its next run / `preview`: this channel's digest, only to you / `now` (admins): post "
            "it now / `status`: the last deliveries",
    help="""`/kpi digest off` (admins) stops this channel's digest; `/kpi digest list` shows
    every channel's digest with its next run; `/kpi digest preview` shows this channel's digest
    to you only; `/kpi digest now` (admins) posts it now; `/kpi digest status` shows the last
    deliveries. `/kpi help digest here` says how to set one up.""",
    # (and `/kpi digest here`: the same first word, bot/core.py). Each action's first
    # transaction comes before what it does outside the database (`now`: the delivery).
    guesses_workspace=True,
)
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

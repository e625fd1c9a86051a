"""Bot Framework message activities from Teams as the platform-neutral `CommandRequest`.

* Workspace: `teams:<tenant id>` (`channelData.tenant.id`, else `conversation.tenantId`).
* User: the Entra (AAD) object id of the sender, else the Teams user id (`29:...`).
* Channel: the conversation id without the channel thread suffix (`;messageid=...`).
* Text: the bot's own @mention removed, other people's mentions written as `<@AADID|Name>`
  (what the shared grammar reads as an @user), and a leading `kpi` or `/kpi` dropped.
* Idempotency: the activity id (with the conversation), so a redelivered activity stores once.

Ids longer than the 80-character columns they are stored in (Teams personal-chat ids are
about 130 characters) are replaced by a stable hash: `h:<40 hex digits>`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from datetime import datetime

from microsoft_agents.activity import Activity, ChannelAccount

from bot.core import CommandRequest
from bot.teams.references import StoredReference
from reports.languages import language_code

PLATFORM = "teams"
MAX_ID_LENGTH = 80
MAX_IDEMPOTENCY_KEY = 190  # the log handler adds "teams:"; the column holds 200

_THREAD_SUFFIX = ";messageid="
_COMMAND_PREFIX = re.compile(r"^\s*/?kpi(?:\s+|$)", re.IGNORECASE)
_LEFTOVER_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_NAME_UNSAFE = re.compile(r"[<>|\r\n\t]")


def short_id(value: str, limit: int = MAX_ID_LENGTH) -> str:
    """`value`, or a stable `h:<sha256 prefix>` when it is longer than `limit`."""
    if len(value) <= limit:
        return value
    return "h:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def base_conversation_id(conversation_id: str) -> str:
    """A channel conversation without its thread suffix (`19:...@thread.tacv2`)."""
    return conversation_id.split(_THREAD_SUFFIX, 1)[0]


def channel_key(conversation_id: str) -> str:
    """The key a conversation is known by in events, schedules and references."""
    return short_id(base_conversation_id(conversation_id))


def tenant_of(activity: Activity) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, Mapping) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), Mapping) else {}
    tenant_id = tenant.get("id") or (activity.conversation.tenant_id
                                     if activity.conversation else None)
    return str(tenant_id) if tenant_id else None


def workspace_id_for(tenant_id: str) -> str:
    return f"{PLATFORM}:{tenant_id}"


def user_key(account: ChannelAccount) -> str:
    """Who a Teams account is in kpibot: its AAD object id, else its Teams id."""
    return short_id(account.aad_object_id or account.id)


def bot_ids_for(activity: Activity, app_id: str) -> frozenset[str]:
    ids = {f"28:{app_id}", app_id}
    if activity.recipient is not None and activity.recipient.id:
        ids.add(activity.recipient.id)
    return frozenset(ids)


def mentioned_people(activity: Activity, bot_ids: Collection[str]) -> list[ChannelAccount]:
    """Users mentioned in the message, other than the bot (and not channels or tags)."""
    people = []
    for mention in activity.get_mentions():
        account = mention.mentioned
        if account is None or not account.id or account.id in bot_ids:
            continue
        if _is_user_id(account.id):
            people.append(account)
    return people


def command_text(activity: Activity, bot_ids: Collection[str],
                 member_ids: Mapping[str, str] | None = None) -> str:
    """The text after `/kpi`: bot mention gone, user mentions as `<@id|name>`."""
    member_ids = member_ids or {}
    text = (activity.text or "").replace("\u00a0", " ")
    for mention in activity.get_mentions():
        account = mention.mentioned
        if account is None or not account.id:
            continue
        markup = mention.text or f"<at>{account.name or ''}</at>"
        if account.id in bot_ids:
            replacement = " "
        elif _is_user_id(account.id):
            user = account.aad_object_id or member_ids.get(account.id) or account.id
            name = _NAME_UNSAFE.sub("", account.name or "").strip()
            replacement = f" <@{short_id(user)}|{name}> " if name else f" <@{short_id(user)}> "
        else:  # a channel, team or tag mention: typed text, which the grammar refuses
            replacement = f" @{_strip_markup(markup)} "
        text = text.replace(markup, replacement, 1)
    text = _LEFTOVER_MENTION.sub(lambda m: f"@{m.group(1)}", text)
    text = " ".join(text.split())
    return _COMMAND_PREFIX.sub("", text, count=1).strip()


def _conversation_name(activity: Activity) -> str | None:
    """The Teams channel's or group chat's name, when the activity carries it."""
    channel = (activity.channel_data or {}).get("channel") if isinstance(
        activity.channel_data, dict) else None
    name = (channel or {}).get("name") if isinstance(channel, dict) else None
    name = name or getattr(activity.conversation, "name", None)
    return " ".join(name.split())[:200] if isinstance(name, str) and name.strip() else None


def request_from_activity(activity: Activity, *, app_id: str,
                          member_ids: Mapping[str, str] | None = None) -> CommandRequest | None:
    """The command in a message activity; None when it belongs to no Teams tenant."""
    tenant_id = tenant_of(activity)
    if tenant_id is None or activity.from_property is None or not activity.from_property.id \
            or activity.conversation is None:
        return None
    key = channel_key(activity.conversation.id)
    idempotency = f"{key}/{activity.id}" if activity.id else None
    if idempotency and len(idempotency) > MAX_IDEMPOTENCY_KEY:
        idempotency = short_id(idempotency, limit=0)
    return CommandRequest(
        platform=PLATFORM,
        workspace_id=workspace_id_for(tenant_id),
        user_id=user_key(activity.from_property),
        user_name=(activity.from_property.name or None),
        channel_id=key,
        channel_name=_conversation_name(activity),
        text=command_text(activity, bot_ids_for(activity, app_id), member_ids),
        idempotency_key=idempotency,
        user_language=language_code(activity.locale) if activity.locale else None,
    )


def reference_from_activity(activity: Activity, *, now: datetime) -> StoredReference | None:
    """Where to post back to this activity's conversation later (None outside a tenant)."""
    tenant_id = tenant_of(activity)
    conversation = activity.conversation
    if tenant_id is None or conversation is None or not activity.service_url \
            or activity.recipient is None:
        return None
    data = activity.channel_data if isinstance(activity.channel_data, Mapping) else {}
    team = data.get("team") if isinstance(data.get("team"), Mapping) else {}
    channel = data.get("channel") if isinstance(data.get("channel"), Mapping) else {}
    conversation_type = conversation.conversation_type
    personal = conversation_type == "personal"
    user = activity.from_property
    return StoredReference(
        workspace_id=workspace_id_for(tenant_id),
        conversation_key=channel_key(conversation.id),
        conversation_id=base_conversation_id(conversation.id),
        service_url=activity.service_url,
        bot_id=activity.recipient.id,
        bot_name=activity.recipient.name,
        tenant_id=tenant_id,
        conversation_type=conversation_type,
        team_id=team.get("id"),
        conversation_name=channel.get("name") or conversation.name,
        user_id=user_key(user) if personal and user is not None and user.id else None,
        channel_id=str(activity.channel_id or "msteams"),
        locale=activity.locale,
        updated_at=now,
    )


def _is_user_id(account_id: str) -> bool:
    """Teams user ids start with `29:` (or `8:orgid:`); conversations `19:`, bots `28:`."""
    return not account_id.startswith(("19:", "28:"))


def _strip_markup(markup: str) -> str:
    match = _LEFTOVER_MENTION.fullmatch(markup.strip())
    return match.group(1) if match else markup

"""What the Teams stand-in and the tests send the bot: the app's ids, Bot Connector JWTs
signed with a local key, and realistic activities (channel, personal, group, install)."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "00000000-0000-4000-8000-0000000a11ce"
APP_PASSWORD = "test-app-password-never-logged"
TENANT_ID = "72f988bf-0000-4000-8000-00000000beef"
BOT_NAME = "kpibot"
ISSUER = "https://api.botframework.com"
CONNECTOR_PREFIX = "/amer"


# --------------------------------------------------------------------------------- keys, JWTs
@dataclass
class SigningKey:
    """An RSA key pair with a key id, as the Bot Framework publishes them."""

    kid: str
    private_key: rsa.RSAPrivateKey
    endorsements: tuple[str, ...] = ("msteams",)

    @classmethod
    def generate(cls, kid: str | None = None,
                 endorsements: tuple[str, ...] = ("msteams",)) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=kid or f"test-{uuid.uuid4().hex[:12]}", private_key=key,
                   endorsements=endorsements)

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256",
                    "endorsements": list(self.endorsements)})
        return jwk


def sign_token(key: SigningKey, *, audience: str = APP_ID, issuer: str = ISSUER,
               service_url: str | None = None, expires_in: float = 3600,
               issued_at: float | None = None, not_before: float | None = None,
               kid: str | None = None, algorithm: str = "RS256",
               extra: dict[str, Any] | None = None) -> str:
    """A Bot Connector JWT; shift `issued_at` into the past for an expired one."""
    now = time.time() if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "nbf": int(now - 5 if not_before is None else not_before),
        "exp": int(now + expires_in),
        "iat": int(now),
    }
    if service_url is not None:
        claims["serviceurl"] = service_url
    claims.update(extra or {})
    return jwt.encode(claims, key.private_key, algorithm=algorithm,
                      headers={"kid": kid or key.kid})


# --------------------------------------------------------------------------------- activities
_ids = itertools.count(1_763_476_200_000)


def next_activity_id() -> str:
    return str(next(_ids))


def _account(aad: str, name: str) -> dict[str, Any]:
    return {"id": f"29:1{aad.replace('-', '')[:24]}Teams", "name": name, "aadObjectId": aad}


def _bot_account(app_id: str = APP_ID) -> dict[str, Any]:
    return {"id": f"28:{app_id}", "name": BOT_NAME}


def _mention(account: dict[str, Any], include_aad: bool = True) -> tuple[str, dict[str, Any]]:
    markup = f"<at>{account['name']}</at>"
    mentioned = {"id": account["id"], "name": account["name"]}
    if include_aad and "aadObjectId" in account:
        mentioned["aadObjectId"] = account["aadObjectId"]
    return markup, {"type": "mention", "text": markup, "mentioned": mentioned}


def _base(text: str, *, service_url: str, tenant_id: str, user: dict[str, Any],
          conversation: dict[str, Any], channel_data: dict[str, Any],
          entities: list[dict[str, Any]], activity_id: str | None,
          app_id: str) -> dict[str, Any]:
    return {
        "text": text,
        "textFormat": "plain",
        "type": "message",
        "timestamp": "2026-11-18T14:30:00.1234567Z",
        "localTimestamp": "2026-11-18T15:30:00.1234567+01:00",
        "id": activity_id or next_activity_id(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": user,
        "conversation": conversation,
        "recipient": _bot_account(app_id),
        "entities": [*entities, {"type": "clientInfo", "locale": "en-US", "country": "NO",
                                 "platform": "Web", "timezone": "Europe/Oslo"}],
        "channelData": {**channel_data, "tenant": {"id": tenant_id}},
        "locale": "en-US",
        "localTimezone": "Europe/Oslo",
    }


def user(aad: str = "aad-alice", name: str = "Alice Rep") -> dict[str, Any]:
    return _account(aad, name)


def channel_message(command: str, *, service_url: str, tenant_id: str = TENANT_ID,
                    sender: dict[str, Any] | None = None, activity_id: str | None = None,
                    mentions: tuple[dict[str, Any], ...] = (), mention_aad: bool = True,
                    channel: str = "19:c0ffee0123456789abcdef0123456789@thread.tacv2",
                    thread_id: str | None = None, app_id: str = APP_ID) -> dict[str, Any]:
    """`@kpibot <command>` posted in a team channel (a new post, or a reply in `thread_id`)."""
    activity_id = activity_id or next_activity_id()
    bot_markup, bot_entity = _mention(_bot_account(app_id))
    entities = [bot_entity]
    text = f"{bot_markup} {command}"
    for person in mentions:
        markup, entity = _mention(person, include_aad=mention_aad)
        text = text.replace(f"@{person['name']}", markup)
        entities.append(entity)
    team = "19:7ea1234567890abcdef1234567890ab@thread.tacv2"
    return _base(
        text + "\n", service_url=service_url, tenant_id=tenant_id,
        user=sender or user(), activity_id=activity_id, app_id=app_id,
        conversation={"isGroup": True, "conversationType": "channel", "tenantId": tenant_id,
                      "id": f"{channel};messageid={thread_id or activity_id}"},
        channel_data={"teamsChannelId": channel, "teamsTeamId": team,
                      "channel": {"id": channel}, "team": {"id": team}},
        entities=entities,
    )


def personal_conversation_id(sender: dict[str, Any]) -> str:
    """A 1:1 chat id shaped like Teams' (`a:1` + ~126 characters)."""
    digest = hashlib.sha512(sender["aadObjectId"].encode()).hexdigest()
    return f"a:1{digest[:126]}"


def personal_message(command: str, *, service_url: str, tenant_id: str = TENANT_ID,
                     sender: dict[str, Any] | None = None, activity_id: str | None = None,
                     app_id: str = APP_ID) -> dict[str, Any]:
    """`kpi <command>` typed in the 1:1 chat with the bot (no mention)."""
    sender = sender or user()
    conversation_id = personal_conversation_id(sender)
    return _base(
        command, service_url=service_url, tenant_id=tenant_id, user=sender,
        activity_id=activity_id, app_id=app_id,
        conversation={"conversationType": "personal", "tenantId": tenant_id,
                      "id": conversation_id},
        channel_data={}, entities=[],
    )


def group_message(command: str, *, service_url: str, tenant_id: str = TENANT_ID,
                  sender: dict[str, Any] | None = None, activity_id: str | None = None,
                  app_id: str = APP_ID) -> dict[str, Any]:
    """`@kpibot <command>` in a group chat."""
    bot_markup, bot_entity = _mention(_bot_account(app_id))
    return _base(
        f"{bot_markup} {command}", service_url=service_url, tenant_id=tenant_id,
        user=sender or user(), activity_id=activity_id, app_id=app_id,
        conversation={"isGroup": True, "conversationType": "groupChat", "tenantId": tenant_id,
                      "id": "19:meeting_5a1e5c4a11@thread.v2"},
        channel_data={}, entities=[bot_entity],
    )


def conversation_update(*, service_url: str, tenant_id: str = TENANT_ID, added: bool = True,
                        app_id: str = APP_ID,
                        channel: str = "19:c0ffee0123456789abcdef0123456789@thread.tacv2"
                        ) -> dict[str, Any]:
    """The bot added to (or removed from) a team: `conversationUpdate` in its General channel."""
    team = "19:7ea1234567890abcdef1234567890ab@thread.tacv2"
    activity = {
        "type": "conversationUpdate",
        "id": f"f:{uuid.uuid4().hex}",
        "timestamp": "2026-11-18T14:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": user("aad-boss", "Boss Admin"),
        "conversation": {"isGroup": True, "conversationType": "channel", "tenantId": tenant_id,
                         "id": channel},
        "recipient": _bot_account(app_id),
        "channelData": {"team": {"id": team, "name": "Sales", "aadGroupId": str(uuid.uuid4())},
                        "eventType": "teamMemberAdded" if added else "teamMemberRemoved",
                        "tenant": {"id": tenant_id}},
    }
    activity["membersAdded" if added else "membersRemoved"] = [{"id": f"28:{app_id}"}]
    return activity


def installation_update(*, service_url: str, tenant_id: str = TENANT_ID, action: str = "add",
                        sender: dict[str, Any] | None = None,
                        app_id: str = APP_ID) -> dict[str, Any]:
    """The app installed (or removed) in someone's personal scope."""
    sender = sender or user()
    return {
        "type": "installationUpdate",
        "action": action,
        "id": f"f:{uuid.uuid4().hex}",
        "timestamp": "2026-11-18T14:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": sender,
        "conversation": {"conversationType": "personal", "tenantId": tenant_id,
                         "id": personal_conversation_id(sender)},
        "recipient": _bot_account(app_id),
        "channelData": {"tenant": {"id": tenant_id}, "source": {"name": "message"}},
    }


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_activity(base_url: str, activity: dict[str, Any] | bytes, *, token: str | None,
                  path: str = "/api/messages", scheme: str = "Bearer",
                  timeout: float = 15.0) -> tuple[int, Any]:
    """POST an activity to the bot as the Bot Connector does; returns (status, parsed body)."""
    data = activity if isinstance(activity, bytes) else json.dumps(activity).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "Microsoft-SkypeBotApi (Microsoft-BotFramework/3.0)"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, headers=headers,
                                     method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text

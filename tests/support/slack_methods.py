"""The Web API methods the Slack stand-in answers (auth, chat, conversations, users, team,
files, views, reactions), as a mixin of `SlackApiServer`, and the table that routes to them."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import time
from collections.abc import Callable
from typing import Any

from tests.support.slack_calls import (
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    MAX_BLOCKS,
    MAX_TEXT,
    RecordedCall,
    truthy,
    tz_details,
)


class SlackMethods:
    """The method implementations; `SlackApiServer` holds the state they read and write."""

    def _next_ts(self) -> str:
        """A Slack message timestamp from ``clock``: unique and increasing."""
        with self._cond:
            micros = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):010d}"

    def _make_user(self, user_id: str, **kw: Any) -> dict[str, Any]:
        tz = kw.get("tz") or "Europe/Oslo"
        tz_label, tz_offset = tz_details(tz)
        name = kw.get("name") or user_id.lower()
        real_name = kw.get("real_name") or f"User {user_id}"
        email = kw.get("email") or f"{name}@{self.team_domain}.example"
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": kw.get("deleted", False),
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "locale": kw.get("locale") or "en-US",
            "profile": {
                "real_name": real_name,
                "display_name": real_name.split(" ")[0],
                "email": email,
                "team": self.team_id,
            },
            "is_admin": bool(kw.get("is_admin", False)),
            "is_owner": bool(kw.get("is_owner", False)),
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": bool(kw.get("is_bot", False)),
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    def _resolve_channel(self, channel: str) -> str:
        if channel[:1] in ("U", "W"):
            return self.dm_channel_for(channel)
        return channel

    def _message(self, call: RecordedCall, ts: str, channel: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": call.body.get("text", ""),
            "ts": ts,
            "channel": channel,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in call.body:
                message[key] = call.json_field(key)
        if call.body.get("thread_ts"):
            message["thread_ts"] = call.body["thread_ts"]
        return message

    def _check_message(self, call: RecordedCall) -> dict[str, Any] | None:
        if not call.channel:
            return {"ok": False, "error": "channel_not_found"}
        text = call.body.get("text")
        blocks = call.json_field("blocks")
        attachments = call.json_field("attachments")
        if not text and not blocks and not attachments:
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS):
            return {"ok": False, "error": "invalid_blocks"}
        return None

    def _auth_test(self, call: RecordedCall) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "kpibot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        channel = self._resolve_channel(call.channel or "")
        ts = self._next_ts()
        message = self._message(call, ts, channel)
        stored = {k: v for k, v in message.items() if k != "channel"}
        with self._cond:
            self._history.setdefault(channel, []).append(stored)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_history(self, call: RecordedCall) -> dict[str, Any]:
        channel = call.channel
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        try:
            oldest = float(call.body.get("oldest") or 0)
            latest = float(call.body["latest"]) if call.body.get("latest") else None
            limit = int(call.body.get("limit") or HISTORY_DEFAULT_LIMIT)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        limit = min(max(limit, 1), HISTORY_MAX_LIMIT)
        inclusive = truthy(call.body.get("inclusive"))
        with self._cond:
            stored = [dict(m) for m in self._history.get(channel, [])]

        def inside(ts: float) -> bool:
            above = ts >= oldest if inclusive else ts > oldest
            below = latest is None or (ts <= latest if inclusive else ts < latest)
            return above and below

        newest_first = [m for m in reversed(stored) if inside(float(m["ts"]))]
        if call.body.get("cursor"):
            try:
                decoded = base64.b64decode(call.body["cursor"], validate=True).decode()
                next_ts = float(decoded.removeprefix("next_ts:"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return {"ok": False, "error": "invalid_cursor"}
            newest_first = [m for m in newest_first if float(m["ts"]) <= next_ts]
        page, rest = newest_first[:limit], newest_first[limit:]
        if not truthy(call.body.get("include_all_metadata")):
            for message in page:
                message.pop("metadata", None)
        cursor = ""
        if rest:
            cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode()
        return {
            "ok": True,
            "messages": page,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _chat_post_ephemeral(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        if not call.body.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, call: RecordedCall) -> dict[str, Any]:
        if (problem := self._check_message(call)) is not None:
            return problem
        ts = call.body.get("ts")
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        channel = call.channel or ""
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": call.body.get("text", ""),
            "message": self._message(call, ts, channel),
        }

    def _chat_delete(self, call: RecordedCall) -> dict[str, Any]:
        if not call.body.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": call.channel, "ts": call.body["ts"]}

    def _conversations_open(self, call: RecordedCall) -> dict[str, Any]:
        users = call.body.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if not users:
            if call.body.get("channel"):
                return {"ok": True, "channel": {"id": call.body["channel"]}}
            return {"ok": False, "error": "users_list_not_supplied"}
        ids = [u.strip() for u in users.split(",") if u.strip()]
        channel_id = (
            self.dm_channel_for(ids[0]) if len(ids) == 1 else self.dm_channel_for(",".join(ids))
        )
        if len(ids) > 1:
            channel_id = "G" + channel_id[1:]
        return {
            "ok": True,
            "no_op": False,
            "already_open": False,
            "channel": {"id": channel_id},
        }

    def _users_info(self, call: RecordedCall) -> dict[str, Any]:
        user_id = call.body.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        with self._cond:
            user = self._users.get(user_id)
        if user is None:
            if self.strict_users:
                return {"ok": False, "error": "user_not_found"}
            user = self._make_user(user_id)
        user = dict(user)
        if str(call.body.get("include_locale", "")).lower() not in ("1", "true"):
            user.pop("locale", None)
        return {"ok": True, "user": user}

    def _team_info(self, call: RecordedCall) -> dict[str, Any]:
        return {
            "ok": True,
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": f"{self.team_domain}.example",
                "icon": {"image_default": True},
            },
        }

    def _get_upload_url(self, call: RecordedCall) -> dict[str, Any]:
        filename = call.body.get("filename")
        length = call.body.get("length")
        try:
            length_int = int(length) if length is not None else -1
        except (TypeError, ValueError):
            length_int = -1
        if not filename or length_int < 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        with self._cond:
            self._pending_files[file_id] = {
                "filename": filename,
                "length": length_int,
                "alt_txt": call.body.get("alt_txt"),
            }
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _upload(self, call: RecordedCall) -> tuple[int, Any, dict[str, str]]:
        file_id = call.body["file_id"]
        with self._cond:
            if file_id not in self._pending_files:
                return 404, "unknown upload url", {}
            self.uploads[file_id] = call.raw_body
        return 200, f"OK - {len(call.raw_body)}", {}

    def _complete_upload(self, call: RecordedCall) -> dict[str, Any]:
        items = call.json_field("files")
        if not isinstance(items, list) or not items:
            return {"ok": False, "error": "invalid_arguments"}
        channels = [c for c in [call.body.get("channel_id")] if c]
        if not channels and isinstance(call.body.get("channels"), str):
            channels = [c for c in call.body["channels"].split(",") if c]
        result = []
        now = int(time.time())
        for item in items:
            file_id = item.get("id") if isinstance(item, dict) else None
            with self._cond:
                meta = self._pending_files.get(file_id or "")
                data = self.uploads.get(file_id or "")
            if meta is None or data is None:
                return {"ok": False, "error": "file_not_found"}
            name = meta["filename"]
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            result.append(
                {
                    "id": file_id,
                    "created": now,
                    "timestamp": now,
                    "name": name,
                    "title": item.get("title") or name,
                    "mimetype": mimetype,
                    "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
                    "user": self.bot_user_id,
                    "size": len(data),
                    "url_private": f"{self.base}/files/{file_id}/{name}",
                    "permalink": f"https://{self.team_domain}.slack.com/files/{file_id}",
                    "channels": channels,
                    "alt_txt": meta.get("alt_txt"),
                }
            )
        return {"ok": True, "files": result}

    def _views(self, call: RecordedCall) -> dict[str, Any]:
        view = call.json_field("view") or {}
        view_id = call.body.get("view_id") or self._next_id("V")
        return {"ok": True, "view": {**(view if isinstance(view, dict) else {}), "id": view_id}}

    def _ok(self, call: RecordedCall) -> dict[str, Any]:
        return {"ok": True}


_METHODS: dict[str, Callable[[SlackMethods, RecordedCall], dict[str, Any]]] = {
    "api.test": SlackMethods._ok,
    "auth.test": SlackMethods._auth_test,
    "chat.postMessage": SlackMethods._chat_post_message,
    "chat.postEphemeral": SlackMethods._chat_post_ephemeral,
    "chat.update": SlackMethods._chat_update,
    "chat.delete": SlackMethods._chat_delete,
    "conversations.open": SlackMethods._conversations_open,
    "conversations.history": SlackMethods._conversations_history,
    "users.info": SlackMethods._users_info,
    "team.info": SlackMethods._team_info,
    "files.getUploadURLExternal": SlackMethods._get_upload_url,
    "files.completeUploadExternal": SlackMethods._complete_upload,
    "views.open": SlackMethods._views,
    "views.publish": SlackMethods._views,
    "views.update": SlackMethods._views,
    "views.push": SlackMethods._views,
    "reactions.add": SlackMethods._ok,
}

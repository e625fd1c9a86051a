"""The Bolt app: `/kpi` slash commands into the command handler, replies back as Block Kit."""

from __future__ import annotations

import asyncio
import re

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import CommandHandler, CommandRequest
from bot.slack.blocks import render_slash_response


def slack_workspace_id(team_id: str, enterprise_id: str | None = None) -> str:
    """Workspace key: `slack:T…`, or `slack:E…:T…` on Enterprise Grid."""
    return f"slack:{enterprise_id}:{team_id}" if enterprise_id else f"slack:{team_id}"


def request_from_command(command: dict) -> CommandRequest:
    """Slack's slash-command payload as the internal request."""
    return CommandRequest(
        platform="slack",
        workspace_id=slack_workspace_id(command["team_id"], command.get("enterprise_id") or None),
        user_id=command["user_id"],
        user_name=command.get("user_name"),
        channel_id=command.get("channel_id"),
        workspace_name=command.get("team_domain"),
        text=command.get("text", ""),
        idempotency_key=command.get("trigger_id") or None,
    )


def build_slack_app(
    *, handler: CommandHandler, bot_token: str, signing_secret: str, api_url: str
) -> AsyncApp:
    """A Bolt app that verifies every request's signature and answers `/kpi` in the ack."""
    client = AsyncWebClient(token=bot_token, base_url=api_url)
    app = AsyncApp(client=client, signing_secret=signing_secret)

    @app.command(re.compile(r"^/"))
    async def on_command(ack: AsyncAck, command: dict) -> None:
        reply = await asyncio.to_thread(handler.handle, request_from_command(command))
        await ack(**render_slash_response(reply))

    return app

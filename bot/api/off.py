"""The events API of a server without KPIBOT_TOKEN_KEY: every call answers 503, as
`EventsApi` does without a key, and the OpenAPI document is still served.

It imports none of the API's ingest, KPI or CSV modules (bot/api/routes.py pulls in about a
fifth of `kpibot serve`'s start-up), so a server without the API is listening sooner."""

from __future__ import annotations

from aiohttp import web

OFF_MESSAGE = ("the events API is off on this server: its operator has not set "
               "KPIBOT_TOKEN_KEY")


class EventsApiOff:
    """The routes of `EventsApi`, answering 503 `unavailable` (the body of `ApiError`)."""

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/events", self.off)
        app.router.add_get("/api/v1/kpis/{name}", self.off)
        app.router.add_get("/api/v1/openapi.json", self.openapi)

    async def off(self, _request: web.Request) -> web.Response:
        return web.json_response({"error": "unavailable", "message": OFF_MESSAGE}, status=503)

    async def openapi(self, _request: web.Request) -> web.Response:
        from bot.api.models import openapi_document

        return web.json_response(openapi_document())

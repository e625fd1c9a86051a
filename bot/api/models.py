"""The events API's request and response models, and the OpenAPI 3.1 document built from them.

An item's fields are the canonical events CSV columns (bot/transfer/presets.py). The models check
only what JSON adds (types, unknown fields, characters no database can store); what a value
means is checked by the CSV import's own reader (bot/transfer/rows.py `event_reader`), so an item
is valid exactly when the same values in an events CSV row are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StrictInt, StrictStr
from pydantic.json_schema import models_json_schema

MAX_ITEMS = 1000  # events in one batch
MAX_BODY = 1024 * 1024  # bytes of one request body
MAX_DEPTH = 8  # nesting of arrays and objects in a body (a valid batch needs 3)
API_VERSION = "1.0.0"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (a lone \\ud800-\\udfff escape)") \
            from None
    return value


Text = Annotated[StrictStr, AfterValidator(_storable)]
Number = Annotated[Decimal, Strict()]  # a JSON number with a fraction or exponent
Money = Annotated[StrictInt | Number | Text | None, Field(
    description="major units of the workspace currency: 1200, 1200.50 or a string such as "
                "\"12,000.50\" or \"$12,000\"")]


class EventItem(BaseModel):
    """One event, in the canonical CSV fields. Only `occurred_at` and `event` are always
    required; which others an event needs (a deal, an amount, ...) is the CSV import's rule."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: Text = Field(description="ISO 8601: 2026-10-05T14:30:00Z; a time without an "
                              "offset is workspace-local; a date alone is noon workspace-local")
    event: Text = Field(description="event kind, e.g. email-sent, lead, deal-won")
    count: StrictInt | Text | None = Field(None, description="how many (default 1)")
    amount: Money = None
    currency: Text | None = Field(None, description="ISO 4217; must be the workspace's")
    deal: Text | None = None
    account: Text | None = None
    user: Text | None = Field(None, description="the rep credited: chat user id, email or name "
                              "(unknown names become named reps, as in a CSV import)")
    source: Text | None = Field(None, description="lead source or spend channel")
    reason: Text | None = None
    note: Text | None = None
    mrr: Money = None
    duration_seconds: StrictInt | Text | None = Field(
        None, description="inbound-responded: seconds, or a duration such as 4m or 1h30m")
    competitor: Text | None = None
    key: Text | None = Field(None, description="idempotency key; without one, the key is "
                             "derived from the content as a CSV import does")

    def csv_values(self) -> dict[str, str]:
        """The item as the cells of an events CSV row (absent and null fields left out)."""
        return {name: _cell(value) for name, value in self.__dict__.items()
                if value is not None}


def _cell(value: object) -> str:
    if isinstance(value, Decimal):
        # plain digits for ordinary numbers; 1E+999999 stays short (and is refused as such)
        return format(value, "f") if -30 < value.adjusted() < 30 else str(value)
    return str(value)


class EventBatch(BaseModel):
    """POST /api/v1/events: a batch of at most 1000 events."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventItem] = Field(max_length=MAX_ITEMS)


Status = Literal["stored", "duplicate", "error", "not_stored"]


class ItemResult(BaseModel):
    """What happened to the item at `index`: stored now; a duplicate of a stored event (or of
    an earlier item of the batch) with the same key; an error (nothing stored for it); or
    not_stored, when `atomic=true` refused the batch because of other items' errors."""

    index: int
    status: Status
    key: str | None = Field(None, description="the idempotency key (given or derived)")
    field: str | None = Field(None, description="the field an error is about, when known")
    reason: str | None = None


class BatchResult(BaseModel):
    stored: int
    duplicates: int
    errors: int
    atomic: bool
    results: list[ItemResult]


class ApiError(BaseModel):
    error: Literal["unauthorized", "rate_limited", "too_large", "unsupported_media_type",
                   "bad_request", "not_found", "unavailable"]
    message: str


class KpiPeriod(BaseModel):
    label: str
    start: str
    end: str


class KpiResult(BaseModel):
    """The object `kpibot kpi NAME --json` prints (README "Command line")."""

    model_config = ConfigDict(extra="allow")

    kpi: str
    workspace: str
    period: KpiPeriod
    value: float | None
    unit: str
    numerator: float | None
    denominator: float | None
    rows: list[dict[str, Any]]
    details: dict[str, Any]


_REF = "#/components/schemas/{model}"


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="ApiError")}}}}


def openapi_document() -> dict:
    """The OpenAPI 3.1 document served at GET /api/v1/openapi.json."""
    _, schemas = models_json_schema(
        [(EventBatch, "validation"), (BatchResult, "serialization"),
         (ApiError, "serialization"), (KpiResult, "serialization")],
        ref_template=_REF)
    unauthorized = _error("missing, malformed, unknown or revoked token")
    limited = _error("too many requests for this token: retry after Retry-After seconds")
    limited["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                          "description": "seconds to wait"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "kpibot events API", "version": API_VERSION,
                 "description": "Send sales events to kpibot and read KPIs (README: Events "
                                "API). Authenticate with a workspace token from "
                                "`kpibot token create`."},
        "security": [{"bearerAuth": []}],
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "kpi_... token"}},
        },
        "paths": {
            "/api/v1/events": {"post": {
                "summary": "Store a batch of events",
                "operationId": "postEvents",
                "parameters": [{
                    "name": "atomic", "in": "query", "required": False,
                    "schema": {"type": "boolean", "default": False},
                    "description": "true: store the batch only when every item is valid "
                                   "(else 422 and nothing stored); false: store the valid "
                                   "items and report the others"}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": _REF.format(model="EventBatch")}}}},
                "responses": {
                    "200": {"description": "per-item results",
                            "content": {"application/json": {
                                "schema": {"$ref": _REF.format(model="BatchResult")}}}},
                    "400": _error("not JSON, not UTF-8, nested too deeply, or not "
                                  '{"events": [...]}'),
                    "401": unauthorized,
                    "413": _error(f"body over {MAX_BODY} bytes or over {MAX_ITEMS} events"),
                    "415": _error("Content-Type is not application/json"),
                    "422": {"description": "atomic=true and some items are invalid: nothing "
                                           "stored",
                            "content": {"application/json": {
                                "schema": {"$ref": _REF.format(model="BatchResult")}}}},
                    "429": limited,
                    "503": _error("database busy or unreachable: nothing stored, retry"),
                }}},
            "/api/v1/kpis/{name}": {"get": {
                "summary": "A KPI of the token's workspace (as kpibot kpi NAME --json)",
                "operationId": "getKpi",
                "parameters": [
                    {"name": "name", "in": "path", "required": True,
                     "schema": {"type": "string"}, "description": "KPI name (kpibot kpi list)"},
                    {"name": "period", "in": "query", "required": False,
                     "schema": {"type": "string", "default": "this-month"},
                     "description": "period, e.g. this-quarter, last-month, 2026-Q3"},
                    {"name": "user", "in": "query", "required": False,
                     "schema": {"type": "string"}, "description": "only this rep's figures"}],
                "responses": {
                    "200": {"description": "the KPI",
                            "content": {"application/json": {
                                "schema": {"$ref": _REF.format(model="KpiResult")}}}},
                    "400": _error("bad period"),
                    "401": unauthorized,
                    "404": _error("no such KPI"),
                    "429": limited,
                    "503": _error("database busy or unreachable, retry"),
                }}},
            "/api/v1/openapi.json": {"get": {
                "summary": "This document", "operationId": "getOpenApi", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {}}}}}},
        },
    }

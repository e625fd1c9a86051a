"""GET /api/v1/openapi.json is a valid OpenAPI 3.1 document built from the models that validate
requests, and real answers match it; GET /api/v1/kpis/NAME answers what `kpibot kpi NAME
--json` prints, for the token's workspace only."""

from __future__ import annotations

import argparse
import io
import json

import jsonschema
import pytest
from openapi_spec_validator import validate

from bot.api.models import MAX_ITEMS, EventItem
from bot.cli import kpi as kpi_cli
from reports.kpis.catalog import CATALOG
from sampledata import seed_workspace
from tests.bot.api.conftest import NOW, WORKSPACE, new_token, post_events, request


def _schema(document: dict, name: str) -> jsonschema.Draft202012Validator:
    """A validator of components.schemas[name], its $refs resolved within the document."""
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                            "components": document["components"]})


def test_the_openapi_document_is_valid_and_matches_the_answers(api):
    response = request(api.base_url, "GET", "/api/v1/openapi.json")  # no token needed
    assert response.status == 200
    document = response.json()
    validate(document)  # openapi-spec-validator: raises on an invalid OpenAPI 3.1 document
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/v1/events", "/api/v1/kpis/{name}",
                                      "/api/v1/openapi.json"}
    schemas = document["components"]["schemas"]
    item = schemas["EventItem"]
    assert set(item["properties"]) == set(EventItem.model_fields)
    assert item["required"] == ["occurred_at", "event"]
    assert item["additionalProperties"] is False
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == MAX_ITEMS

    batch = {"events": [
        {"occurred_at": "2026-11-10", "event": "deal-won", "deal": "A", "amount": 10,
         "user": "U1"},
        {"occurred_at": "2026-11-10", "event": "deal-won", "deal": "B", "user": "U1",
         "amount": "lots"}]}  # an item error: an amount that is no number
    _schema(document, "EventBatch").validate(batch)
    with pytest.raises(jsonschema.ValidationError):
        _schema(document, "EventBatch").validate({"events": [{"event": "call"}]})
    with pytest.raises(jsonschema.ValidationError):
        _schema(document, "EventBatch").validate(
            {"events": [{"occurred_at": "x", "event": "call", "colour": "red"}]})

    answered = post_events(api.base_url, api.token, batch)
    assert answered.status == 200
    _schema(document, "BatchResult").validate(answered.json())
    refused = post_events(api.base_url, api.token, batch, query="?atomic=true")
    assert refused.status == 422
    _schema(document, "BatchResult").validate(refused.json())
    for status, response in ((401, post_events(api.base_url, None, batch)),
                             (415, post_events(api.base_url, api.token, batch,
                                               content_type="text/csv")),
                             (400, post_events(api.base_url, api.token, b"{"))):
        assert response.status == status
        assert str(status) in document["paths"]["/api/v1/events"]["post"]["responses"]
        _schema(document, "ApiError").validate(response.json())


@pytest.fixture
def seeded_api(api):
    seed_workspace(database=api.database, workspace_id=WORKSPACE, target_events=3_000,
                   end=NOW, seed=11, timezone="Europe/Oslo")
    return api


def _cli_json(api, *argv) -> dict:
    parser = argparse.ArgumentParser()
    kpi_cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    settings = api.bot.settings
    args = parser.parse_args(["kpi", *argv, "--workspace", WORKSPACE, "--json"])
    assert kpi_cli.run(args, settings, out=out, now=NOW) == 0
    return json.loads(out.getvalue())


def _get(api, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token or api.token}"}
    return request(api.base_url, "GET", path, headers=headers)


def test_every_kpi_answers_what_the_cli_prints(seeded_api):
    api = seeded_api
    document = request(api.base_url, "GET", "/api/v1/openapi.json").json()
    for name in CATALOG:
        response = _get(api, f"/api/v1/kpis/{name}?period=this-quarter")
        assert response.status == 200, (name, response.body[:200])
        assert response.json() == _cli_json(api, name, "--period", "this-quarter"), name
        _schema(document, "KpiResult").validate(response.json())
    by_rep = _get(api, "/api/v1/kpis/revenue?period=this-year&user=UGEN001").json()
    assert by_rep == _cli_json(api, "revenue", "--period", "this-year", "--user", "UGEN001")
    default = _get(api, "/api/v1/kpis/win-rate").json()
    assert default == _cli_json(api, "win-rate") and default["period"]["label"] == "this-month"
    assert default["value"] is not None


def test_kpi_errors(seeded_api):
    api = seeded_api
    missing = _get(api, "/api/v1/kpis/happiness")
    assert missing.status == 404 and "is not a KPI" in missing.json()["message"]
    bad = _get(api, "/api/v1/kpis/win-rate?period=2026-Q5")
    assert bad.status == 400 and "not a quarter" in bad.json()["message"]
    assert _get(api, "/api/v1/kpis/win-rate", token="kpi_forged").status == 401
    assert request(api.base_url, "GET", "/api/v1/kpis/win-rate").status == 401


def test_a_token_reads_only_its_own_workspace(seeded_api):
    api = seeded_api
    other = new_token(api.database, "slack:TEMPTY", "reader")
    mine = _get(api, "/api/v1/kpis/revenue?period=this-year").json()
    theirs = _get(api, "/api/v1/kpis/revenue?period=this-year", token=other).json()
    assert mine["workspace"] == WORKSPACE and mine["value"] > 0
    assert theirs["workspace"] == "slack:TEMPTY" and not theirs["value"]

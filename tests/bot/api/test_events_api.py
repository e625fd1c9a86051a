"""POST /api/v1/events over real HTTP against the running app, on SQLite and PostgreSQL:
per-item results, idempotency, atomic batches, and every refusal (401, 413, 415, 400, 429)
storing nothing."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from bot.api.models import ApiError, openapi_document
from bot.api.ratelimit import RateLimiter
from storage.api_tokens import revoke_token
from storage.models import ApiToken, Event
from tests.bot.api.conftest import (
    NOW,
    WORKSPACE,
    event_count,
    new_token,
    post_events,
    request,
)


def _won(deal: str, amount, **fields) -> dict:
    return {"occurred_at": "2026-11-10T10:00:00Z", "event": "deal-won", "deal": deal,
            "amount": amount, "user": "Jane Doe", **fields}


def test_a_batch_is_stored_with_per_item_results(api):
    items = [
        {"occurred_at": "2026-11-10", "event": "email-sent", "count": 40, "user": "U1"},
        _won("Acme", 12000.5, key="crm-1"),
        {"occurred_at": "2026-11-11T09:00:00+01:00", "event": "call", "user": "U1",
         "note": "first call"},
        {"occurred_at": "2026-11-10", "event": "deal-won", "user": "U1", "deal": "Beta",
         "amount": "1,2,3"},  # not a number
        {"occurred_at": "2026-11-10", "event": "telepathy", "user": "U1"},
        {"occurred_at": "2026-11-10", "event": "call", "user": "U1", "count": True},
        {"occurred_at": "2026-11-10", "event": "call", "user": "U1", "colour": "red"},
        "not an object",
        _won("Acme", 12000.5, key="crm-1"),  # the same key again in the batch
    ]
    response = post_events(api.base_url, api.token, {"events": items})
    assert response.status == 200, response.body
    result = response.json()
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["stored", "stored", "stored", "error", "error", "error", "error",
                        "error", "duplicate"]
    assert (result["stored"], result["duplicates"], result["errors"]) == (3, 1, 5)
    assert [r["index"] for r in result["results"]] == list(range(9))
    errors = {r["index"]: (r["field"], r["reason"]) for r in result["results"]
              if r["status"] == "error"}
    assert errors[3][0] == "amount" and '"1,2,3" is not a number' in errors[3][1]
    assert errors[4][0] == "event" and 'unknown event "telepathy"' in errors[4][1]
    assert errors[5] == ("count", "count must be a whole number or a string, not a boolean")
    assert errors[6][0] == "colour" and errors[6][1].startswith("unknown field colour")
    assert errors[7] == (None, "an event must be a JSON object, not a string")
    assert result["results"][1]["key"] == "crm-1"
    assert result["results"][0]["key"].startswith("import:")

    with api.database.read() as session:
        events = {e.kind: e for e in session.scalars(select(Event).where(
            Event.workspace_id == WORKSPACE))}
    assert sorted(events) == ["call", "deal-won", "email-sent"]
    assert events["deal-won"].amount_minor == 1_200_050 and events["deal-won"].currency == "USD"
    assert events["deal-won"].user_id == "rep:jane-doe"
    assert events["email-sent"].count == 40
    assert events["call"].note == "first call"
    assert events["call"].occurred_at.isoformat() == "2026-11-11T08:00:00+00:00"
    assert events["email-sent"].logged_by == "kpibot:import"

    again = post_events(api.base_url, api.token, {"events": items}).json()
    assert (again["stored"], again["duplicates"], again["errors"]) == (0, 4, 5)
    assert event_count(api.database, WORKSPACE) == 3


def test_atomic_batches_store_all_or_nothing(api):
    good = [_won(f"Deal {i}", 100 + i) for i in range(3)]
    bad = {"occurred_at": "2026-11-10", "event": "deal-won", "user": "U1", "deal": "X",
           "amount": "lots"}  # (a win without an amount is a win: SPEC 5, stored below)
    response = post_events(api.base_url, api.token, {"events": [*good, bad]},
                           query="?atomic=true")
    assert response.status == 422
    result = response.json()
    assert [r["status"] for r in result["results"]] == ["not_stored"] * 3 + ["error"]
    assert result["results"][3]["field"] == "amount"
    assert result["stored"] == 0 and result["atomic"] is True
    assert event_count(api.database) == 0

    response = post_events(api.base_url, api.token, {"events": good}, query="?atomic=true")
    assert response.status == 200 and response.json()["stored"] == 3
    unpriced = {"occurred_at": "2026-11-10", "event": "deal-won", "user": "U1", "deal": "Y"}
    default = post_events(api.base_url, api.token,
                          {"events": [bad, _won("Deal 9", 5), unpriced]})
    assert default.status == 200 and default.json()["stored"] == 2
    assert event_count(api.database) == 5
    assert post_events(api.base_url, api.token, {"events": good},
                       query="?atomic=maybe").status == 400


def test_a_key_less_item_gets_the_csv_import_key(api, tmp_path):
    """The same row through `kpibot import` and the API: the same event, the same key."""
    from bot.transfer.importer import ImportOptions, import_csv
    from bot.transfer.presets import EXPORT_COLUMNS

    item = {"occurred_at": "2026-11-03T08:15:00Z", "event": "deal-lost", "deal": "Gamma",
            "user": "Jane Doe", "reason": "price", "competitor": "Rival", "note": "n"}
    path = tmp_path / "one.csv"
    path.write_text(",".join(EXPORT_COLUMNS) + "\n"
                    + ",".join(item.get(c, "") for c in EXPORT_COLUMNS) + "\n")
    imported = import_csv(database=api.database, path=path, now=NOW,
                          options=ImportOptions(workspace_id="slack:TCSV"))
    assert imported.added == 1
    result = post_events(api.base_url, api.token, {"events": [item]}).json()
    assert result["stored"] == 1
    with api.database.read() as session:
        by_workspace = {e.workspace_id: e for e in session.scalars(select(Event))}
    csv_event, api_event = by_workspace["slack:TCSV"], by_workspace[WORKSPACE]
    assert api_event.idempotency_key == csv_event.idempotency_key == result["results"][0]["key"]
    for name in ("kind", "deal_key", "user_id", "reason", "competitor", "note", "occurred_at"):
        assert getattr(api_event, name) == getattr(csv_event, name), name


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer kpi_nope",
                                    "Bearer kpi_0123456789abcdef_" + "A" * 43])
def test_a_missing_or_forged_token_gets_401_and_stores_nothing(api, header):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    body = json.dumps({"events": [_won("Acme", 5)]}).encode()
    response = request(api.base_url, "POST", "/api/v1/events", body, headers)
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"
    assert event_count(api.database) == 0


def test_the_token_is_checked_before_the_body_is_read(api):
    """Without a valid token, a body too big, not JSON or nested a million deep is never read:
    401, not 413 or 400."""
    for body in (b"[" * 1_000_000, b"{not json", b" " * (3 * 1024 * 1024)):
        response = post_events(api.base_url, "kpi_forged", body)
        assert response.status == 401
        assert post_events(api.base_url, None, body, content_type="text/plain").status == 401
    assert event_count(api.database) == 0


def test_a_token_with_one_character_changed_gets_401(api):
    last = api.token[-1]
    forged = api.token[:-1] + ("A" if last != "A" else "B")
    assert post_events(api.base_url, forged, {"events": [_won("Acme", 5)]}).status == 401
    assert event_count(api.database) == 0


def test_a_revoked_token_gets_401_and_stores_nothing(api):
    assert post_events(api.base_url, api.token, {"events": [_won("A", 5)]}).status == 200
    with api.database.write() as session:
        revoke_token(session=session, workspace_id=WORKSPACE, name="zapier", now=NOW)
    response = post_events(api.base_url, api.token, {"events": [_won("B", 5)]})
    assert response.status == 401
    assert event_count(api.database) == 1


def test_a_token_stores_only_into_its_own_workspace(api):
    other = new_token(api.database, "slack:TOTHER", "zapier")
    assert post_events(api.base_url, other, {"events": [_won("A", 5)]}).json()["stored"] == 1
    assert event_count(api.database, "slack:TOTHER") == 1
    assert event_count(api.database, WORKSPACE) == 0


def test_last_use_is_recorded(api, clock):
    def last_used():
        with api.database.read() as session:
            return session.scalars(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    post_events(api.base_url, api.token, {"events": []})
    assert last_used() == clock.now


def test_bodies_over_the_limits_get_413(api):
    items = [_won(f"D{i}", 1) for i in range(1001)]
    response = post_events(api.base_url, api.token, {"events": items})
    assert response.status == 413 and "1,001 events" in response.json()["message"]
    big = {"events": [_won("D", 1, note="x" * 400) for _ in range(1000)] * 3}
    body = json.dumps(big).encode()
    assert len(body) > 1024 * 1024
    response = post_events(api.base_url, api.token, body)
    assert response.status == 413 and response.json()["error"] == "too_large"
    assert event_count(api.database) == 0


def test_a_chunked_body_over_the_limit_gets_413(api):
    """No Content-Length: the server stops reading past the limit."""
    import http.client
    import urllib.parse

    host, port = urllib.parse.urlsplit(api.base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    chunk = b" " * 65536
    try:
        connection.request("POST", "/api/v1/events", body=iter([b'{"events": []'] + [chunk] * 20
                                                               + [b"}"]),
                           headers={"Authorization": f"Bearer {api.token}",
                                    "Content-Type": "application/json"},
                           encode_chunked=True)
        assert connection.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed before the whole body was sent
    finally:
        connection.close()
    assert event_count(api.database) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", ""])
def test_a_body_that_is_not_declared_json_gets_415(api, content_type):
    response = post_events(api.base_url, api.token, {"events": [_won("A", 1)]},
                           content_type=content_type)
    assert response.status == 415
    assert event_count(api.database) == 0


@pytest.mark.parametrize("body, message", [
    (b'{"events": [', "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
    (b'{"events": [' + b"{" * 50_000, "nests deeper"),
    (b'{"events": [{"occurred_at": "2026-11-10", "event": "call", "count": '
     + b"9" * 5000 + b"}]}", "not a finite number"),
    (b'{"events": [{"occurred_at": "2026-11-10", "event": "call", "amount": NaN}]}',
     "not a finite number"),
    (b'{"events": {}}', '{"events": [...]}'),
    (b"[]", '{"events": [...]}'),
    (b'{"events": [], "extra": 1}', "unknown field 'extra'"),
    (b"", "not valid JSON"),
])
def test_unreadable_bodies_get_400(api, body, message):
    response = post_events(api.base_url, api.token, body)
    assert response.status == 400, response.body[:200]
    assert message in response.json()["message"]
    assert event_count(api.database) == 0


def test_a_token_that_sends_too_fast_gets_429_with_retry_after(api):
    ticks = [0.0]
    api.bot.api.limiter = RateLimiter(rate=0.5, burst=2, clock=lambda: ticks[0])
    other = new_token(api.database, WORKSPACE, "other")
    batch = {"events": [_won("A", 1)]}
    assert post_events(api.base_url, api.token, batch).status == 200
    assert post_events(api.base_url, api.token, batch).status == 200
    refused = post_events(api.base_url, api.token, {"events": [_won("B", 1)]})
    assert refused.status == 429 and refused.headers["retry-after"] == "2"
    assert refused.json()["error"] == "rate_limited"
    assert post_events(api.base_url, other, batch).status == 200  # buckets are per token
    ticks[0] = 1.0
    assert post_events(api.base_url, api.token, batch).status == 429
    ticks[0] = 2.0
    assert post_events(api.base_url, api.token, {"events": [_won("C", 1)]}).status == 200
    with api.database.read() as session:
        deals = sorted(e.deal_key for e in session.scalars(select(Event)))
    assert deals == ["a", "c"]  # B was refused, A stored once


def test_logs_carry_neither_the_token_nor_the_body(api, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "secret-note-7f3a"
    post_events(api.base_url, api.token, {"events": [_won("Acme", 5, note=marker)]})
    post_events(api.base_url, api.token + "x", {"events": [_won("Acme", 5, note=marker)]})
    post_events(api.base_url, api.token, b'{"events": [' + marker.encode())
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "events API: slack:TAPI (token zapier): 1 stored" in text
    assert api.token not in text and api.token[:20] not in text and marker not in text


def test_the_api_is_off_without_a_token_key(database, clock):
    from tests.bot.api.conftest import make_bot
    from tests.support.bot_server import running_server

    token = new_token(database)
    bot = make_bot(database, clock, KPIBOT_TOKEN_KEY="")
    with running_server(bot) as base_url:
        response = post_events(base_url, token, {"events": [_won("A", 1)]})
        kpi = request(base_url, "GET", "/api/v1/kpis/win-rate",
                      headers={"Authorization": f"Bearer {token}"})
        document = request(base_url, "GET", "/api/v1/openapi.json")
    assert response.status == 503 and "KPIBOT_TOKEN_KEY" in response.json()["message"]
    assert response.json() == ApiError(error="unavailable",
                                       message=response.json()["message"]).model_dump()
    assert (kpi.status, kpi.json()) == (503, response.json())
    assert document.status == 200 and document.json() == openapi_document()
    assert event_count(database) == 0


def test_text_no_database_can_store_is_an_item_error(api):
    """A NUL (PostgreSQL text cannot hold one) or a lone surrogate (not UTF-8) in any text
    field: that item is refused with the field named, the others are stored."""
    body = (b'{"events": [{"occurred_at": "2026-11-10", "event": "call", "user": "U1", '
            b'"note": "a\\u0000b"}, {"occurred_at": "2026-11-10", "event": "call", "user": '
            b'"U1", "account": "\\ud800"}, {"occurred_at": "2026-11-10", "event": "call", '
            b'"user": "U1", "note": "fine \\ud83d\\ude42"}]}')
    response = post_events(api.base_url, api.token, body)
    assert response.status == 200
    results = response.json()["results"]
    assert [(r["status"], r["field"]) for r in results] == [
        ("error", "note"), ("error", "account"), ("stored", None)]
    assert "NUL" in results[0]["reason"] and "surrogate" in results[1]["reason"]
    with api.database.read() as session:
        assert session.scalars(select(Event.note)).one() == "fine 🙂"


def test_a_batch_whose_commit_got_no_answer_says_it_may_be_stored(api, monkeypatch):
    """The connection broke after the batch's COMMIT went out (CommitOutcomeUnknown, raised by
    storage/pg_pipeline.py): the events may be stored, so the 503 does not say "nothing was
    stored"; sent again with the same keys, each is stored once."""
    from bot.api import routes
    from storage.commit_unknown import CommitOutcomeUnknown

    real = routes.ingest

    def committed_then_cut(**kwargs):
        real(**kwargs)
        raise CommitOutcomeUnknown("COMMIT", None, ConnectionError("connection lost"))

    monkeypatch.setattr(routes, "ingest", committed_then_cut)
    items = [_won("Acme", 1200, key="crm-cut")]
    response = post_events(api.base_url, api.token, {"events": items})
    assert response.status == 503
    message = response.json()["message"]
    assert "may or may not be stored" in message and "nothing was stored" not in message
    monkeypatch.undo()
    again = post_events(api.base_url, api.token, {"events": items}).json()
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert event_count(api.database, WORKSPACE) == 1

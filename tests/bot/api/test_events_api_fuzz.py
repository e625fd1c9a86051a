"""1,000 fuzzed bodies into POST /api/v1/events over real HTTP, on SQLite and PostgreSQL, from
a seeded generator: deep nesting, huge and odd numbers, wrong types, bad UTF-8, lone
surrogates and NULs, missing and unknown fields, truncated JSON, odd but valid values.

Invariants: never a 5xx (only 200, 400, 413, 415, 422); a 200 reports one result per item; and
the events stored are exactly those the responses say were stored.
"""

from __future__ import annotations

import json
import random

from tests.bot.api.conftest import WORKSPACE, event_count, post_events

BODIES = 1000
ALLOWED = {200, 400, 413, 415, 422}
FIELDS = ["occurred_at", "event", "count", "amount", "currency", "deal", "account", "user",
          "source", "reason", "note", "mrr", "duration_seconds", "competitor", "key"]
KINDS = ["call", "email-sent", "lead", "deal-won", "deal-lost", "inbound-responded", "churned",
         "mrr-change", "spend", "demo-booked", "Deal Won", "calls", "nonsense", ""]
ODD_TEXT = ["", " ", "Jane Doe", "jane@example.com", "U0001", "Zoë Ærø", "王伟", "مرحبا",
            "🙂" * 3, "=cmd|' /C calc'!A0", "@channel", "<!here>", "a" * 130, "x" * 600,
            "line\nbreak", "tab\there", "\u200b", "'quoted'", '"double"', "null", "NaN",
            "\\u0000", "1e309", "-0", "12,000.50", "$12,000", "(200)", "12.000,50", "4m",
            "1h30m", "2026-11-10", "10/11/2026", "2026-02-30", "2099-01-01", "USD", "EUR"]
ODD_NUMBERS = ["0", "-1", "1", "1.5", "-2.25", "1e2", "1E+999999", "1e-400", "-0.0",
               "123456789012345678901234567890", "9" * 4300, "0.000000001", "1000000000000",
               "12.345"]


def _value(rng: random.Random) -> str:
    """A JSON value (as text) of any type."""
    roll = rng.random()
    if roll < 0.35:
        return json.dumps(rng.choice(ODD_TEXT))
    if roll < 0.55:
        return rng.choice(ODD_NUMBERS)
    if roll < 0.65:
        return rng.choice(["true", "false", "null"])
    if roll < 0.75:
        return rng.choice(["[]", "{}", '[1, "a"]', '{"a": {"b": []}}'])
    if roll < 0.85:
        return rng.choice(['"\\ud800"', '"a\\udfffb"', '"\\u0000x"', '"ok\\u0000"'])
    return json.dumps("".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(12))))


def _item(rng: random.Random) -> str:
    """An event object: often almost right, with fields missing, retyped or unknown."""
    if rng.random() < 0.3:  # valid but for odd text (stored unless too long)
        return json.dumps({"occurred_at": "2026-11-10T10:00:00Z", "event": "call",
                           "user": rng.choice(ODD_TEXT[2:9]), "note": rng.choice(ODD_TEXT),
                           "account": rng.choice(ODD_TEXT)})
    fields = {"occurred_at": json.dumps(rng.choice(["2026-11-10T10:00:00Z", "2026-11-01",
                                                    "2026-10-05 14:30", "yesterday"])),
              "event": json.dumps(rng.choice(KINDS)),
              "user": json.dumps(rng.choice(ODD_TEXT[1:6]))}
    for name in rng.sample(FIELDS, rng.randrange(0, 6)):
        fields[name] = _value(rng)
    for name in list(fields):
        if rng.random() < 0.08:
            del fields[name]
    if rng.random() < 0.1:
        fields[rng.choice(["colour", "voided_at", "user_id", "", "EVENT"])] = _value(rng)
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def _nested(rng: random.Random) -> bytes:
    depth = rng.choice([6, 9, 50, 1000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    inner = opener * depth + "1" + closer * depth
    return rng.choice([inner, '{"events": [' + inner + "]}",
                       '{"events": [{"note": ' + inner + "}]}"]).encode()


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    if kind == 0:
        return _nested(rng)
    if kind == 1:  # bad UTF-8 somewhere
        body = bytearray(('{"events": [' + _item(rng) + "]}").encode())
        for _ in range(rng.randrange(1, 4)):
            body.insert(rng.randrange(len(body) + 1), rng.choice([0x80, 0xC3, 0xFF, 0xED]))
        return bytes(body)
    if kind == 2:  # truncated
        text = ('{"events": [' + ", ".join(_item(rng) for _ in range(3)) + "]}").encode()
        return text[: rng.randrange(len(text))]
    if kind == 3:  # not the envelope
        return rng.choice([_value(rng), "[" + _item(rng) + "]", '{"event": []}',
                           '{"events": null}', '{"events": [], "x": 1}', _item(rng)]).encode()
    if kind == 4:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    items = [_item(rng) if rng.random() < 0.9 else _value(rng)
             for _ in range(rng.randrange(0, 12))]
    return ('{"events": [' + ", ".join(items) + "]}").encode()


def test_fuzzed_bodies_never_get_a_5xx_and_store_only_what_they_report(api):
    rng = random.Random(20261205)
    statuses: dict[int, int] = {}
    reported = 0
    for n in range(BODIES):
        body = _body(rng)
        content_type = "application/json" if rng.random() < 0.95 else rng.choice(
            ["text/json", "application/json; charset=utf-16", "multipart/form-data"])
        response = post_events(api.base_url, api.token, body, content_type=content_type,
                               query=rng.choice(["", "", "", "?atomic=true"]))
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status in ALLOWED, (n, body[:300], response.body[:300])
        payload = response.json()
        if response.status in (200, 422):
            sent = json.loads(body.decode(), parse_float=str)["events"]
            assert len(payload["results"]) == len(sent)
            assert payload["stored"] == sum(r["status"] == "stored" for r in payload["results"])
            reported += payload["stored"]
        else:
            assert payload["error"] and payload["message"]
    print(f"\nfuzz: {BODIES} bodies, statuses {dict(sorted(statuses.items()))}, "
          f"{reported} events stored")
    assert event_count(api.database, WORKSPACE) == reported
    assert reported > 0 and statuses.get(400, 0) > 100 and statuses.get(200, 0) > 100

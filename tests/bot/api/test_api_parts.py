"""The events API's parts on their own: depth-bounded JSON, the token bucket on a fake clock,
error reasons mapped to fields, and tokens in storage (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.api.body import BodyError, nesting_depth, parse_json
from bot.api.ingest import field_of
from bot.api.ratelimit import RateLimiter
from storage import api_tokens
from storage.api_tokens import (
    TokenError,
    create_token,
    list_tokens,
    note_use,
    revoke_token,
    verify_token,
)
from storage.workspaces import ensure_workspace
from tests.bot.api.conftest import NOW

KEY = b"k" * 32


@pytest.mark.parametrize("text, depth", [
    ("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["[[[[", "}}}"]', 1),
    ('["a\\"[[[", "\\\\", [[]]]', 3), ('{"k": "\\u005b[["}', 1), ('"[[[" ', 0),
])
def test_nesting_depth_ignores_brackets_in_strings(text, depth):
    assert nesting_depth(text) == depth
    json.loads(text)  # every case is valid JSON


def test_parse_json_bounds_depth_and_keeps_decimals_exact():
    assert parse_json(b'{"a": 0.1, "b": 7}', max_depth=2) == {"a": Decimal("0.1"), "b": 7}
    assert parse_json(b"[" * 8 + b"]" * 8, max_depth=8) == [[[[[[[[]]]]]]]]
    for body in (b"[" * 9 + b"]" * 9, b"[" * 1_000_000, b'{"a":' * 200_000):
        with pytest.raises(BodyError) as raised:
            parse_json(body, max_depth=8)
        assert raised.value.status == 400 and "deeper than 8" in str(raised.value)
    for body in (b"\xc3\x28", b"[Infinity]", b"[-NaN]", b"[" + b"1" * 5000 + b"]", b"{'a': 1}"):
        with pytest.raises(BodyError) as raised:
            parse_json(body, max_depth=8)
        assert raised.value.status == 400


def test_the_token_bucket_refills_at_its_rate():
    now = [100.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]
    assert limiter.take("b") == 0  # another token has its own bucket
    now[0] += 0.5  # one request's worth
    assert limiter.take("a") == 0 and limiter.take("a") == 1
    now[0] += 10  # refills only up to the burst
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]
    slow = RateLimiter(rate=0.1, burst=1, clock=lambda: now[0])
    assert slow.take("c") == 0 and slow.take("c") == 10  # Retry-After: whole seconds
    now[0] -= 50  # a clock that goes back never adds requests
    assert slow.take("c") == 10


@pytest.mark.parametrize("reason, field", [
    ('count "x" must be a positive whole number', "count"),
    ("deal-won needs an amount", "amount"),
    ("lead needs a deal (the deal column is empty)", "deal"),
    ('unknown event "telepathy" (did you mean call?)', "event"),
    ("deal-lost takes no source (it goes with lead or spend)", "source"),
    ("inbound-responded needs the response time (duration_seconds)", "duration_seconds"),
    ('the name "Amount Deal" matches 2 users (U1, U2); use the user\'s id or email', "user"),
    ('occurred_at "2099-01-01" is in the future', "occurred_at"),
    ("something else entirely", None),
])
def test_error_reasons_name_their_field(reason, field):
    assert field_of(reason) == field


def test_tokens_in_storage(database, monkeypatch):
    with database.write() as session:
        ensure_workspace(session=session, workspace_id="slack:T1", platform="slack", now=NOW)
        token = create_token(session=session, key=KEY, workspace_id="slack:T1", name="zapier",
                             now=NOW)
        with pytest.raises(TokenError, match="already has a token named zapier"):
            create_token(session=session, key=KEY, workspace_id="slack:T1", name="zapier",
                         now=NOW)
    compared = []
    real = api_tokens.hmac.compare_digest
    monkeypatch.setattr(api_tokens.hmac, "compare_digest",
                        lambda a, b: compared.append(1) or real(a, b))
    token_id = token.split("_")[1]
    with database.read() as session:
        found = verify_token(session=session, key=KEY, presented=token)
        assert found is not None and found.workspace_id == "slack:T1"
        forged = [token[:-1] + ("x" if token[-1] != "x" else "y"),
                  f"kpi_{token_id}_" + "A" * 43, "kpi_0000000000000000_" + "A" * 43,
                  "not-a-token", "", token + "x" * 500]
        for presented in forged:
            assert verify_token(session=session, key=KEY, presented=presented) is None
        assert verify_token(session=session, key=b"other" * 8, presented=token) is None
    assert len(compared) == 2 + len(forged)  # every path compares the hashes

    with database.write() as session:
        assert note_use(session=session, token=found, now=NOW) is True
    with database.read() as session:
        found = verify_token(session=session, key=KEY, presented=token)
    assert found.last_used_at == NOW
    with database.write() as session:  # recorded to the minute: no write within it
        assert note_use(session=session, token=found, now=NOW + timedelta(seconds=59)) is False
        assert note_use(session=session, token=found, now=NOW + timedelta(seconds=60)) is True
    with database.write() as session:
        revoke_token(session=session, workspace_id="slack:T1", name="zapier", now=NOW)
        assert verify_token(session=session, key=KEY, presented=token) is None
        create_token(session=session, key=KEY, workspace_id="slack:T1", name="zapier",
                     now=NOW)  # the name is free again
    with database.read() as session:
        listed = list_tokens(session=session)
    assert [(t.name, t.revoked_at is not None) for t in listed] in (
        [("zapier", True), ("zapier", False)], [("zapier", False), ("zapier", True)])


"""Signed button values stay readable across versions: a value is the HMAC-SHA256 of its
workspace and body (first 16 bytes, URL-safe base64), however it is computed."""

from __future__ import annotations

import base64
import hashlib
import hmac

from bot.interactive.values import ActionValues


def test_a_signed_value_is_the_documented_hmac_and_reads_back():
    values = ActionValues("a-signing-secret")
    key = hashlib.sha256(b"kpibot button values\x00a-signing-secret").digest()
    body = "k1.undo.42"
    mac = hmac.new(key, f"slack:T1\x00{body}".encode(), hashlib.sha256).digest()[:16]
    expected = f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    assert values.sign("undo", "slack:T1", 42) == expected  # a button sent before still works
    assert values.read("undo", "slack:T1", expected) == 42
    assert values.read("undo", "slack:T2", expected) is None

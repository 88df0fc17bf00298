"""Webhook signatures: what the sender signs verifies with the documented algorithm; anything altered does not."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from homecare.backend.notifications import InvalidSignature
from homecare.backend.notifications.channels import OutboundMessage
from homecare.backend.notifications.webhooks import encode_body, sign, verify_signature

SECRET = b"s" * 40


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_700_000_000, body) == f"v1={expected}"


def test_verifies_and_rejects() -> None:
    now = time.time()
    ts = int(now)
    body = '{"incident":{"resident_name":"王秀英"}}'.encode()
    signature = sign(SECRET, ts, body)
    verify_signature(SECRET, body=body, timestamp=str(ts), signature=signature, now=now)
    # A secret being rotated: several v1 values, one of them right.
    verify_signature(SECRET, body=body, timestamp=str(ts), signature=f"v1={'0' * 64}, {signature}", now=now)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, body=body.replace(b"1", b"2") + b" ", timestamp=str(ts), signature=signature, now=now)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(b"x" * 40, body=body, timestamp=str(ts), signature=signature, now=now)
    with pytest.raises(InvalidSignature, match="does not match"):  # the timestamp is part of what is signed
        verify_signature(SECRET, body=body, timestamp=str(ts + 1), signature=signature, now=now)
    with pytest.raises(InvalidSignature, match="tolerance"):  # a replay ten minutes later
        verify_signature(SECRET, body=body, timestamp=str(ts), signature=signature, now=now + 600)
    with pytest.raises(InvalidSignature, match="missing"):
        verify_signature(SECRET, body=body, timestamp=None, signature=signature, now=now)
    with pytest.raises(InvalidSignature, match="Unix time"):
        verify_signature(SECRET, body=body, timestamp="-5", signature=signature, now=now)


def test_body_carries_the_delivery_id_and_utf8() -> None:
    message = OutboundMessage(
        delivery_id=42,
        attempt=3,
        incident_id=7,
        audience="staff",
        recipient="desk",
        reason="alarm",
        subject="s",
        body="",
        payload={"type": "incident.notification", "incident": {"resident_name": "王秀英"}},
    )
    body = encode_body(message)
    assert "王秀英".encode() in body
    assert json.loads(body) == {
        "delivery_id": 42,
        "type": "incident.notification",
        "incident": {"resident_name": "王秀英"},
    }

"""Signed webhooks: JSON POSTed to configured endpoints, with an HMAC-SHA256 signature a receiver can verify.

Each request carries these headers::

    Content-Type: application/json; charset=utf-8
    X-Homecare-Delivery: 1234                 the outbox id: the same on every retry of one message
    X-Homecare-Attempt: 1
    X-Homecare-Timestamp: 1700000000          Unix seconds when this attempt was signed
    X-Homecare-Signature: v1=<64 hex digits>

The signature is ``hex(HMAC-SHA256(secret, timestamp + "." + body))`` where ``timestamp`` is the header's
decimal digits as ASCII and ``body`` the raw request bytes, exactly as received (do not re-serialise
the JSON). To verify, a receiver:

1. reads the raw body and both headers; rejects the request if either header is missing;
2. rejects it if the timestamp is more than 5 minutes away from its own clock (a replay of an old request);
3. computes the HMAC above with the shared secret and compares it with ``hmac.compare_digest``
   (constant time) to every ``v1=`` value in the signature header (several appear while a secret rotates);
4. to refuse a replay inside the 5-minute window as well, remembers the ``X-Homecare-Delivery`` ids
   it has processed for that long and ignores repeats (retries of a delivery are repeats too).

``verify_signature`` below does steps 1–3 and is what the tests use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Final

import httpx

from homecare.backend.notifications import InvalidSignature, PermanentDeliveryError, TransientDeliveryError
from homecare.backend.notifications.channels import OutboundMessage
from homecare.backend.notifications.settings import NotificationSettings

SIGNATURE_HEADER: Final = "X-Homecare-Signature"
TIMESTAMP_HEADER: Final = "X-Homecare-Timestamp"
DELIVERY_HEADER: Final = "X-Homecare-Delivery"
ATTEMPT_HEADER: Final = "X-Homecare-Attempt"
TOLERANCE_S: Final = 300
_RETRIED_4XX: Final = frozenset({408, 409, 425, 429})


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for this body at this time."""
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: bytes,
    *,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise ``InvalidSignature`` unless the headers sign this body with this secret within the tolerance."""
    if not timestamp or not signature:
        raise InvalidSignature("missing timestamp or signature header")
    if not timestamp.isdigit():
        raise InvalidSignature("timestamp is not a Unix time in seconds")
    moment = int(timestamp)
    if abs((time.time() if now is None else now) - moment) > tolerance_s:
        raise InvalidSignature("timestamp outside the tolerance: a replay or a wrong clock")
    expected = sign(secret, moment, body)
    offered = [part.strip() for part in signature.split(",") if part.strip().startswith("v1=")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("signature does not match the body")


def encode_body(message: OutboundMessage) -> bytes:
    """The JSON body: the stored payload with the delivery id, compact UTF-8."""
    document: dict[str, Any] = {"delivery_id": message.delivery_id, **message.payload}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookChannel:
    """POSTs each message to the endpoint named by its recipient; 2xx is delivered, most 4xx are permanent."""

    def __init__(self, settings: NotificationSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client

    async def send(self, message: OutboundMessage) -> str:
        endpoint = self._settings.webhook(message.recipient)
        if endpoint is None:
            raise PermanentDeliveryError(f"webhook endpoint {message.recipient!r} is no longer configured")
        body = encode_body(message)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: str(message.delivery_id),
            ATTEMPT_HEADER: str(message.attempt),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(endpoint.secret.get_secret_value().encode(), timestamp, body),
            "User-Agent": "homecare-webhooks/1",
        }
        try:
            response = await self._client.post(
                endpoint.url, content=body, headers=headers, timeout=self._settings.webhook_timeout_s
            )
        except httpx.HTTPError as err:
            raise TransientDeliveryError(f"{type(err).__name__}: {err}") from err
        answer = f"HTTP {response.status_code} from {endpoint.name}"
        if response.is_success:
            return answer
        if 400 <= response.status_code < 500 and response.status_code not in _RETRIED_4XX:
            raise PermanentDeliveryError(answer)
        raise TransientDeliveryError(answer)

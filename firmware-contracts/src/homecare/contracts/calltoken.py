"""Call tokens: the platform's Ed25519-signed, short-lived permission for one home unit to join one voice call.

Why Ed25519 rather than an HMAC: a device must verify a token before it opens its microphone, and an HMAC key
that every device can verify with is a key every device can also sign with; one leaked unit would forge calls to
all homes. With a signature, devices hold only the public key (provisioned with the firmware or at enrolment),
and the private key never leaves the platform. Per-device HMAC keys derived from each device's secret would work
too, but they tie call signing to the MQTT credentials and need the platform to hold every device secret in the
clear.

Wire form: ``base64url(claims JSON) "." base64url(signature over the first part)``, no padding. Exceptions::

    TokenRefused             the token is malformed, forged, expired, or for another device or call
"""

from __future__ import annotations

import base64
import binascii
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homecare.contracts.messages import DeviceId

MAX_LIFETIME_S = 600  # a token that claims a longer life than this was not issued by the platform


class TokenRefused(ValueError):
    """The device (or the platform) refuses the token; ``reason`` is short and fit for a log line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallClaims(BaseModel):
    """What a call token grants: this device may join this call of this incident until ``exp``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call: str = Field(min_length=8, max_length=64, description="The call id.")
    dev: DeviceId = Field(description="The home unit the call is for.")
    inc: int = Field(ge=1, description="The incident the call belongs to.")
    video: bool = Field(default=False, description="The resident consented to video for this call.")
    iat: int = Field(ge=0, description="Issued at, seconds since 1970 (UTC).")
    exp: int = Field(ge=0, description="Expires at, seconds since 1970 (UTC).")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: Ed25519PrivateKey, claims: CallClaims) -> str:
    body = _b64(claims.model_dump_json().encode())
    return f"{body}.{_b64(key.sign(body.encode()))}"


def verify(key: Ed25519PublicKey, token: str, *, device_id: str, now: float, call_id: str | None = None) -> CallClaims:
    """The claims of a genuine, current token for this device (and call, when given); TokenRefused otherwise."""
    body, dot, signature = token.partition(".")
    if not dot:
        raise TokenRefused("malformed token")
    try:
        key.verify(_unb64(signature), body.encode())
    except (InvalidSignature, binascii.Error, ValueError) as err:
        raise TokenRefused("bad signature") from err
    try:
        claims = CallClaims.model_validate(json.loads(_unb64(body)))
    except (ValidationError, ValueError) as err:
        raise TokenRefused("malformed claims") from err
    if claims.dev != device_id:
        raise TokenRefused(f"token is for device {claims.dev}")
    if call_id is not None and claims.call != call_id:
        raise TokenRefused(f"token is for call {claims.call}")
    if claims.exp - claims.iat > MAX_LIFETIME_S:
        raise TokenRefused("token lifetime too long")
    if now >= claims.exp:
        raise TokenRefused("token expired")
    return claims


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw public key as base64url, the form devices are provisioned with."""
    return _b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text))

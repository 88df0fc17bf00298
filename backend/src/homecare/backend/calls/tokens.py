"""The platform's Ed25519 call-signing key (kept in the data directory) and issuing call tokens; the format, and
why a signature rather than an HMAC, are in ``homecare.contracts.calltoken``."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from homecare.backend.calls.settings import CallSettings
from homecare.contracts.calltoken import CallClaims, sign

KEY_FILE = "call-signing-key"


def _from_text(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def signing_key(settings: CallSettings, data_dir: Path) -> Ed25519PrivateKey:
    """The configured key, else the one kept in ``data_dir`` (made once, readable by its owner only)."""
    if settings.signing_key is not None:
        return _from_text(settings.signing_key.get_secret_value())
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        path.write_text(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
        path.chmod(0o600)
    return _from_text(path.read_text().strip())


def issue(
    key: Ed25519PrivateKey,
    *,
    call_id: str,
    device_uid: str,
    incident_id: int,
    video: bool,
    ttl_s: int,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims = CallClaims(call=call_id, dev=device_uid, inc=incident_id, video=video, iat=issued, exp=issued + ttl_s)
    return sign(key, claims)

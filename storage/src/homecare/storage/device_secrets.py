"""How the devices table keeps a device's secret: what enrolment writes and the embedded broker checks."""

from __future__ import annotations

import hashlib


def hash_secret(secret: str) -> str:
    """Device secrets are long random tokens, not passwords people choose: a plain SHA-256 cannot be
    brute-forced and keeps broker authentication cheap for thousands of devices."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()

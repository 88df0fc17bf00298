"""This machine's address for WebRTC in tests and benchmarks: ICE does not use loopback."""

from __future__ import annotations

import subprocess


def own_address() -> str:
    """An IPv4 address of this machine other than loopback: aioice (and Chromium) skip 127.0.0.1."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    return next(a for a in found if "." in a and not a.startswith("127."))

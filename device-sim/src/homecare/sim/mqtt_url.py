"""Where the MQTT broker is: `mqtt://host[:port]` URLs (devices bring their own credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """The broker of a plain-TCP MQTT URL; devices bring their own credentials, so none are taken here."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"unsupported broker URL scheme {parts.scheme!r} in {url!r} (use mqtt://host:port)")
    if not parts.hostname:
        raise ValueError(f"no host in broker URL {url!r}")
    try:
        port = parts.port or 1883
    except ValueError as err:
        raise ValueError(f"bad port in broker URL {url!r}") from err
    return BrokerAddress(parts.hostname, port)

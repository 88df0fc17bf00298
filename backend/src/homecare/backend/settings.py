"""Settings of the backend process (API, pages, alarm pipeline), read from ``HOMECARE_*`` variables; unsafe values
fail fast."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from homecare.storage.settings import StorageSettings


class Settings(StorageSettings):
    """One settings object, built once per process in its entry point and passed down explicitly."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for machine access to the API (acts as an administrator)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus presents to read /metrics; it opens nothing else. Unset, /metrics is "
        "not served (404).",
    )
    session_idle_minutes: int = Field(
        default=720, ge=5, le=10_080, description="A signed-in session ends after this long without a request."
    )
    session_max_hours: int = Field(
        default=168, ge=1, le=8_760, description="A session ends this long after sign-in, however active."
    )
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only; turn on behind a TLS proxy."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed sign-ins for one user name from one address within login_window_s before that address "
        "is paused for that name (the account itself is never locked).",
    )
    login_max_failures_per_ip: int = Field(
        default=30, ge=1, le=10_000, description="Failed sign-ins from one address, any names, before it is paused."
    )
    login_window_s: int = Field(default=900, ge=10, le=86_400)
    timezone: str = Field(default="Asia/Shanghai", description="Default zone for display.")
    carer_check_radius_m: int = Field(
        default=150,
        ge=10,
        le=5000,
        description="A carer's phone this close to the home (straight line) proves their check-in and check-out.",
    )
    carer_late_after_min: int = Field(
        default=15,
        ge=1,
        le=240,
        description="A booked visit not checked in this long after its start alerts the station and the operators "
        "(carer non-arrival).",
    )
    dose_confirm_window_min: int = Field(
        default=30,
        ge=1,
        le=720,
        description="A medication dose not confirmed taken this long after it was due is told to the family.",
    )
    dose_station_after_min: int = Field(
        default=30,
        ge=1,
        le=720,
        description="A dose still not confirmed this long after the family was told opens a missed_dose incident "
        "for the operators and the community station.",
    )
    map_tile_url: str | None = Field(
        default=None,
        description="A raster tile server for street maps under the console's map, as a URL template with {z}, {x} "
        "and {y} (Web Mercator, 256-pixel tiles), e.g. https://tiles.example.org/{z}/{x}/{y}.png; its origin is "
        "added to the pages' img-src. Unset (the default): the map is drawn from stored coordinates only, offline.",
    )
    map_tile_attribution: str | None = Field(
        default=None, max_length=200, description="The tile server's attribution, shown under the map."
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are "
        'believed, as JSON (["10.0.0.0/8"]). None by default: the client address is the peer\'s own, whatever a '
        "header claims, so a sign-in failure is counted against the address it really came from.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as err:
                raise ValueError(f"trusted_proxies holds addresses or networks (never *), got {proxy!r}") from err
        return proxies

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"map_tile_url must be an http(s) URL, not {url!r}")
        missing = [name for name in ("{z}", "{x}", "{y}") if name not in url]
        if missing:
            raise ValueError(f"map_tile_url must hold {', '.join(missing)}")
        return url

    @property
    def map_tile_origin(self) -> str | None:
        """Where the map's tiles come from (scheme and host), for the pages' Content-Security-Policy."""
        if self.map_tile_url is None:
            return None
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _tokens_are_strong(self) -> Settings:
        for name, token in (("api_token", self.api_token), ("metrics_token", self.metrics_token)):
            if token is not None and len(token.get_secret_value()) < 24:
                raise ValueError(f"{name} must be at least 24 characters")
        if self.metrics_token is not None and self.metrics_token == self.api_token:
            raise ValueError("metrics_token must differ from api_token, which acts as an administrator")
        return self

"""Settings of voice calls, read from ``HOMECARE_CALL_*``: ICE servers, token lifetime, recording and retention."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IceServer(BaseModel):
    """One STUN or TURN server, in the shape RTCPeerConnection takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _ice_scheme(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"an ICE server URL starts with stun:, stuns:, turn: or turns:, got {url!r}")
        return urls


class CallSettings(BaseSettings):
    """Built once in the calls router's lifespan; empty ICE servers (the default) means host candidates only."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_CALL_", env_file=".env", extra="ignore", frozen=True)

    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description='JSON list, e.g. [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]; '
        "empty: no STUN/TURN (same network, or offline).",
    )
    turn_secret: SecretStr | None = Field(
        default=None,
        description="coturn's static-auth-secret: TURN URLs without a username get short-lived credentials made "
        "with it (the TURN REST API scheme), so no lasting TURN password ever reaches a browser.",
    )
    turn_credential_ttl_s: int = Field(default=3600, ge=60, le=86_400)
    signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key (32 raw bytes, base64url) that signs call tokens; when absent one is made "
        "once and kept in <data_dir>/call-signing-key.",
    )
    token_ttl_s: int = Field(default=60, ge=10, le=600, description="How long a home unit may take to join.")
    ring_timeout_s: int = Field(default=45, ge=5, le=300, description="Unanswered for this long: no answer.")
    public_url: str | None = Field(
        default=None,
        description="Base URL home units reach the API at (http(s)://host:port); default: the one the operator used.",
    )
    max_calls: int = Field(
        default=8,
        ge=1,
        le=10_000,
        description="Calls this backend relays at once (bench/calls.py: 6–8 on 2 cores, about 0.1 core each).",
    )
    record: bool = Field(default=False, description="Record both sides of every call for audit.")
    recording_retention_days: int = Field(default=90, ge=1, le=3650)

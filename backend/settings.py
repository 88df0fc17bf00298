"""Settings for every homecare process, read from ``HOMECARE_*`` environment variables; unsafe values fail fast."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GatewayChannels = Literal["all", "telemetry", "alarms"]


class Settings(BaseSettings):
    """One settings object, built once per process in its entry point and passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and logs live.")
    database_url: str | None = Field(
        default=None, description="External PostgreSQL DSN; when absent, an embedded server is started."
    )
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="Broker URL: mqtt://[user:pass@]host:port")
    embedded_broker: bool = Field(
        default=True, description="`homecare run` starts the amqtt broker at mqtt_url; false for an external one."
    )
    mqtt_share_group: str | None = Field(
        default=None,
        description="MQTT shared-subscription group for several gateways (Mosquitto, EMQX); "
        "leave empty for brokers without $share (amqtt).",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for machine access to the API (acts as an administrator)."
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
        default=5, ge=1, le=100, description="Failed sign-ins per user name within login_window_s before a pause."
    )
    login_max_failures_per_ip: int = Field(default=30, ge=1, le=10_000)
    login_window_s: int = Field(default=900, ge=10, le=86_400)

    timezone: str = Field(default="Asia/Shanghai", description="Default zone for display.")
    raw_retention_days: int = Field(default=30, ge=1, le=3650)
    rollup_retention_days: int = Field(default=730, ge=1, le=36500)
    max_clock_skew_s: int = Field(
        default=300, ge=1, le=86_400, description="How far in the future a device timestamp may lie."
    )

    gateway_channels: GatewayChannels = Field(
        default="all",
        description='What this gateway takes: "all", or "telemetry" / "alarms" when two processes split the work '
        "(an alarm then never queues behind telemetry).",
    )
    gateway_client_id: str = Field(default="homecare-gateway-1", min_length=1, max_length=64)
    gateway_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve Prometheus metrics of the gateway on this port."
    )
    gateway_ack_after_commit: bool = Field(
        default=True,
        description="Acknowledge QoS-1 deliveries to the broker only once stored, so a gateway crash "
        "loses nothing (the broker redelivers). Needs the broker's in-flight window raised (see deploy/).",
    )
    telemetry_max_buffered_rows: int = Field(default=2_000_000, ge=1000)
    telemetry_batch_rows: int = Field(default=5000, ge=1, le=1_000_000)
    telemetry_flush_ms: int = Field(default=200, ge=1, le=60_000)

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ValueError(f"mqtt_url must look like mqtt://host:port, got {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as err:
            raise ValueError(f"database_url is not a PostgreSQL connection string: {err}") from err
        return value

    @model_validator(mode="after")
    def _token_is_strong(self) -> Settings:
        if self.api_token is not None and len(self.api_token.get_secret_value()) < 24:
            raise ValueError("api_token must be at least 24 characters")
        return self

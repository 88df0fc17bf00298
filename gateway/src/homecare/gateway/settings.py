"""Settings of a gateway process: the broker it reads and how it writes; read from ``HOMECARE_*`` variables."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from homecare.storage.settings import StorageSettings, redacted

GatewayChannels = Literal["all", "telemetry", "alarms"]


class GatewaySettings(StorageSettings):
    """One settings object per gateway process, built in its entry point and passed down explicitly."""

    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="Broker URL: mqtt://[user:pass@]host:port")
    mqtt_share_group: str | None = Field(
        default=None,
        description="MQTT shared-subscription group for several gateways (Mosquitto, EMQX); "
        "leave empty for brokers without $share (amqtt).",
    )
    max_clock_skew_s: int = Field(
        default=300, ge=1, le=86_400, description="How far in the future a device timestamp may lie."
    )
    gateway_channels: GatewayChannels = Field(
        default="all",
        description='What this gateway takes: "all", or "telemetry" / "alarms" when two processes split the work '
        "(an alarm then never queues behind telemetry).",
    )
    gateway_client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The gateway's MQTT client id, stable across restarts (a StatefulSet pod's name, a compose "
        "service's). Unset: the lowest free one of homecare-gateway-N (homecare-telemetry-gateway-N, "
        "homecare-alarm-gateway-N when split), held through the database, so whatever replaces a killed gateway "
        "resumes its session.",
    )
    gateway_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve the gateway's Prometheus metrics over HTTP on this port (any path); unset, none are served.",
    )
    gateway_metrics_host: str = Field(
        default="127.0.0.1",
        description="The address the metrics port binds: 0.0.0.0 in a container for Prometheus to reach it. The "
        "metrics carry no personal data and need no sign-in; keep the port on the internal network.",
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
            raise ValueError(f"mqtt_url must look like mqtt://host:port, got {redacted(value)!r}")
        return value

"""Settings of ``homecare run``: the backend's and the gateway's together, and whether to start a broker."""

from __future__ import annotations

from pydantic import Field

from homecare.backend.settings import Settings
from homecare.gateway.settings import GatewaySettings


class SystemSettings(Settings, GatewaySettings):
    """Everything one machine runs; each child process reads its own part from the same variables."""

    embedded_broker: bool = Field(
        default=True, description="`homecare run` starts the amqtt broker at mqtt_url; false for an external one."
    )

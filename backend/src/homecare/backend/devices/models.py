"""What the pages show about a resident's devices: kind, connection, battery, last heard from."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict

# A device is offline once silent for this many of its heartbeat intervals (the device-health alarms' default too).
MISSED_HEARTBEATS: Final = 3


class DeviceStatus(BaseModel):
    """One device of a resident as the gateway last saw it."""

    model_config = ConfigDict(extra="forbid")

    id: int
    uid: str
    kind: str
    online: bool
    last_seen_at: datetime | None
    battery: int | None
    charging: bool | None
    rssi: int | None
    firmware: str | None
    heartbeat_interval_s: int
    revoked: bool

"""The kinds of device in a simulated home, their uid scheme and firmware versions."""

from __future__ import annotations

from typing import Final

from homecare.contracts.messages import DeviceKind

# One device of each of these kinds per simulated home (smoke and water alarms come from the home unit).
HOUSEHOLD_KINDS: Final = (
    DeviceKind.WRISTBAND,
    DeviceKind.SOS_PENDANT,
    DeviceKind.FALL_SENSOR,
    DeviceKind.DOOR_SENSOR,
    DeviceKind.BED_SENSOR,
    DeviceKind.MOTION_SENSOR,
    DeviceKind.HOME_UNIT,
)


UID_SUFFIX: Final[dict[DeviceKind, str]] = {
    DeviceKind.WRISTBAND: "wr",
    DeviceKind.SOS_PENDANT: "sos",
    DeviceKind.FALL_SENSOR: "fs",
    DeviceKind.DOOR_SENSOR: "door",
    DeviceKind.BED_SENSOR: "bed",
    DeviceKind.MOTION_SENSOR: "mot",
    DeviceKind.HOME_UNIT: "hu",
}

FIRMWARE: Final[dict[DeviceKind, str]] = {
    DeviceKind.WRISTBAND: "sim-wr-2.4.1",
    DeviceKind.SOS_PENDANT: "sim-sos-1.2.0",
    DeviceKind.FALL_SENSOR: "sim-radar-3.0.2",
    DeviceKind.DOOR_SENSOR: "sim-door-1.0.5",
    DeviceKind.BED_SENSOR: "sim-bed-1.1.0",
    DeviceKind.MOTION_SENSOR: "sim-pir-1.0.7",
    DeviceKind.HOME_UNIT: "sim-hu-5.2.0",
}


def device_uid(resident: int, kind: DeviceKind) -> str:
    """`r0007-wr`: the resident's number and the kind's suffix (a valid contract DeviceId)."""
    return f"r{resident:04d}-{UID_SUFFIX[kind]}"

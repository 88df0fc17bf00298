"""The kinds of device in a simulated home, their uid scheme and firmware versions."""

from __future__ import annotations

from typing import Any, Final

from homecare.contracts.messages import DeviceKind
from homecare.sim.profiles import Condition
from homecare.sim.records import ResidentRecord

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

HEALTH_CHECK_KINDS: Final[dict[Condition, DeviceKind]] = {
    Condition.HYPERTENSION: DeviceKind.BLOOD_PRESSURE_MONITOR,
    Condition.DIABETES: DeviceKind.GLUCOSE_METER,
}
"""A resident with the condition checks it at home every morning with this device."""

HOME_ZONE_M: Final = 120.0
NEIGHBOURHOOD_M: Final = 700.0
NEIGHBOURHOOD_HOURS: Final = ("07:00", "19:00")


def safe_zones(resident: ResidentRecord) -> list[dict[str, Any]]:
    """The safe zones of a resident who wears a GPS watch (who wanders), as the platform's API takes them: the
    home, always, and the neighbourhood in daylight only ("not outside after 19:00"); none without a watch."""
    if not any(d.kind is DeviceKind.GPS_WATCH for d in resident.devices):
        return []
    lat, lon = resident.lat, resident.lon
    start, end = NEIGHBOURHOOD_HOURS
    return [
        {"name": "家", "shape": {"kind": "circle", "lat": lat, "lon": lon, "radius_m": HOME_ZONE_M}},
        {
            "name": "小区周边",
            "shape": {"kind": "circle", "lat": lat, "lon": lon, "radius_m": NEIGHBOURHOOD_M},
            "active_from": start,
            "active_until": end,
        },
    ]


UID_SUFFIX: Final[dict[DeviceKind, str]] = {
    DeviceKind.WRISTBAND: "wr",
    DeviceKind.SOS_PENDANT: "sos",
    DeviceKind.FALL_SENSOR: "fs",
    DeviceKind.DOOR_SENSOR: "door",
    DeviceKind.BED_SENSOR: "bed",
    DeviceKind.MOTION_SENSOR: "mot",
    DeviceKind.HOME_UNIT: "hu",
    DeviceKind.BLOOD_PRESSURE_MONITOR: "bp",
    DeviceKind.GLUCOSE_METER: "gl",
    DeviceKind.GPS_WATCH: "gps",
}

FIRMWARE: Final[dict[DeviceKind, str]] = {
    DeviceKind.WRISTBAND: "sim-wr-2.4.1",
    DeviceKind.SOS_PENDANT: "sim-sos-1.2.0",
    DeviceKind.FALL_SENSOR: "sim-radar-3.0.2",
    DeviceKind.DOOR_SENSOR: "sim-door-1.0.5",
    DeviceKind.BED_SENSOR: "sim-bed-1.1.0",
    DeviceKind.MOTION_SENSOR: "sim-pir-1.0.7",
    DeviceKind.HOME_UNIT: "sim-hu-5.2.0",
    DeviceKind.BLOOD_PRESSURE_MONITOR: "sim-bp-1.3.0",
    DeviceKind.GLUCOSE_METER: "sim-gl-2.0.1",
    DeviceKind.GPS_WATCH: "sim-gps-1.4.2",
}


def device_uid(resident: int, kind: DeviceKind) -> str:
    """`r0007-wr`: the resident's number and the kind's suffix (a valid contract DeviceId)."""
    return f"r{resident:04d}-{UID_SUFFIX[kind]}"

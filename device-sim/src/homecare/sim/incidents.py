"""Things that happen to a resident beyond the routine: falls, button presses, nights out, hazards."""

from __future__ import annotations

from dataclasses import dataclass

from homecare.contracts.messages import DeviceKind, EventKind
from homecare.sim.routine import Room


@dataclass(frozen=True, slots=True)
class Fall:
    """A real fall: the resident lies on the floor for `lies_for_s`, pressing "I'm OK" if they respond.

    `device` is the wearable whose fall trigger fires and sends the IMU burst (see FALL_TRIGGER_DEVICES).
    """

    t: float
    room: Room | None = None  # None: wherever the routine puts them at `t`
    responds: bool = False
    response_after_s: float = 20.0
    lies_for_s: float = 3600.0
    device: DeviceKind = DeviceKind.WRISTBAND


@dataclass(frozen=True, slots=True)
class FalseFallAlarm:
    """A wearable's fall trigger fires on a knock; the resident cancels with "I'm OK"."""

    t: float
    response_after_s: float = 12.0
    device: DeviceKind = DeviceKind.WRISTBAND


@dataclass(frozen=True, slots=True)
class SosPress:
    """A press of the SOS button, optionally cancelled ("I'm OK") after `cancel_after_s`."""

    t: float
    device: DeviceKind = DeviceKind.SOS_PENDANT
    cancel_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class NightOut:
    """The resident leaves home (typically at night, with dementia) for `minutes`."""

    t: float
    minutes: float = 60.0


@dataclass(frozen=True, slots=True)
class Hazard:
    """Smoke or water reported by the home unit's sensors."""

    t: float
    kind: EventKind = EventKind.SMOKE
    room: Room = Room.KITCHEN


@dataclass(frozen=True, slots=True)
class HypertensiveCrisis:
    """A blood-pressure check at `t` that finds the pressure in the crisis band (the cuff reports it)."""

    t: float
    systolic: int = 196
    diastolic: int = 114
    pulse: int = 96


Incident = Fall | FalseFallAlarm | SosPress | NightOut | Hazard | HypertensiveCrisis

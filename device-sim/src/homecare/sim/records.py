"""The neighbourhood as plain data: stations, residents, their devices and contacts, the enrolment of them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from homecare.contracts.messages import DeviceKind

VULNERABLE_FRAILTY: Final = 0.6  # residents this frail are flagged for monthly welfare visits


@dataclass(frozen=True, slots=True)
class Station:
    """A community elderly-care service station (社区居家养老服务站) that sends responders."""

    code: str
    name: str
    lat: float
    lon: float
    address: str
    phone: str


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    relation: str
    phone: str


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What enrolment needs about a device; `secret` is its MQTT password."""

    uid: str
    kind: DeviceKind
    resident: int
    secret: str
    firmware: str
    room: str | None  # where a fixed sensor is installed


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    index: int
    name: str
    sex: str
    birth_year: int
    frailty: float
    conditions: tuple[str, ...]
    wanders_at_night: bool
    lat: float
    lon: float
    address: str
    station: str  # Station.code of the nearest station
    phone: str
    contacts: tuple[Contact, ...]
    devices: tuple[DeviceRecord, ...]

    @property
    def vulnerable(self) -> bool:
        return self.frailty >= VULNERABLE_FRAILTY


@dataclass(frozen=True, slots=True)
class Enrolment:
    """Everything the platform must know before the devices connect, as plain data."""

    seed: int
    stations: tuple[Station, ...]
    residents: tuple[ResidentRecord, ...]

    @property
    def devices(self) -> tuple[DeviceRecord, ...]:
        return tuple(d for r in self.residents for d in r.devices)

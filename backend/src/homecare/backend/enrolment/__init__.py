"""Enrolment: residents with their homes and cards, devices and their credentials, stations, CSV imports.

Exceptions::

    EnrolmentError               base of this package
    ├── InvalidEnrolment         values refused, e.g. an unknown station or time zone (HTTP 422)
    ├── ImportRejected           a CSV file with bad rows; nothing was imported; errors lists (line, reason) (HTTP 422)
    ├── AlreadyEnrolled          the device uid, resident reference or station code is taken (HTTP 409)
    ├── DeviceNotFound           no device has that id (HTTP 404)
    ├── DeviceRevoked            the device's credentials were revoked; enrol it again instead (HTTP 409)
    ├── StationNotFound          no station has that id (HTTP 404)
    └── BrokerAccountsFailed     the broker's password file could not be written or reloaded (HTTP 503)
"""

from __future__ import annotations

from dataclasses import dataclass


class EnrolmentError(Exception):
    """Base of the enrolment package's exceptions."""


class InvalidEnrolment(EnrolmentError):
    """The values are refused; ``field`` names the one at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of an imported file was refused (line 1 is the header)."""

    line: int
    reason: str


class ImportRejected(EnrolmentError):
    """The file has bad rows (or cannot be read at all); nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} line(s) refused; nothing was imported")
        self.errors = errors


class AlreadyEnrolled(EnrolmentError):
    """Something with this unique key exists already."""


class DeviceNotFound(EnrolmentError):
    """No device has that id."""

    def __init__(self, device_id: int) -> None:
        super().__init__(f"device {device_id} does not exist")


class DeviceRevoked(EnrolmentError):
    """The device was revoked: new credentials come with a new enrolment."""


class StationNotFound(EnrolmentError):
    """No station has that id."""

    def __init__(self, station_id: int) -> None:
        super().__init__(f"station {station_id} does not exist")


class BrokerAccountsFailed(EnrolmentError):
    """Mosquitto's password file could not be updated or the broker not told to reload it."""

"""Enrolment: residents with their homes and cards, devices and their credentials, stations, CSV imports.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given); an unknown station is ``homecare.backend.dispatch.StationNotFound``::

    EnrolmentError               base of this package
    ├── InvalidEnrolment         values refused, e.g. an unknown station or time zone (HTTP 422, its detail
    │                            shaped like FastAPI's validation errors, naming the field)
    ├── ImportRejected           a CSV file with bad rows; nothing was imported; errors lists (line, reason) (HTTP 422)
    ├── AlreadyEnrolled          the device uid, resident reference or station code is taken (HTTP 409)
    ├── DeviceNotFound           no device has that id (HTTP 404)
    ├── DeviceRevoked            the device's credentials were revoked; enrol it again instead (HTTP 409)
    └── BrokerAccountsFailed     the broker's accounts were not updated (HTTP 503): its password file not
                                 written or reloaded, or its dynamic-security plugin not reached or it refused
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homecare.storage.errors import HomecareError


class EnrolmentError(HomecareError):
    """Base of the enrolment package's exceptions."""


class InvalidEnrolment(EnrolmentError):
    """The values are refused; ``field`` names the one at fault when there is one."""

    http_status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def detail(self) -> list[dict[str, Any]]:
        """FastAPI's validation-error shape, so the pages put the message beside the field it names."""
        return [{"loc": ["body"] + ([self.field] if self.field else []), "msg": str(self), "type": "value_error"}]


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of an imported file was refused (line 1 is the header)."""

    line: int
    reason: str


class ImportRejected(EnrolmentError):
    """The file has bad rows (or cannot be read at all); nothing was imported."""

    http_status = 422

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} line(s) refused; nothing was imported")
        self.errors = errors

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "errors": [{"line": e.line, "reason": e.reason} for e in self.errors]}


class AlreadyEnrolled(EnrolmentError):
    """Something with this unique key exists already."""

    http_status = 409


class DeviceNotFound(EnrolmentError):
    """No device has that id."""

    http_status = 404

    def __init__(self, device_id: int) -> None:
        super().__init__(f"device {device_id} does not exist")


class DeviceRevoked(EnrolmentError):
    """The device was revoked: new credentials come with a new enrolment."""

    http_status = 409


class BrokerAccountsFailed(EnrolmentError):
    """Mosquitto's password file could not be updated or the broker not told to reload it, or its dynamic-security
    plugin could not be reached or answered an error."""

    http_status = 503

"""Locations: GPS watches' fixes, residents' safe zones, incident tracks, and who may see a location.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    LocationError                base of this package
    ├── ZoneNotFound             no such safe zone for this resident (HTTP 404)
    └── NoSuchIncident           a track asked for an incident that does not exist (HTTP 404)

A resident out of the caller's scope, or a family member without consent to see the location, is
``ResidentNotFound`` (HTTP 404) from ``residents.access.open_resident``.
"""

from homecare.storage.errors import HomecareError


class LocationError(HomecareError):
    """Base of the locations package's exceptions."""


class ZoneNotFound(LocationError):
    """No such safe zone for this resident."""

    http_status = 404

    def __init__(self, zone_id: int) -> None:
        super().__init__(f"safe zone {zone_id} not found")
        self.zone_id = zone_id


class NoSuchIncident(LocationError):
    """A track was asked for an incident that does not exist."""

    http_status = 404

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id

"""Community service stations: where they are, their hours, capacity and duty state, and the responders' view.

Exceptions::

    StationsError                base of this package
    ├── StationNotFound          no station has that id (HTTP 404)
    ├── StationRequired          the caller belongs to no station and named none (HTTP 422)
    └── NotYourStation           a responder asked for another station, or has none (HTTP 403)
"""


class StationsError(Exception):
    """Base of the stations package's exceptions."""


class StationNotFound(StationsError):
    def __init__(self, station_id: int) -> None:
        super().__init__(f"station {station_id} does not exist")
        self.station_id = station_id


class StationRequired(StationsError):
    """Administrators and supervisors belong to no station: they name the one to look at."""


class NotYourStation(StationsError):
    """Responders see and change only their own station."""

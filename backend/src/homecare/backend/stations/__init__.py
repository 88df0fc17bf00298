"""Community service stations: where they are, their hours, capacity and duty state, and the responders' view.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given); an unknown station is ``homecare.backend.dispatch.StationNotFound``,
the one for every package (dispatch lies below this one)::

    StationsError                base of this package
    ├── StationRequired          the caller belongs to no station and named none (HTTP 422)
    └── NotYourStation           a responder asked for another station, or has none (HTTP 403)
"""

from homecare.storage.errors import HomecareError


class StationsError(HomecareError):
    """Base of the stations package's exceptions."""


class StationRequired(StationsError):
    """Administrators and supervisors belong to no station: they name the one to look at."""

    http_status = 422


class NotYourStation(StationsError):
    """Responders see and change only their own station."""

    http_status = 403

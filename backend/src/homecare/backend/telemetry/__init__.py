"""Telemetry: vital signs and activity over time — rollups and the vitals read API.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    TelemetryError               base of this package
    └── InvalidVitalsQuery       a read asks for something that cannot be answered (HTTP 422)
        ├── UnknownMetric        the metric name is not one of the stored metrics
        └── InvalidTimeRange     end before start, or a range too long for the resolution
"""

from homecare.storage.errors import HomecareError


class TelemetryError(HomecareError):
    """Base of the telemetry package's exceptions."""


class InvalidVitalsQuery(TelemetryError):
    """A vitals read that cannot be answered as asked; the message says why."""

    http_status = 422


class UnknownMetric(InvalidVitalsQuery):
    """The metric name is not a stored metric."""


class InvalidTimeRange(InvalidVitalsQuery):
    """The time range is empty, reversed or too long for the resolution."""

"""Telemetry: vital signs and activity over time — rollups and the vitals read API.

Exceptions::

    TelemetryError               base of this package
    └── InvalidVitalsQuery       a read asks for something that cannot be answered (HTTP 422)
        ├── UnknownMetric        the metric name is not one of the stored metrics
        └── InvalidTimeRange     end before start, or a range too long for the resolution
"""


class TelemetryError(Exception):
    """Base of the telemetry package's exceptions."""


class InvalidVitalsQuery(TelemetryError):
    """A vitals read that cannot be answered as asked; the message says why."""


class UnknownMetric(InvalidVitalsQuery):
    """The metric name is not a stored metric."""


class InvalidTimeRange(InvalidVitalsQuery):
    """The time range is empty, reversed or too long for the resolution."""

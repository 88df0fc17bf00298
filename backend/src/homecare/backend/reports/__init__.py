"""Reports: the figures the project is measured against — response times, coverage, welfare visits — as JSON and CSV.

Exceptions::

    ReportsError                 base of this package
    └── InvalidReportQuery       a period, month or time zone that cannot be reported on (HTTP 422)
"""


class ReportsError(Exception):
    """Base of the reports package's exceptions."""


class InvalidReportQuery(ReportsError):
    """The report cannot be computed as asked; the message says why."""

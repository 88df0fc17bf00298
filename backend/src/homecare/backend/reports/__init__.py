"""Reports: the figures the project is measured against — response times, coverage, welfare visits — as JSON and CSV.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    ReportsError                 base of this package
    └── InvalidReportQuery       a period, month or time zone that cannot be reported on (HTTP 422)
"""

from homecare.storage.errors import HomecareError


class ReportsError(HomecareError):
    """Base of the reports package's exceptions."""


class InvalidReportQuery(ReportsError):
    """The report cannot be computed as asked; the message says why."""

    http_status = 422

"""Family: the status page of the residents a family member follows — at a glance, history, sleep.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    FamilyError                  base of this package
    └── InvalidRange             the asked period is refused, e.g. too many nights (HTTP 422)

A resident out of the caller's scope, or not sharing what is asked, is ``ResidentNotFound`` (HTTP 404) from
``residents.access.open_resident``.
"""

from homecare.storage.errors import HomecareError


class FamilyError(HomecareError):
    """Base of the family package's exceptions."""


class InvalidRange(FamilyError):
    """The asked period is refused; the message says why."""

    http_status = 422

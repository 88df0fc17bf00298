"""Family: the status page of the residents a family member follows — at a glance, history, sleep.

Exceptions::

    FamilyError                  base of this package
    └── InvalidRange             the asked period is refused, e.g. too many nights (HTTP 422)

A resident out of the caller's scope, or not sharing what is asked, is ``ResidentNotFound`` (HTTP 404) from
``accounts.service.open_resident``.
"""


class FamilyError(Exception):
    """Base of the family package's exceptions."""


class InvalidRange(FamilyError):
    """The asked period is refused; the message says why."""

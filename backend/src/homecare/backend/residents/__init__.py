"""Residents: the people cared for at home, and the audit trail of who read their records.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    ResidentsError               base of this package
    └── ResidentNotFound         no resident has that id, or the caller may not see them (HTTP 404)
"""

from homecare.storage.errors import HomecareError


class ResidentsError(HomecareError):
    """Base of the residents package's exceptions."""


class ResidentNotFound(ResidentsError):
    """No resident has that id."""

    http_status = 404

    def __init__(self, resident_id: int) -> None:
        super().__init__(f"resident {resident_id} does not exist")
        self.resident_id = resident_id

"""Home care: the information base per resident, ability assessments, the vulnerability and subsidy rules, and the
welfare visit rounds (巡访) that visitors record on their phones.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    CareError                    base of this package
    ├── VisitNotFound            no planned visit has that id, or the caller may not see it (HTTP 404)
    ├── BookingNotFound          no booking has that id, or the caller may not see its resident (HTTP 404)
    └── InvalidCareInput         refused values, naming the field and a code (HTTP 422, a RefusedInput): a
                                 visitor who is not one, a visit already recorded, a visit day outside its period
"""

from homecare.storage.errors import HomecareError, RefusedInput


class CareError(HomecareError):
    """Base of the care package's exceptions."""


class VisitNotFound(CareError):
    """No planned visit has that id, or it is not the caller's to see."""

    http_status = 404

    def __init__(self, visit_id: int) -> None:
        super().__init__(f"visit {visit_id} does not exist")
        self.visit_id = visit_id


class BookingNotFound(CareError):
    """No booking has that id, or it is not the caller's to see."""

    http_status = 404

    def __init__(self, booking_id: int) -> None:
        super().__init__(f"booking {booking_id} does not exist")
        self.booking_id = booking_id


class InvalidCareInput(CareError, RefusedInput):
    """Values the care domain refuses, as (field, message) pairs or coded ``Refusal``s (the root module's)."""

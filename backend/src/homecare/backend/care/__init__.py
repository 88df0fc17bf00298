"""Home care: the information base per resident, ability assessments, the vulnerability and subsidy rules, and the
welfare visit rounds (巡访) that visitors record on their phones.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    CareError                    base of this package
    ├── VisitNotFound            no planned visit has that id, or the caller may not see it (HTTP 404)
    ├── BookingNotFound          no booking has that id, or the caller may not see its resident (HTTP 404)
    └── InvalidCareInput         refused values, naming the field (HTTP 422): a visitor who is not one, a visit
                                 already recorded, a visit day outside its period
"""

import dataclasses
from collections.abc import Sequence

from homecare.storage.errors import HomecareError


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


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """A refused value the pages can say in the reader's language: ``code`` names their string (the ``type`` of
    the answer's item) and ``ctx`` fills it; ``message`` is for everyone else. A ``ctx`` key ending in ``_at``
    holds a time, which the pages show in the reader's zone."""

    field: str
    message: str
    code: str
    ctx: dict[str, object] = dataclasses.field(default_factory=dict)


class InvalidCareInput(CareError):
    """Values the care domain refuses: (field, message) pairs or coded ``Refusal``s, each field a dotted path in
    the request body. The answer has the shape of a 422 from the request models, so pages show both alike."""

    http_status = 422

    def __init__(self, errors: Sequence[tuple[str, str] | Refusal]) -> None:
        self.errors = [error if isinstance(error, Refusal) else Refusal(*error, code="value_error") for error in errors]
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in self.errors))

    def detail(self) -> object:
        return [
            {"loc": ["body", *error.field.split(".")], "msg": error.message, "type": error.code}
            | ({"ctx": error.ctx} if error.ctx else {})
            for error in self.errors
        ]

"""The root of every exception the server side raises on purpose, and the HTTP answer each class stands for.

Each package keeps its own tree under this root (drawn in the package's ``__init__`` docstring) and each class
says, in ``http_status``, the status an API request that ends in it answers with; ``headers()`` and ``detail()``
give the rest of that answer. The backend turns them into a response in one place (``homecare.backend.http``),
so services raise their domain exceptions and routers do not translate them. Classes that never reach an HTTP
request (a failed migration, a refused MQTT write) keep the default, 500.

Exceptions::

    HomecareError                        root: 500 unless a class says otherwise
    ├── RefusedInput                         refused values, each naming its field and a code the pages say in
    │                                        the reader's language (HTTP 422); a package's own subclasses it
    ├── homecare.storage.DatabaseError       the storage package's (see its tree)
    ├── homecare.gateway.GatewayError        the gateway's
    └── homecare.backend.*.…Error            one base per backend package: AccountsError, CallsError, CareError,
                                             DispatchError, EnrolmentError, FamilyError, IncidentsError,
                                             NotificationsError, ReportsError, ResidentsError, StationsError,
                                             TelemetryError
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar


class HomecareError(Exception):
    """Base of every exception the project raises on purpose; ``http_status`` is the status it answers with."""

    http_status: ClassVar[int] = 500

    def headers(self) -> dict[str, str]:
        """Headers the HTTP answer carries besides the body (e.g. Retry-After); none by default."""
        return {}

    def detail(self) -> object:
        """The JSON value of the answer's ``detail`` (FastAPI's error body shape): the message by default."""
        return str(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """A refused value the pages can say in the reader's language: ``code`` names their string (the ``type`` of
    the answer's item, read by common.js ``refusal()``) and ``ctx`` fills it; ``message`` is for everyone else. A
    ``ctx`` key ending in ``_at`` holds a time, which the pages show in the reader's zone."""

    field: str
    message: str
    code: str
    ctx: dict[str, object] = dataclasses.field(default_factory=dict)


class RefusedInput(HomecareError):
    """Values refused: (field, message) pairs or coded ``Refusal``s, each field a dotted path in the request body.
    The answer has the shape of a 422 from the request models, so pages show both alike; a class that refuses with
    another 4xx sets its own ``http_status``."""

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

"""The root of every exception the server side raises on purpose, and the HTTP answer each class stands for.

Each package keeps its own tree under this root (drawn in the package's ``__init__`` docstring) and each class
says, in ``http_status``, the status an API request that ends in it answers with; ``headers()`` and ``detail()``
give the rest of that answer. The backend turns them into a response in one place (``homecare.backend.http``),
so services raise their domain exceptions and routers do not translate them. Classes that never reach an HTTP
request (a failed migration, a refused MQTT write) keep the default, 500.

Exceptions::

    HomecareError                        root: 500 unless a class says otherwise
    ├── homecare.storage.DatabaseError       the storage package's (see its tree)
    ├── homecare.gateway.GatewayError        the gateway's
    └── homecare.backend.*.…Error            one base per backend package: AccountsError, CallsError, CareError,
                                             DispatchError, EnrolmentError, FamilyError, IncidentsError,
                                             NotificationsError, ReportsError, ResidentsError, StationsError,
                                             TelemetryError
"""

from __future__ import annotations

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

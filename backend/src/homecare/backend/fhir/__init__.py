"""FHIR: clinic systems, residents' consent to share with them, and the read-only HL7 FHIR R4 interface they use.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given). Under ``/fhir/R4`` every one answers as an OperationOutcome; the
token endpoint answers RFC 6749's ``{"error": …}``::

    FhirError                    base of this package
    ├── ClinicNotFound           no clinic has that id (HTTP 404)
    ├── ConsentNotFound          no consent was recorded for that resident and clinic (HTTP 404)
    ├── TokenRefused             the token request is refused; ``error`` is RFC 6749's code (HTTP 400)
    │   └── InvalidClient        unknown client, wrong secret or a disabled clinic (HTTP 401)
    ├── ClinicNotAuthenticated   no valid clinic bearer token (HTTP 401, with WWW-Authenticate: Bearer)
    ├── ResourceNotFound         no such resource for this clinic: unknown, or the resident has not consented
    │                            (HTTP 404, so a clinic cannot learn who exists)
    └── InvalidSearch            a search parameter or value the server does not serve (HTTP 400)
"""

from __future__ import annotations

from homecare.storage.errors import HomecareError


class FhirError(HomecareError):
    """Base of the fhir package's exceptions."""


class ClinicNotFound(FhirError):
    """No clinic has that id."""

    http_status = 404

    def __init__(self, clinic_id: int) -> None:
        super().__init__(f"clinic {clinic_id} does not exist")


class ConsentNotFound(FhirError):
    """No consent was ever recorded for that resident and clinic."""

    http_status = 404

    def __init__(self, resident_id: int, clinic_id: int) -> None:
        super().__init__(f"resident {resident_id} has no consent recorded for clinic {clinic_id}")


class TokenRefused(FhirError):
    """RFC 6749 section 5.2: the token request is refused with ``error`` (its code) and a description."""

    http_status = 400

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


class InvalidClient(TokenRefused):
    """The client id or secret is wrong, or the clinic is disabled (deliberately not told apart)."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("invalid_client", "unknown client or wrong secret")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="fhir"'}


class ClinicNotAuthenticated(FhirError):
    """The request carries no valid clinic bearer token."""

    http_status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class ResourceNotFound(FhirError):
    """No such resource for this clinic (unknown, or its resident has not consented to share with it)."""

    http_status = 404

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} is not known")


class InvalidSearch(FhirError):
    """A search parameter, or a value of one, that the server does not serve."""

    http_status = 400

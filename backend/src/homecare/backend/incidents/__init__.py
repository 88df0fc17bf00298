"""Incidents: one open incident per resident and cause, its attributed lifecycle, escalation and live feed.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    IncidentsError                   base of this package
    ├── IncidentNotFound             no incident has that id (HTTP 404)
    ├── InvalidTransition            the action does not apply in the incident's status (HTTP 409)
    └── PolicyError                  the escalation policy file is missing or invalid (fails at start-up)
"""

from homecare.storage.errors import HomecareError


class IncidentsError(HomecareError):
    """Base of the incidents package's exceptions."""


class IncidentNotFound(IncidentsError):
    """No incident has that id."""

    http_status = 404

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id


class InvalidTransition(IncidentsError):
    """The action does not apply to the incident in its current status; the message says why."""

    http_status = 409


class PolicyError(IncidentsError):
    """The escalation policy could not be loaded or is invalid."""

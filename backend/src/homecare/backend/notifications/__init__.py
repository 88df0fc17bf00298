"""Notifications: family, staff and supervisors told of incidents by e-mail and signed webhooks, via an outbox.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    NotificationsError           base of this package
    ├── IncidentNotFound         notify_incident was given an incident that does not exist (HTTP 404)
    ├── NotificationNotFound     no outbox message has that id (HTTP 404)
    ├── NotRetryable             only a failed message can be sent again (HTTP 409)
    ├── DeliveryError            one attempt to deliver a message failed (raised by channels)
    │   ├── TransientDeliveryError   worth retrying: timeouts, refused connections, SMTP 4xx, HTTP 5xx/429
    │   └── PermanentDeliveryError   retrying cannot help: recipient refused, HTTP 4xx, endpoint not configured
    └── InvalidSignature         a webhook's signature or timestamp does not verify (receivers' side)
"""

from homecare.storage.errors import HomecareError


class NotificationsError(HomecareError):
    """Base of the notifications package's exceptions."""


class IncidentNotFound(NotificationsError):
    """No incident has that id."""

    http_status = 404

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id


class NotificationNotFound(NotificationsError):
    """No outbox message has that id."""

    http_status = 404

    def __init__(self, notification_id: int) -> None:
        super().__init__(f"notification {notification_id} does not exist")
        self.notification_id = notification_id


class NotRetryable(NotificationsError):
    """The message is not in the failed state (pending ones are still being tried, sent ones are done)."""

    http_status = 409


class DeliveryError(NotificationsError):
    """One delivery attempt failed; the message says what the other side answered."""


class TransientDeliveryError(DeliveryError):
    """The attempt failed for a reason that may pass: the worker retries with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The attempt failed for a reason that will not pass: the message is marked failed at once."""


class InvalidSignature(NotificationsError):
    """A webhook request whose signature, or timestamp, does not verify."""

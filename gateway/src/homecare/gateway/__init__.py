"""MQTT → validated, deduplicated, durable: the gateway between devices and the database.

Threads, not asyncio, on the hot path: paho's network thread validates and routes each message
(library callbacks only enqueue), and writer threads do the blocking database work.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``; all keep its HTTP 500)::

    GatewayError                 base of this package
    └── StorageUnavailable       the database refused or is unreachable; the writer retries
"""

from homecare.storage.errors import HomecareError


class GatewayError(HomecareError):
    """Base of the gateway's exceptions."""


class StorageUnavailable(GatewayError):
    """The database refused a write or is unreachable; the caller retries with backoff."""

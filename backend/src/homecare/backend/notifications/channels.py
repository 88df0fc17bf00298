"""The channel interface every delivery adapter implements (e-mail and webhooks now; SMS or push later)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

ChannelName = Literal["email", "webhook"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    """One outbox row as a channel sees it: who to, what, and the stable id receivers deduplicate by."""

    delivery_id: int  # the outbox id: the same on every retry
    attempt: int
    incident_id: int | None  # None: about a medication dose nobody confirmed (the payload names it)
    audience: str
    recipient: str  # an e-mail address, a webhook endpoint name (later: a phone number, a device token)
    reason: str
    subject: str
    body: str  # human-readable text, Chinese first, then English
    payload: dict[str, Any]  # machine-readable JSON


class Channel(Protocol):
    """Delivers one message per call; an adapter for SMS or push implements the same method.

    ``send`` returns a short description of the other side's answer (stored with the attempt) or raises
    ``TransientDeliveryError`` (retry later) or ``PermanentDeliveryError`` (give up). It must bound its own
    running time (a timeout), because the worker holds the outbox row's lock while it runs.
    """

    async def send(self, message: OutboundMessage) -> str: ...

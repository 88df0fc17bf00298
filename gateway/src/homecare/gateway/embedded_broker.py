"""The in-process amqtt broker for a single-machine deployment (use Mosquitto or EMQX under load)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from amqtt.broker import Broker
from amqtt.session import Session

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, object]:
    """amqtt configuration: one TCP listener, no $SYS chatter or packet logging.

    Every client must give a user name (devices give their id, the gateway its client id); amqtt
    treats sessions of anonymous clients as disposable and would drop the commands queued for a
    device while it is away. Passwords are not checked here: the embedded broker is for a single
    machine; production brokers authenticate devices (deploy/mosquitto).
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
    }


class _SnapshotDict(dict[str, Any]):
    """A dict whose iteration walks a copy, so code that awaits inside the loop survives changes."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())


class HomecareBroker(Broker):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt 0.12 with two of its bugs worked around, both seen with a few hundred devices:

    - while a client connects, the broker loops over *all* subscriptions, awaiting inside the loop,
      and sends the client retained messages for every one of them — other devices' presence
      included — and the loop dies with "dictionary changed size during iteration" when another
      client subscribes meanwhile (the same can happen in the broadcast loop);
    - so: iteration walks a snapshot, and retained messages go only to sessions subscribed to the
      filter in question.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        existing: dict[str, Any] = self._subscriptions  # type: ignore[has-type]  # set by amqtt
        self._subscriptions = _SnapshotDict(existing)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        subscribers = self._subscriptions.get(subscription[0], [])
        if any(subscriber.client_id == session.client_id for subscriber, _ in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)


async def serve_broker(host: str, port: int, stop: asyncio.Event) -> None:
    """Run the broker until `stop` is set."""
    broker = HomecareBroker(broker_config(host, port))
    await broker.start()
    log.info("amqtt broker listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()

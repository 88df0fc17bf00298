"""The in-process amqtt broker for a single-machine deployment (use Mosquitto or EMQX under load)."""

from __future__ import annotations

import asyncio
import logging

from amqtt.broker import Broker

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, object]:
    """amqtt configuration: one TCP listener, anonymous access, no $SYS chatter or packet logging."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve_broker(host: str, port: int, stop: asyncio.Event) -> None:
    """Run the broker until `stop` is set."""
    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info("amqtt broker listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()

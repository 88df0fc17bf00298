"""Many paho clients on one asyncio loop: their sockets on the loop's selector, keepalives on a timer."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike


class PahoBridge:
    """Attach clients before they connect; `run()` drives their `loop_misc` (keepalive pings).

    A thread per device would cost a stack and context switches for every message; instead paho's
    `loop_read`/`loop_write` run when the selector says a socket is ready, as aiomqtt does.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._clients: set[mqtt.Client] = set()

    def attach(self, client: mqtt.Client) -> None:
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._wrote
        self._clients.add(client)

    def detach(self, client: mqtt.Client) -> None:
        self._clients.discard(client)

    async def run(self, period_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(period_s)
            for client in list(self._clients):
                client.loop_misc()

    def _opened(self, client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self._loop.add_reader(sock, client.loop_read)

    def _closed(self, _client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _want_write(self, client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self._loop.add_writer(sock, client.loop_write)

    def _wrote(self, _client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self._loop.remove_writer(sock)

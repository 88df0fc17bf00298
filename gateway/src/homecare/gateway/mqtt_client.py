"""A paho MQTT client that reads its socket in large chunks: the gateway's receive path at 20,000 msg/s.

Stock paho reads each packet with several small recv() calls (the fixed header byte by byte) and one
select() per packet, which costs more CPU than the rest of the gateway's per-message work. This
subclass serves those reads from a user-space buffer filled by one recv() of up to 256 KiB, and
drains the buffer before paho goes back to select(). It overrides two of paho's internal methods,
so paho is pinned to major version 2 and the gateway's tests exercise it on every run.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_CHUNK = 256 * 1024


class BufferedClient(mqtt.Client):
    """paho's Client with buffered socket reads; behaves the same otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_pos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._read_pos >= len(self._read_buffer):
            # Raises BlockingIOError when the socket has nothing, exactly as paho expects.
            self._read_buffer = super()._sock_recv(_CHUNK)
            self._read_pos = 0
            if not self._read_buffer:
                return b""  # the broker closed the connection
        start = self._read_pos
        self._read_pos = start + bufsize
        return self._read_buffer[start : self._read_pos]

    def _sock_close(self) -> None:
        self._read_buffer = b""
        self._read_pos = 0
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read packets until the buffer is empty: data already buffered would not wake select()."""
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._buffered():
            rc = super().loop_read(1)
        return rc

    def _buffered(self) -> bool:
        return self._read_pos < len(self._read_buffer)

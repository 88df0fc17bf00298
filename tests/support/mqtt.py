"""A plain MQTT client for tests: publish as a device, and watch the commands the platform sends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from homecare.contracts.codec import decode_command
from homecare.contracts.messages import AckStatus
from homecare.contracts.topics import parse


class TestClient:
    """A connected paho client whose received messages are kept in order.

    Without a user name or password it signs in with the credentials of the broker's URL (the platform's
    service account) or, if there are none, as an anonymous client named after its client id; a device
    gives its client id and secret."""

    __test__ = False  # not a test class, despite its name

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.received: list[mqtt.MQTTMessage] = []
        self._on_message = on_message
        self._connected = threading.Event()
        client_id = client_id or f"test-{uuid.uuid4().hex[:8]}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        if username is None and password is None and parts.username:
            # The platform's service account of the broker's URL: every topic, as the gateway.
            username, password = unquote(parts.username), unquote(parts.password or "")
        self._client.username_pw_set(username or client_id, password)
        self._refusal: object = None
        self._client.on_connect = self._on_connect
        self._client.on_message = self._message
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError("test client could not connect")
        if self._refusal is not None:
            self.close()
            raise ConnectionRefusedError(f"the broker refused the connection: {self._refusal}")

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, properties: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._refusal = reason
        self._connected.set()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            self._on_message(message)
        self.received.append(message)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        done = threading.Event()
        self._client.on_subscribe = lambda *_: done.set()
        self._client.subscribe(topic_filter, qos)
        if not done.wait(10):
            raise TimeoutError(f"subscription to {topic_filter} not confirmed")

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()  # paho leaves its wake-up socket pair to the garbage collector


def acks(commands: TestClient) -> list[tuple[str, int, AckStatus]]:
    """(device id, acknowledged seq, status) of every ack command a client subscribed to commands received."""
    found = []
    for message in list(commands.received):
        body = decode_command(message.payload).body
        if body.kind == "ack":
            found.append((parse(message.topic)[0], body.ack_seq, body.status))
    return found

"""The embedded amqtt broker behaves as devices expect, despite amqtt's own bugs (see backend/broker.py)."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mqtt import TestClient


def _persistent_client(url: str, client_id: str, received: list[str], subscribed: threading.Event) -> mqtt.Client:
    """A client that keeps its session, as devices do (signed in with the service account: amqtt's sessions
    are what is tested here, not accounts)."""
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=False)
    client.username_pw_set(parts.username, parts.password)
    client.on_connect = lambda c, *_: c.subscribe(f"homecare/v1/dev/{client_id}/cmd", 1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, m: received.append(m.topic)
    client.connect("127.0.0.1", parts.port or 1883)
    client.loop_start()
    return client


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()


def test_a_reconnecting_device_gets_only_what_it_subscribed_to(amqtt_url: str) -> None:
    gateway = TestClient(amqtt_url)
    gateway.subscribe("homecare/v1/dev/+/presence")  # a wildcard subscriber elsewhere, like the gateway
    other = TestClient(amqtt_url)
    other.publish("homecare/v1/dev/other-01/presence", b'{"v":1,"device_id":"other-01","online":true}', retain=True)
    received: list[str] = []
    for _ in range(2):  # the second connect resumes the persistent session
        subscribed = threading.Event()
        device = _persistent_client(amqtt_url, "device-01", received, subscribed)
        assert subscribed.wait(10)
        time.sleep(0.5)
        _close(device)
    other.publish("homecare/v1/dev/other-01/presence", b"", retain=True)  # clear the retained message
    other.close()
    gateway.close()
    assert received == []


def test_hundreds_of_devices_connect_and_subscribe_at_once(amqtt_url: str) -> None:
    gateway = TestClient(amqtt_url)
    gateway.subscribe("homecare/v1/dev/+/presence")
    gateway.publish("homecare/v1/dev/crowd-xxx/presence", b'{"v":1,"device_id":"crowd-xxx","online":true}', retain=True)
    clients, events = [], []
    for i in range(300):
        subscribed = threading.Event()
        clients.append(_persistent_client(amqtt_url, f"crowd-{i:03d}", [], subscribed))
        events.append(subscribed)
    try:
        assert all(event.wait(20) for event in events)
        # The broker still routes: a command reaches the last device.
        received: list[str] = []
        last = clients[-1]
        last.on_message = lambda c, u, m: received.append(m.topic)
        sender = TestClient(amqtt_url)
        sender.publish("homecare/v1/dev/crowd-299/cmd", b"{}")
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        sender.close()
        assert received == ["homecare/v1/dev/crowd-299/cmd"]
    finally:
        for client in clients:
            _close(client)
        gateway.publish("homecare/v1/dev/crowd-xxx/presence", b"", retain=True)
        gateway.close()

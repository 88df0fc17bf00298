"""The gateway process: one MQTT client feeding the ingest router and its two writers."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final
from urllib.parse import unquote, urlsplit
from wsgiref.simple_server import WSGIServer

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import start_http_server

from homecare.contracts.codec import encode
from homecare.contracts.messages import Ack, AckStatus, Command
from homecare.contracts.topics import ALL_VERSIONS_ROOT, ROOT, UPLINK_CHANNELS, Channel, topic
from homecare.gateway.client_ids import ClientIdPool
from homecare.gateway.commands import CommandSender
from homecare.gateway.durable_writer import DurableWriter
from homecare.gateway.ingest import Ingest
from homecare.gateway.metrics import GatewayMetrics
from homecare.gateway.mqtt_client import BufferedClient
from homecare.gateway.registry import DeviceRegistry
from homecare.gateway.settings import GatewayChannels, GatewaySettings
from homecare.gateway.telemetry_writer import Delivery, TelemetryWriter
from homecare.storage.maintenance import prepare_storage_when_reachable
from homecare.storage.partitions import ensure_partitions_sync
from homecare.storage.settings import redacted

log = logging.getLogger(__name__)


# What an "alarms" gateway takes; a "telemetry" gateway beside it takes the rest of the device tree.
ALARM_CHANNELS: Final = frozenset(channel for channel in UPLINK_CHANNELS if channel is not Channel.TELEMETRY)
# The pool of client ids of gateways started without one (see ClientIdPool), by what they take.
CLIENT_ID_PREFIXES: Final[dict[GatewayChannels, str]] = {
    "all": "homecare-gateway",
    "telemetry": "homecare-telemetry-gateway",
    "alarms": "homecare-alarm-gateway",
}


def subscription_filters(channels: GatewayChannels, share_group: str | None) -> list[str]:
    """What a gateway subscribes to. "all" and "telemetry": every version's device tree, so that unknown
    channels and versions are dead-lettered (by exactly one gateway) rather than ignored; "alarms" only the
    alarm channels. The split keeps an alarm from ever waiting behind telemetry for the interpreter or the
    socket."""
    if channels == "alarms":
        patterns = [f"{ROOT}/+/{channel.value}" for channel in sorted(ALARM_CHANNELS)]
    else:
        patterns = [f"{ALL_VERSIONS_ROOT}/#"]
    return [f"$share/{share_group}/{pattern}" if share_group else pattern for pattern in patterns]


class Gateway:
    """Owns the MQTT client, the device registry and the writers; start() and stop() from one thread."""

    def __init__(
        self, settings: GatewaySettings, dsn: str, on_client_id_lost: Callable[[], None] = lambda: None
    ) -> None:
        self.settings = settings
        self._client_ids: ClientIdPool | None = None
        if settings.gateway_client_id is None:
            self._client_ids = ClientIdPool(dsn, CLIENT_ID_PREFIXES[settings.gateway_channels], on_client_id_lost)
            self.client_id = self._client_ids.take()
        else:
            self.client_id = settings.gateway_client_id
        self.metrics = GatewayMetrics()
        self._metrics_server: tuple[WSGIServer, threading.Thread] | None = None
        self._manual_ack = settings.gateway_ack_after_commit
        self._filters = subscription_filters(settings.gateway_channels, settings.mqtt_share_group)
        self._generation = 0
        self._connected = threading.Event()
        self._cmd_ids = _CommandIds()
        self.registry = DeviceRegistry(dsn)
        self.telemetry = TelemetryWriter(
            dsn,
            self.metrics,
            self._acknowledge,
            self.reply,
            partial(ensure_partitions_sync, raw_retention_days=settings.raw_retention_days),
            batch_rows=settings.telemetry_batch_rows,
            flush_ms=settings.telemetry_flush_ms,
            max_buffered_rows=settings.telemetry_max_buffered_rows,
        )
        self.durable = DurableWriter(dsn, self.metrics, self._acknowledge, self.reply)
        self.ingest = Ingest(
            registry=self.registry,
            telemetry=self.telemetry,
            durable=self.durable,
            metrics=self.metrics,
            max_future_ms=settings.max_clock_skew_s * 1000,
            max_age_ms=(settings.raw_retention_days * 86_400 - 3600) * 1000,
            left_to_others=ALARM_CHANNELS if settings.gateway_channels == "telemetry" else frozenset(),
        )
        self._client = self._make_client()
        # Commands ride the alarm path: the gateway that takes alarms sends them.
        self.commands = CommandSender(dsn, self.publish) if settings.gateway_channels != "telemetry" else None

    def _make_client(self) -> mqtt.Client:
        url = urlsplit(self.settings.mqtt_url)
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            # MQTT 3.1.1: paho receives about twice as fast as over MQTT 5.
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=self._manual_ack,
        )
        if url.username:
            client.username_pw_set(unquote(url.username), unquote(url.password or ""))
        else:
            # Brokers keep persistent sessions only for clients that name themselves.
            client.username_pw_set(self.client_id)
        if url.scheme == "mqtts":
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Serve the metrics (when a port is set), load the registry, start the writers, then connect; returns
        once subscribed (or raises)."""
        if self.settings.gateway_metrics_port is not None:
            self._metrics_server = start_http_server(
                self.settings.gateway_metrics_port,
                addr=self.settings.gateway_metrics_host,
                registry=self.metrics.registry,
            )
        self.registry.start()
        self.telemetry.start()
        self.durable.start()
        url = urlsplit(self.settings.mqtt_url)
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self._client.connect_async(url.hostname or "127.0.0.1", port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(15):
            raise ConnectionError(f"gateway could not subscribe at the broker {redacted(self.settings.mqtt_url)}")
        if self.commands is not None:
            self.commands.start()

    def stop(self) -> None:
        """Stop taking messages, flush the writers (acknowledging what they commit), then disconnect."""
        if self.commands is not None:
            self.commands.stop()
        self._client.unsubscribe(self._filters)
        time.sleep(0.2)
        self.telemetry.stop()
        self.durable.stop()
        self._client.disconnect()
        self._client.loop_stop()
        # paho leaves its wake-up socket pair to the garbage collector; close it now.
        self._client._reset_sockets()
        self.registry.stop()
        if self._client_ids is not None:
            self._client_ids.release()
        if self._metrics_server is not None:
            server, thread = self._metrics_server
            server.shutdown()
            server.server_close()
            thread.join()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- MQTT callbacks (paho's network thread) ----------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, properties: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the gateway: %s", reason)
            return
        self._generation += 1
        client.subscribe([(pattern, 1) for pattern in self._filters])
        log.info(
            "gateway %s connected to %s (session %d)",
            self.client_id,
            redacted(self.settings.mqtt_url),
            self._generation,
        )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, reasons: list[ReasonCode], properties: Properties
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the gateway's subscription: %s", reasons)
            return
        self._connected.set()
        self.metrics.broker_connected.set(1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, properties: object
    ) -> None:
        self._connected.clear()
        self.metrics.broker_connected.set(0)
        log.warning("gateway disconnected from the broker: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        delivery = (self._generation, message.mid) if self._manual_ack and message.qos == 1 else None
        self.ingest.handle(message.topic, message.payload, delivery)

    # --- replies ---------------------------------------------------------------------------------

    def _acknowledge(self, deliveries: Iterable[Delivery]) -> None:
        """Acknowledge QoS-1 deliveries to the broker once stored; deliveries from an older connection
        are left alone (the broker redelivers them and the duplicate is dropped)."""
        current = self._generation
        acknowledged = 0
        for generation, mid in deliveries:
            if generation == current:
                self._client.ack(mid, 1)
                acknowledged += 1
        self.metrics.broker_acks.inc(acknowledged)

    def publish(self, topic_name: str, payload: bytes) -> bool:
        """Publish a downlink at QoS 1; True once the broker has it (blocks up to 5 s)."""
        if not self._client.is_connected():
            return False
        info = self._client.publish(topic_name, payload, qos=1)
        try:
            info.wait_for_publish(5.0)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def reply(self, uid: str, seq: int, status: AckStatus, reason: str | None = None) -> None:
        """Send the device an application-level acknowledgement for one of its messages."""
        command = Command(
            cmd_id=self._cmd_ids.next(),
            ts=int(time.time() * 1000),
            body=Ack(ack_seq=seq, status=status, reason=reason),
        )
        self._client.publish(topic(uid, Channel.CMD), encode(command), qos=1)
        self.metrics.acks_sent.labels(status.value).inc()


class _CommandIds:
    """Command ids that grow across gateway restarts and gateways: microseconds since the epoch."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


def serve(settings: GatewaySettings) -> None:
    """Run a gateway until SIGINT or SIGTERM, then flush and stop cleanly."""
    if settings.database_url is None:
        raise SystemExit("the gateway needs HOMECARE_DATABASE_URL (homecare run sets it)")
    dsn = settings.database_url
    asyncio.run(prepare_storage_when_reachable(dsn, settings))
    stop = threading.Event()
    lost = threading.Event()

    def client_id_lost() -> None:
        lost.set()
        stop.set()

    gateway = Gateway(settings, dsn, client_id_lost)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    gateway.start()
    log.info("gateway running: %d devices enrolled", len(gateway.registry))
    stop.wait()
    log.info("gateway stopping")
    gateway.stop()
    if lost.is_set():
        raise SystemExit(f"gateway {gateway.client_id} stopped: another gateway took its client id")

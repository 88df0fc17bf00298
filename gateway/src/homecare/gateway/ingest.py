"""The per-message decision: validate, authorise, deduplicate, route to a writer or to the dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from homecare.contracts.codec import ContractError, decode, decode_topic, printable, require_topic_device, salvage_alarm
from homecare.contracts.messages import Heartbeat, ImuBurst, LocationFix, Measurement, Telemetry
from homecare.contracts.topics import ROOT, Channel
from homecare.gateway.dedupe import SeqWindow
from homecare.gateway.durable_writer import DurableWriter, Item
from homecare.gateway.metrics import GatewayMetrics
from homecare.gateway.registry import DeviceRegistry
from homecare.gateway.telemetry_writer import DeadLetter, Delivery, TelemetryWriter

_CMD_SUFFIX = "/" + Channel.CMD.value
_DEVICE_TREE = ROOT + "/"


def _one_device_level(topic: str, suffix: str) -> bool:
    """Whether the topic matches the filter {ROOT}/+<suffix> as the broker matches it (``+`` is exactly one
    level, possibly empty)."""
    return (
        topic.endswith(suffix)
        and topic.startswith(_DEVICE_TREE)
        and len(topic) >= len(_DEVICE_TREE) + len(suffix)
        and "/" not in topic[len(_DEVICE_TREE) : len(topic) - len(suffix)]
    )


class Ingest:
    """Turns one MQTT message into stored rows, a durable write, or a dead letter. Never raises."""

    def __init__(
        self,
        *,
        registry: DeviceRegistry,
        telemetry: TelemetryWriter,
        durable: DurableWriter,
        metrics: GatewayMetrics,
        max_future_ms: int,
        max_age_ms: int,
        left_to_others: frozenset[Channel] = frozenset(),
    ) -> None:
        self._registry = registry
        self._telemetry = telemetry
        self._durable = durable
        self._metrics = metrics
        self._window = SeqWindow()
        self._max_future_ms = max_future_ms
        self._max_age_ms = max_age_ms
        self._received = {channel: metrics.received.labels(channel.value) for channel in Channel}
        # Channels another gateway subscribes to ({ROOT}/+/<channel>): this one acknowledges and skips them.
        self._left_to_others = {"/" + channel.value for channel in left_to_others}

    def handle(self, topic: str, payload: bytes | bytearray, delivery: Delivery | None) -> None:
        if _one_device_level(topic, _CMD_SUFFIX) or (self._left_to_others and self._taken_by_others(topic)):
            # The platform's own commands come back through the wildcard subscription (the broker lets no
            # device publish there), and another gateway stores (or dead-letters) the channels it takes.
            if delivery is not None:
                self._telemetry.acknowledge_later(delivery)
            return
        try:
            uid, channel = decode_topic(topic)
        except ContractError as err:
            self._dead(topic, None, "topic", err.reason, payload, delivery)
            return
        self._received[channel].inc()
        device = self._registry.get(uid)
        if device is None:
            self._dead(topic, uid, "unenrolled", "device is not enrolled or was revoked", payload, delivery)
            return
        dropped: dict[str, str] = {}
        try:
            message = decode(channel, payload)
        except ContractError as err:
            salvaged = salvage_alarm(payload) if channel is Channel.EVENT else None
            if salvaged is None:
                refused_seq = _readable_seq(payload) if channel is Channel.EVENT else None
                self._dead(topic, uid, "invalid", err.reason, payload, delivery, refused_seq)
                return
            message, dropped = salvaged.event, salvaged.dropped
        try:
            require_topic_device(message, uid)
        except ContractError as err:
            self._dead(topic, uid, "impersonation", err.reason, payload, delivery)
            return

        now = datetime.now(UTC)
        if isinstance(message, Telemetry | Measurement):  # both are data points of the time series
            if not self._window.first_time(device.id, message.seq):
                self._duplicate(channel.value, delivery)
                return
            now_ms = int(now.timestamp() * 1000)
            if message.ts > now_ms + self._max_future_ms or message.ts < now_ms - self._max_age_ms:
                self._window.forget(device.id, message.seq)
                skew_s = (message.ts - now_ms) / 1000
                self._dead(
                    topic, uid, "clock", f"device time is {skew_s:+.0f} s from the gateway's clock", payload, delivery
                )
                return
            ts = datetime.fromtimestamp(message.ts / 1000, UTC)
            rows = [
                (ts, device.id, device.resident_id, int(metric), value, message.seq)
                for metric, value in message.points()
            ]
            if not self._telemetry.add(rows, message.ts, delivery):
                self._window.forget(device.id, message.seq)
            self._telemetry.seen(device.id, now)
            return
        if isinstance(message, LocationFix | ImuBurst | Heartbeat) and not self._window.first_time(
            device.id, message.seq
        ):
            self._duplicate(type(message).__name__.lower(), delivery)
            return
        # Events skip the in-memory window: the database decides, so every resend is acknowledged again.
        self._durable.add(Item(device, message, delivery, now, topic, bytes(payload), dropped))
        self._telemetry.seen(device.id, now)

    def _taken_by_others(self, topic: str) -> bool:
        """Whether the topic matches another gateway's filter {ROOT}/+/<channel>."""
        suffix = topic[topic.rfind("/") :]
        return suffix in self._left_to_others and _one_device_level(topic, suffix)

    def _duplicate(self, channel: str, delivery: Delivery | None) -> None:
        self._metrics.duplicates.labels(channel).inc()
        if delivery is not None:
            self._telemetry.acknowledge_later(delivery)

    def _dead(
        self,
        topic: str,
        uid: str | None,
        cause: str,
        reason: str,
        payload: bytes | bytearray,
        delivery: Delivery | None,
        refused_event_seq: int | None = None,
    ) -> None:
        self._metrics.dead_letters.labels(cause).inc()
        letter = DeadLetter(printable(topic), uid, f"{cause}: {reason}", bytes(payload), refused_event_seq)
        self._telemetry.add_dead_letter(letter, delivery)


def _readable_seq(payload: bytes | bytearray) -> int | None:
    """The seq of an invalid event, when it can be read, so the device can be told to stop resending it."""
    try:
        seq = json.loads(payload).get("seq")
    except (ValueError, AttributeError, RecursionError):
        return None
    return seq if isinstance(seq, int) and seq >= 0 else None

"""Prometheus metrics of the gateway: what came in, what was stored, dropped or dead-lettered, what was acknowledged."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Device time to commit: alarms are expected well under a second, telemetry within a flush or two.
INGEST_LATENCY_BUCKETS: Final = (
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1,
    1.5,
    2,
    3,
    5,
    10,
    30,
)
# One writer's transaction: a few milliseconds for an alarm, up to seconds for a large COPY under load.
FLUSH_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    """The gateway's metrics, on a registry of their own so several gateways can live in one process.

    Labels are channels, causes, writers and statuses, never a device or resident id."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "homecare_gateway_messages_received",
            "Messages received on a device topic, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.stored_points = Counter(
            "homecare_gateway_points_stored", "Telemetry data points committed.", registry=self.registry
        )
        self.stored = Counter(
            "homecare_gateway_messages_stored",
            "Non-telemetry messages committed, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "homecare_gateway_duplicates",
            "Messages dropped as duplicates of an earlier (device, seq).",
            ["channel"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "homecare_gateway_dead_letters",
            "Messages refused and written to dead_letters, by cause (topic, unenrolled, invalid, impersonation, "
            "clock, storage).",
            ["cause"],
            registry=self.registry,
        )
        self.acks_sent = Counter(
            "homecare_gateway_acks_sent",
            "Acknowledgements sent to devices on their cmd topic, by status (stored, duplicate, rejected).",
            ["status"],
            registry=self.registry,
        )
        self.broker_acks = Counter(
            "homecare_gateway_broker_acks",
            "QoS-1 deliveries acknowledged to the broker after their commit.",
            registry=self.registry,
        )
        self.broker_connected = Gauge(
            "homecare_gateway_broker_connected",
            "1 while the gateway is connected and subscribed at the broker, else 0.",
            registry=self.registry,
        )
        self.overflow = Counter(
            "homecare_gateway_buffer_overflow_rows",
            "Telemetry rows dropped because the database fell too far behind.",
            registry=self.registry,
        )
        self.buffered_rows = Gauge(
            "homecare_gateway_buffered_rows", "Telemetry rows waiting for the database.", registry=self.registry
        )
        self.latency = Histogram(
            "homecare_gateway_ingest_latency_seconds",
            "Device timestamp to database commit, per message.",
            ["path"],
            buckets=INGEST_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.flush = Histogram(
            "homecare_gateway_flush_seconds",
            "How long one writer's batch took to write and commit, by writer (telemetry, durable).",
            ["writer"],
            buckets=FLUSH_BUCKETS,
            registry=self.registry,
        )

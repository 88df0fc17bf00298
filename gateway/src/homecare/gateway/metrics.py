"""Prometheus metrics of the gateway: what came in, what was stored, dropped or dead-lettered."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    """The gateway's counters, on a registry of their own so several gateways can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "homecare_gateway_messages_received",
            "Messages received, by channel.",
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
            "Messages refused and written to dead_letters, by cause.",
            ["cause"],
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
            buckets=(
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
            ),
            registry=self.registry,
        )

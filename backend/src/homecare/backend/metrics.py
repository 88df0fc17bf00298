"""Prometheus metrics of the backend process: the alarm pipeline, notifications, calls, WebSockets, the database."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg_pool import AsyncConnectionPool


class BackendMetrics:
    """One registry per app (tests run several in one process), built with the app and held on its Runtime.

    Counters and the WebSocket gauge move as things happen; the other gauges are read at each scrape
    (``read_pool`` here, the database's figures by the ``/metrics`` route). Labels are sources, results,
    channels and routes, never a resident, device or user."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pipeline_processed = Counter(
            "homecare_pipeline_items_processed",
            "Stored events and IMU bursts the alarm pipeline applied, by source (event, imu_burst) and result "
            "(applied, failed).",
            ["source", "result"],
            registry=self.registry,
        )
        self.pipeline_lag = Gauge(
            "homecare_pipeline_lag_seconds",
            "How long the oldest stored event the alarm pipeline has not applied yet has waited (0 when it is "
            "caught up); NaN when the database could not be read.",
            registry=self.registry,
        )
        self.pipeline_leader = Gauge(
            "homecare_pipeline_leader",
            "1 while this process runs the alarm pipeline (it holds the leader lock), 0 while it stands by.",
            registry=self.registry,
        )
        self.timers_due = Gauge(
            "homecare_escalation_timers_due",
            "Escalation timers (recovery, acknowledge, station accept) due and not yet fired; NaN when the "
            "database could not be read.",
            registry=self.registry,
        )
        self.notifications = Counter(
            "homecare_notification_attempts",
            "Notification delivery attempts, by channel (email, webhook, …) and result (delivered; retry: failed, "
            "tried again later; failed: given up).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.calls_in_progress = Gauge(
            "homecare_calls_in_progress", "Calls this backend carries (ringing or connected).", registry=self.registry
        )
        self.websocket_clients = Gauge(
            "homecare_websocket_clients",
            "WebSocket clients connected, by route (the incident feed, call signalling).",
            ["route"],
            registry=self.registry,
        )
        self.database_up = Gauge(
            "homecare_database_up",
            "1 when this scrape read the database's figures through the pool (within 2 s), else 0.",
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "homecare_db_pool_connections", "Connections the API's pool holds open.", registry=self.registry
        )
        self.pool_max = Gauge(
            "homecare_db_pool_max_connections", "The most connections the API's pool may open.", registry=self.registry
        )
        self.pool_in_use = Gauge(
            "homecare_db_pool_connections_in_use", "Pool connections lent out right now.", registry=self.registry
        )
        self.pool_waiting = Gauge(
            "homecare_db_pool_requests_waiting",
            "Requests waiting for a pool connection right now.",
            registry=self.registry,
        )

    def read_pool(self, pool: AsyncConnectionPool[Any]) -> None:
        """Set the pool gauges from psycopg-pool's measures."""
        stats = pool.get_stats()
        self.pool_size.set(stats["pool_size"])
        self.pool_max.set(stats["pool_max"])
        self.pool_in_use.set(stats["pool_size"] - stats["pool_available"])
        self.pool_waiting.set(stats["requests_waiting"])

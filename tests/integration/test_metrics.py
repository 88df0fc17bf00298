"""Prometheus scrapes a real gateway and a real backend over HTTP: the counters move by what the devices sent."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from homecare.backend.alarms.pipeline import PIPELINE_LOCKS
from homecare.gateway.service import Gateway
from homecare.storage.migrate import LOCK_NAMESPACE
from tests.support.backend import AUTH, TOKEN, start_backend
from tests.support.brokers import free_port
from tests.support.database import scalar
from tests.support.enrolment import GOLDEN_DEVICES, Household, gateway_settings
from tests.support.mqtt import TestClient, acks
from tests.support.waiting import eventually

METRICS_TOKEN = "metrics-token-0123456789-abcdef"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    """Every sample at a metrics URL, keyed by name and labels, as Prometheus reads them."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(url, headers=headers, timeout=10)
    answer.raise_for_status()
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert not any(uid in answer.text for uid in GOLDEN_DEVICES), "a device id is in the metrics"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def gateway_metrics(database_url: str, amqtt_url: str) -> Iterator[str]:
    """The URL of a running gateway's metrics port (HOMECARE_GATEWAY_METRICS_PORT)."""
    port = free_port()
    gateway = Gateway(gateway_settings(database_url, amqtt_url, gateway_metrics_port=port), database_url)
    gateway.start()
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        gateway.stop()


async def test_gateway_and_backend_count_what_devices_sent(
    golden_household: Household,
    gateway_metrics: str,
    amqtt_url: str,
    database_url: str,
) -> None:
    backend = await start_backend(database_url, metrics_token=METRICS_TOKEN)
    device, commands = TestClient(amqtt_url), TestClient(amqtt_url)
    commands.subscribe("homecare/v1/dev/+/cmd")
    try:
        backend_url = f"{backend.url}/metrics"
        gateway_before = await asyncio.to_thread(scrape, gateway_metrics)
        backend_before = await asyncio.to_thread(scrape, backend_url, METRICS_TOKEN)
        assert value(gateway_before, "homecare_gateway_broker_connected") == 1

        now_ms = int(time.time() * 1000)
        vitals = {"v": 1, "device_id": "wr-golden-01", "ts": now_ms, "heart_rate": 72, "spo2": 97, "skin_temp": 33.8}
        sos = {"v": 1, "device_id": "sos-golden-01", "seq": 7, "ts": now_ms, "kind": "sos"}
        device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps({**vitals, "seq": 101}))
        device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps({**vitals, "seq": 102}))
        device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(sos))
        device.publish("homecare/v1/dev/wr-golden-01/telemetry", b'{"v": 1, "device_id": "wr-golden-01", "seq"')
        await eventually(lambda: acks(commands) == [("sos-golden-01", 7, "stored")])
        await eventually(lambda: _stored(database_url))
        await eventually(lambda: _applied(database_url), timeout=20)

        gateway_after = await asyncio.to_thread(scrape, gateway_metrics)
        received, stored = "homecare_gateway_messages_received_total", "homecare_gateway_messages_stored_total"
        assert moved(gateway_before, gateway_after, received, channel="telemetry") == 3
        assert moved(gateway_before, gateway_after, received, channel="event") == 1
        assert moved(gateway_before, gateway_after, stored, channel="event") == 1
        assert moved(gateway_before, gateway_after, "homecare_gateway_points_stored_total") == 6
        assert moved(gateway_before, gateway_after, "homecare_gateway_dead_letters_total", cause="invalid") == 1
        assert moved(gateway_before, gateway_after, "homecare_gateway_acks_sent_total", status="stored") == 1
        # Each QoS-1 delivery is acknowledged to the broker after its commit (the gateway's own commands too).
        assert moved(gateway_before, gateway_after, "homecare_gateway_broker_acks_total") >= 4
        assert moved(gateway_before, gateway_after, "homecare_gateway_flush_seconds_count", writer="durable") >= 1
        assert moved(gateway_before, gateway_after, "homecare_gateway_flush_seconds_count", writer="telemetry") >= 1
        assert value(gateway_after, "homecare_gateway_broker_connected") == 1

        feed = f"{backend.ws_url}/api/incidents/feed"
        async with connect(f"{feed}?after=0", additional_headers=AUTH) as ws:
            await asyncio.wait_for(ws.recv(), 5)  # the SOS's incident
            backend_after = await asyncio.to_thread(scrape, backend_url, METRICS_TOKEN)
        processed = "homecare_pipeline_items_processed_total"
        assert moved(backend_before, backend_after, processed, source="event", result="applied") == 1
        assert moved(backend_before, backend_after, processed, source="event", result="failed") == 0
        assert value(backend_after, "homecare_websocket_clients", route="/api/incidents/feed") == 1
        lag = value(backend_after, "homecare_pipeline_lag_seconds")
        assert ("homecare_pipeline_lag_seconds", frozenset()) in backend_after
        assert math.isfinite(lag)
        assert lag == 0  # nothing waits
        assert value(backend_after, "homecare_database_up") == 1
        assert value(backend_after, "homecare_escalation_timers_due") >= 0
        assert value(backend_after, "homecare_calls_in_progress") == 0
        assert value(backend_after, "homecare_db_pool_max_connections") == 20
        assert 1 <= value(backend_after, "homecare_db_pool_connections") <= 20

        await eventually(lambda: _feed_clients(backend_url))  # the socket closed: counted out
    finally:
        device.close()
        commands.close()
        await backend.stop()


async def _feed_clients(url: str) -> bool:
    samples = await asyncio.to_thread(scrape, url, METRICS_TOKEN)
    return value(samples, "homecare_websocket_clients", route="/api/incidents/feed") == 0


async def _stored(database_url: str) -> bool:
    count = await scalar(database_url, "SELECT count(*) FROM telemetry")
    letters = await scalar(database_url, "SELECT count(*) FROM dead_letters")
    return bool(count == 6 and letters == 1)


async def _applied(database_url: str) -> bool:
    return bool(await scalar(database_url, "SELECT count(*) FROM pipeline_processed WHERE source = 'event'") == 1)


async def test_metrics_open_only_to_the_metrics_token(database_url: str) -> None:
    backend = await start_backend(database_url, metrics_token=METRICS_TOKEN)
    try:
        async with httpx.AsyncClient(base_url=backend.url) as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers=AUTH)).status_code == 401  # the administrator's token
            wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN[::-1]}"})
            assert wrong.status_code == 401
            assert wrong.headers["www-authenticate"] == "Bearer"
            right = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert right.status_code == 200
            assert "# HELP homecare_pipeline_lag_seconds" in right.text
            assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]
    finally:
        await backend.stop()
    unset = await start_backend(database_url)
    try:
        async with httpx.AsyncClient(base_url=unset.url) as client:
            assert (await client.get("/metrics", headers=AUTH)).status_code == 404
    finally:
        await unset.stop()


async def test_the_pipeline_lag_grows_while_an_event_waits_and_falls_to_zero_once_applied(
    golden_household: Household, gateway_metrics: str, amqtt_url: str, database_url: str
) -> None:
    backend = await start_backend(database_url, metrics_token=METRICS_TOKEN)
    url = f"{backend.url}/metrics"
    device = TestClient(amqtt_url)
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as holder:
            # Hold the lock the pipeline takes to apply events: as if its worker were stuck.
            await holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, PIPELINE_LOCKS["event"]))
            sos = {"v": 1, "device_id": "sos-golden-01", "seq": 8, "ts": int(time.time() * 1000), "kind": "sos"}
            device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(sos))

            async def waited_a_second() -> Samples | None:
                samples = await asyncio.to_thread(scrape, url, METRICS_TOKEN)
                return samples if value(samples, "homecare_pipeline_lag_seconds") >= 1 else None

            held = await eventually(waited_a_second, timeout=20)
            assert value(held, "homecare_pipeline_items_processed_total", source="event", result="applied") == 0
            await holder.rollback()  # the lock goes with the transaction

        async def applied() -> Samples | None:
            samples = await asyncio.to_thread(scrape, url, METRICS_TOKEN)
            done = value(samples, "homecare_pipeline_items_processed_total", source="event", result="applied") == 1
            return samples if done else None

        after = await eventually(applied, timeout=20)
        assert value(after, "homecare_pipeline_lag_seconds") == 0
    finally:
        device.close()
        await backend.stop()

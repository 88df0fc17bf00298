"""The gateway through a real broker into a real database: stored, refused, deduplicated, acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from homecare.contracts import generate
from homecare.contracts.messages import AckStatus, Measurement, Metric, Telemetry
from homecare.gateway.service import Gateway
from tests.support.database import scalar
from tests.support.enrolment import Household, enrol, gateway_settings
from tests.support.mqtt import TestClient, acks
from tests.support.waiting import eventually

EXAMPLES = Path(generate.HERE) / "examples"
GOLDEN_EPOCH_MS = 1795420800000


def rebased(payload: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """A golden payload moved to the present, keeping its timestamps' spacing (the gateway refuses stale telemetry)."""
    shifted = dict(payload)
    for key in ("ts", "t0"):
        if key in shifted:
            shifted[key] = shifted[key] - GOLDEN_EPOCH_MS - 300_000 + now_ms
    return shifted


def uplink_examples() -> list[dict[str, Any]]:
    paths = sorted((EXAMPLES / "valid").glob("*.json"), key=lambda p: (p.stem == "presence-offline-will", p.stem))
    examples = [json.loads(p.read_text()) for p in paths]
    return [e for e in examples if not e["topic"].endswith("/cmd")]


async def golden_schedule(database_url: str, household: Household) -> None:
    """The medication schedule the golden dose_taken names (a dose for another schedule is dead-lettered)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO medication_schedules (id, resident_id, medicine, dose, times, starts_on, created_by) "
            "VALUES (7, %s, 'Metformin', '500 mg', '{08:00}', '2026-11-24', 'test')",
            (household.resident_id,),
        )


async def test_every_golden_example_reaches_the_database(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    now_ms = int(time.time() * 1000)
    examples = uplink_examples()
    await golden_schedule(database_url, golden_household)
    for example in examples:
        device.publish(example["topic"], json.dumps(rebased(example["payload"], now_ms)))

    points = sum(
        len(Telemetry.model_validate(e["payload"]).points()) for e in examples if e["topic"].endswith("/telemetry")
    ) + sum(
        len(Measurement.model_validate(e["payload"]).points()) for e in examples if e["topic"].endswith("/measurement")
    )
    events = [e for e in examples if e["topic"].endswith("/event")]
    await eventually(lambda: _count(database_url, "telemetry", points))
    await eventually(lambda: _count(database_url, "events", len(events)))
    bursts = [e["payload"] for e in examples if e["topic"].endswith("/imu")]
    await eventually(lambda: _count(database_url, "imu_bursts", len(bursts)))
    await eventually(lambda: _count(database_url, "heartbeats", 1))

    wristband = golden_household.devices["wr-golden-01"]
    kinds = await _column(database_url, "SELECT kind FROM events ORDER BY kind")
    assert kinds == sorted(e["payload"]["kind"] for e in events)
    heart_rates = await _column(
        database_url, "SELECT value FROM telemetry WHERE metric = 1 AND device_id = %s ORDER BY ts", wristband
    )
    assert heart_rates == [72.0, 88.0]
    # The health checks: the cuff's reading, and glucose in mmol/L in its meal context's series (98 mg/dL is 5.4).
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        checks = await (
            await conn.execute(
                "SELECT d.uid, t.metric, t.value FROM telemetry t JOIN devices d ON d.id = t.device_id "
                "WHERE t.metric >= %s ORDER BY t.ts, t.metric",
                (int(Metric.BP_SYSTOLIC),),
            )
        ).fetchall()
    assert [(uid, Metric(metric), value) for uid, metric, value in checks] == [
        ("bp-golden-01", Metric.BP_SYSTOLIC, 138.0),
        ("bp-golden-01", Metric.BP_DIASTOLIC, 86.0),
        ("bp-golden-01", Metric.BP_PULSE, 71.0),
        ("gl-golden-01", Metric.GLUCOSE_FASTING, 5.4),
        ("gl-golden-01", Metric.GLUCOSE_AFTER_MEAL, 7.8),
    ]
    assert (
        await scalar(
            database_url, "SELECT count(*) FROM telemetry WHERE resident_id = %s", golden_household.resident_id
        )
        == points
    )

    for burst in bursts:  # the wristband's and the pendant's, each sample as sent
        acc = await scalar(
            database_url,
            "SELECT b.acc FROM imu_bursts b JOIN devices d ON d.id = b.device_id WHERE d.uid = %s AND b.seq = %s",
            burst["device_id"],
            burst["seq"],
        )
        assert np.frombuffer(acc, dtype="<i2").reshape(-1, 3).tolist() == burst["acc"]

    # Presence: online, then the last will (published last): the state ends offline.
    # Heartbeat: the battery level is on the device's state.
    await eventually(
        lambda: scalar(
            database_url, "SELECT online IS FALSE AND battery = 64 FROM device_state WHERE device_id = %s", wristband
        )
    )
    dose = await scalar(
        database_url,
        "SELECT schedule_id || ' ' || (extract(epoch FROM dose_due) * 1000)::bigint FROM events "
        "WHERE kind = 'dose_taken'",
    )
    assert dose == f"7 {GOLDEN_EPOCH_MS}"
    assert await scalar(database_url, "SELECT count(*) FROM dead_letters") == 0


async def _count(database_url: str, table: str, expected: int) -> bool:
    count = await scalar(database_url, f"SELECT count(*) FROM {table}")
    assert count <= expected, f"{table}: {count} rows, expected {expected}"
    return bool(count == expected)


async def _column(database_url: str, query: str, *params: object) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return [row[0] for row in await (await conn.execute(query, params)).fetchall()]


async def test_invalid_messages_are_dead_lettered_with_their_reason(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    examples = {p.stem: json.loads(p.read_text()) for p in sorted((EXAMPLES / "invalid").glob("*.json"))}
    for example in examples.values():
        raw = example.get("payload_text") or json.dumps(example["payload"])
        device.publish(example["topic"], raw)
    await eventually(lambda: _count(database_url, "dead_letters", len(examples)))

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT topic, reason, payload FROM dead_letters")).fetchall()
    stored = {(topic, bytes(payload)): reason for topic, reason, payload in rows}
    for name, example in examples.items():
        raw = (example.get("payload_text") or json.dumps(example["payload"])).encode()
        assert example["reason"] in stored[(example["topic"], raw)], name
    assert await scalar(database_url, "SELECT count(*) FROM telemetry") == 0
    assert await scalar(database_url, "SELECT count(*) FROM events") == 0


async def test_a_device_that_is_not_enrolled_is_refused(
    gateway: Gateway, device: TestClient, database_url: str
) -> None:
    payload = {"v": 1, "device_id": "stranger-01", "seq": 1, "ts": int(time.time() * 1000), "kind": "sos"}
    device.publish("homecare/v1/dev/stranger-01/event", json.dumps(payload))
    await eventually(lambda: _count(database_url, "dead_letters", 1))
    assert "not enrolled" in await scalar(database_url, "SELECT reason FROM dead_letters")
    assert await scalar(database_url, "SELECT count(*) FROM events") == 0


async def test_a_device_enrolled_a_moment_ago_is_heard_from_its_first_alarm(
    gateway: Gateway, device: TestClient, database_url: str
) -> None:
    # The pendant publishes as soon as it is enrolled, before the gateway's change notification has reloaded
    # its list of devices: the alarm is stored, not refused as coming from a stranger.
    await enrol(database_url, {"sos-new-01": "sos_pendant"})
    payload = {"v": 1, "device_id": "sos-new-01", "seq": 1, "ts": int(time.time() * 1000), "kind": "sos"}
    device.publish("homecare/v1/dev/sos-new-01/event", json.dumps(payload))
    await eventually(lambda: _count(database_url, "events", 1))
    assert await scalar(database_url, "SELECT count(*) FROM dead_letters") == 0


async def test_a_device_publishing_under_another_id_is_refused(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    # The pendant (enrolled) writes on the wristband's topic, claiming to be the pendant.
    payload = {"v": 1, "device_id": "sos-golden-01", "seq": 5, "ts": int(time.time() * 1000), "kind": "sos"}
    device.publish("homecare/v1/dev/wr-golden-01/event", json.dumps(payload))
    await eventually(lambda: _count(database_url, "dead_letters", 1))
    reason = await scalar(database_url, "SELECT reason FROM dead_letters")
    assert reason.startswith("impersonation:")
    assert await scalar(database_url, "SELECT count(*) FROM events") == 0


async def test_duplicate_telemetry_is_dropped(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    message = {
        "v": 1,
        "device_id": "wr-golden-01",
        "seq": 40,
        "ts": int(time.time() * 1000),
        "heart_rate": 70,
        "spo2": 98,
        "skin_temp": 33.0,
    }
    for _ in range(3):
        device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(message))
    following = {**message, "seq": 41, "heart_rate": 71}
    device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(following))
    await eventually(lambda: _count(database_url, "telemetry", 6))
    assert await _column(database_url, "SELECT value FROM telemetry WHERE metric = 1 ORDER BY seq") == [70.0, 71.0]


async def test_a_resend_after_a_gateway_restart_is_still_a_duplicate(
    golden_household: Household, database_url: str, broker_url: str, device: TestClient
) -> None:
    """The in-memory window is gone after a restart; the database's unique index still drops the copy."""
    message = {"v": 1, "device_id": "wr-golden-01", "seq": 77, "ts": int(time.time() * 1000), "heart_rate": 66}
    for round_ in range(2):
        gateway = Gateway(gateway_settings(database_url, broker_url), database_url)
        gateway.start()
        try:
            device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(message))
            fresh = {**message, "seq": 100 + round_, "heart_rate": 60 + round_}
            device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(fresh))
            await eventually(lambda r=round_: _count(database_url, "telemetry", 2 + r))
        finally:
            gateway.stop()
    assert await _column(database_url, "SELECT seq FROM telemetry ORDER BY seq") == [77, 100, 101]


async def test_a_repeated_alarm_is_stored_once_and_acknowledged_each_time(
    golden_household: Household, gateway: Gateway, device: TestClient, commands: TestClient, database_url: str
) -> None:
    sos = {"v": 1, "device_id": "sos-golden-01", "seq": 9, "ts": int(time.time() * 1000), "kind": "sos"}
    device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(sos))
    await eventually(lambda: len(acks(commands)) == 1)
    device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(sos))
    await eventually(lambda: len(acks(commands)) == 2)
    assert acks(commands) == [("sos-golden-01", 9, AckStatus.STORED), ("sos-golden-01", 9, AckStatus.DUPLICATE)]
    assert await scalar(database_url, "SELECT count(*) FROM events") == 1


async def test_an_alarm_is_acknowledged_only_once_it_is_stored(
    golden_household: Household, gateway: Gateway, device: TestClient, commands: TestClient, database_url: str
) -> None:
    """While the database cannot take the alarm the device hears nothing; once it can, the ack follows
    the commit, and at the moment the ack arrives the alarm is already readable by everyone."""
    visible_when_acked: list[bool] = []
    watcher_dsn = database_url

    def check_stored(message: Any) -> None:
        with psycopg.connect(watcher_dsn) as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE seq = 21").fetchone()
            visible_when_acked.append(bool(row and row[0] == 1))

    watcher = TestClient(gateway.settings.mqtt_url, on_message=check_stored)
    watcher.subscribe("homecare/v1/dev/sos-golden-01/cmd")
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as blocker:
            await blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            sos = {"v": 1, "device_id": "sos-golden-01", "seq": 21, "ts": int(time.time() * 1000), "kind": "sos"}
            device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(sos))
            await asyncio.sleep(1.0)
            assert acks(commands) == [], "acknowledged before the alarm could be stored"
            await blocker.rollback()  # releases the lock
        await eventually(lambda: len(acks(commands)) == 1)
        await eventually(lambda: len(visible_when_acked) == 1)
        assert visible_when_acked == [True]
        assert acks(commands) == [("sos-golden-01", 21, AckStatus.STORED)]
    finally:
        watcher.close()


async def test_an_invalid_alarm_is_refused_so_the_device_stops_resending(
    golden_household: Household, gateway: Gateway, device: TestClient, commands: TestClient, database_url: str
) -> None:
    bad = {"v": 1, "device_id": "sos-golden-01", "seq": 30, "ts": int(time.time() * 1000), "kind": "earthquake"}
    device.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(bad))
    await eventually(lambda: len(acks(commands)) == 1)
    assert acks(commands) == [("sos-golden-01", 30, AckStatus.REJECTED)]
    assert "kind" in await scalar(database_url, "SELECT reason FROM dead_letters")


async def test_telemetry_from_a_clock_far_in_the_future_is_refused(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    future = {
        "v": 1,
        "device_id": "wr-golden-01",
        "seq": 3,
        "ts": int(time.time() * 1000) + 3_600_000,
        "heart_rate": 70,
    }
    device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(future))
    await eventually(lambda: _count(database_url, "dead_letters", 1))
    assert (await scalar(database_url, "SELECT reason FROM dead_letters")).startswith("clock: device time is +3600 s")
    # A device enrolled while the gateway runs is accepted without a restart.
    await enrol(database_url, {"wr-new-01": "wristband"}, name="Li Guilan")
    fresh = {"v": 1, "device_id": "wr-new-01", "seq": 1, "ts": int(time.time() * 1000), "heart_rate": 80}
    await eventually(lambda: gateway.registry.get("wr-new-01") is not None)
    device.publish("homecare/v1/dev/wr-new-01/telemetry", json.dumps(fresh))
    await eventually(lambda: _count(database_url, "telemetry", 1))


async def test_two_gateways_share_the_load_on_a_shared_subscription(
    golden_household: Household, database_url: str, mosquitto_url: str
) -> None:
    gateways = [
        Gateway(gateway_settings(database_url, mosquitto_url, mqtt_share_group="homecare-gateways"), database_url)
        for _ in range(2)
    ]
    for gateway in gateways:
        gateway.start()
    device = TestClient(mosquitto_url)
    try:
        now = int(time.time() * 1000)
        for seq in range(1, 201):
            message = {"v": 1, "device_id": "wr-golden-01", "seq": seq, "ts": now + seq, "heart_rate": 60 + seq % 40}
            device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(message), qos=1)
        await eventually(lambda: _count(database_url, "telemetry", 200))
    finally:
        device.close()
        for gateway in gateways:
            gateway.stop()
    shares = [
        gateway.metrics.registry.get_sample_value("homecare_gateway_messages_received_total", {"channel": "telemetry"})
        for gateway in gateways
    ]
    assert sum(shares) == 200
    assert min(shares) > 0, f"one gateway did all the work: {shares}"


async def test_telemetry_and_alarm_gateways_split_the_work(
    golden_household: Household, database_url: str, broker_url: str, commands: TestClient
) -> None:
    gateways = {
        channels: Gateway(gateway_settings(database_url, broker_url, gateway_channels=channels), database_url)
        for channels in ("telemetry", "alarms")
    }
    for gateway in gateways.values():
        gateway.start()
    device = TestClient(broker_url)
    await golden_schedule(database_url, golden_household)
    try:
        now_ms = int(time.time() * 1000)
        for example in uplink_examples():
            device.publish(example["topic"], json.dumps(rebased(example["payload"], now_ms)))
        events = [e for e in uplink_examples() if e["topic"].endswith("/event")]
        await eventually(lambda: _count(database_url, "events", len(events)))
        await eventually(lambda: _count(database_url, "telemetry", 17))  # 12 from wearables, 5 from health checks
        await eventually(lambda: len(acks(commands)) == len(events))
    finally:
        device.close()
        for gateway in gateways.values():
            gateway.stop()

    def received(channels: str, channel: str) -> float:
        value = gateways[channels].metrics.registry.get_sample_value(
            "homecare_gateway_messages_received_total", {"channel": channel}
        )
        return value or 0.0

    assert received("telemetry", "telemetry") == 2
    assert received("telemetry", "event") == 0
    assert received("alarms", "event") == len(events)
    assert received("alarms", "telemetry") == 0
    assert (received("alarms", "measurement"), received("telemetry", "measurement")) == (3, 0)  # a crisis is urgent

"""The gateway against hostile input: alarms with unusable details are stored, unknown topics are dead-lettered
once with the gateways split, no secret reaches a log line, and two gateways never deadlock each other."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from homecare.contracts.messages import AckStatus
from homecare.gateway.metrics import GatewayMetrics
from homecare.gateway.service import Gateway
from homecare.gateway.settings import GatewaySettings
from homecare.gateway.telemetry_writer import TelemetryWriter
from homecare.storage.settings import redacted
from tests.support.database import scalar
from tests.support.enrolment import Household, enrol, gateway_settings
from tests.support.mqtt import TestClient, acks
from tests.support.waiting import eventually

PENDANT = "homecare/v1/dev/sos-golden-01/event"


def sos(seq: int, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "device_id": "sos-golden-01", "seq": seq, "ts": int(time.time() * 1000), "kind": "sos", **extra}


async def test_an_alarm_with_unusable_details_is_stored_without_them(
    golden_household: Household, gateway: Gateway, device: TestClient, commands: TestClient, database_url: str
) -> None:
    """NUL (which PostgreSQL refuses), a lone surrogate, over-long text, an unknown field: the alarm is stored
    and acknowledged `stored`, the ack and the event say what was left out; nothing is dead-lettered."""
    device.publish(PENDANT, json.dumps(sos(1, room="bed\u0000room")))
    device.publish(PENDANT, json.dumps(sos(2, room="bed\ud800room")))
    device.publish(PENDANT, json.dumps(sos(3, room="x" * 41, confidence=0.5)))
    device.publish(PENDANT, json.dumps(sos(4, colour="red", room="kitchen")))
    await eventually(lambda: len(acks(commands)) == 4)

    assert sorted(acks(commands)) == [("sos-golden-01", seq, AckStatus.STORED) for seq in (1, 2, 3, 4)]
    reasons = {}
    for message in commands.received:
        body = json.loads(message.payload)["body"]
        reasons[body["ack_seq"]] = body.get("reason")
    assert "room" in reasons[1]
    assert "NUL" in reasons[1]
    assert "room" in reasons[2]
    assert "surrogate" in reasons[2]
    assert "room" in reasons[3]
    assert "colour" in reasons[4]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (
            await conn.execute("SELECT seq, kind, room, confidence, dropped FROM events ORDER BY seq")
        ).fetchall()
    assert [(seq, kind, room, confidence, sorted(dropped)) for seq, kind, room, confidence, dropped in rows] == [
        (1, "sos", None, None, ["room"]),
        (2, "sos", None, None, ["room"]),
        (3, "sos", None, 0.5, ["room"]),
        (4, "sos", "kitchen", None, ["colour"]),
    ]
    assert await scalar(database_url, "SELECT count(*) FROM dead_letters") == 0


async def test_other_messages_with_unusable_text_are_dead_lettered_on_their_topic(
    golden_household: Household, gateway: Gateway, device: TestClient, commands: TestClient, database_url: str
) -> None:
    """Not an alarm: refused whole, with a reason naming the field, on the topic it came on."""
    now = int(time.time() * 1000)
    door = {"v": 1, "device_id": "door-golden-01", "seq": 7, "ts": now, "kind": "door_open", "room": "hall\u0000"}
    beat = {
        "v": 1,
        "device_id": "wr-golden-01",
        "seq": 8,
        "ts": now,
        "battery": 50,
        "firmware": "1.0\u0000",
        "uptime_s": 5,
        "heartbeat_interval_s": 300,
    }
    device.publish("homecare/v1/dev/door-golden-01/event", json.dumps(door))
    device.publish("homecare/v1/dev/wr-golden-01/status", json.dumps(beat))
    await eventually(lambda: scalar(database_url, "SELECT count(*) = 2 FROM dead_letters"))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT topic, reason FROM dead_letters ORDER BY topic")).fetchall()
    assert rows[0][0] == "homecare/v1/dev/door-golden-01/event"
    assert "room" in rows[0][1]
    assert "NUL" in rows[0][1]
    assert rows[1][0] == "homecare/v1/dev/wr-golden-01/status"
    assert "firmware" in rows[1][1]
    await eventually(lambda: acks(commands) == [("door-golden-01", 7, AckStatus.REJECTED)])


async def test_a_message_the_database_refuses_is_dead_lettered_on_its_real_topic(
    golden_household: Household, gateway: Gateway, device: TestClient, database_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE heartbeats ADD CONSTRAINT no_beta CHECK (firmware <> 'beta')")
    beat = {
        "v": 1,
        "device_id": "wr-golden-01",
        "seq": 9,
        "ts": int(time.time() * 1000),
        "battery": 50,
        "firmware": "beta",
        "uptime_s": 5,
        "heartbeat_interval_s": 300,
    }
    raw = json.dumps(beat)
    device.publish("homecare/v1/dev/wr-golden-01/status", raw)
    await eventually(lambda: scalar(database_url, "SELECT count(*) = 1 FROM dead_letters"))
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        topic, reason, payload = await (
            await conn.execute("SELECT topic, reason, payload FROM dead_letters")
        ).fetchone() or (None, None, None)
    assert topic == "homecare/v1/dev/wr-golden-01/status"
    assert "no_beta" in reason
    assert bytes(payload) == raw.encode()


async def test_split_gateways_dead_letter_an_unknown_topic_exactly_once(
    golden_household: Household, database_url: str, broker_url: str, commands: TestClient
) -> None:
    gateways = [
        Gateway(gateway_settings(database_url, broker_url, gateway_channels=channels), database_url)
        for channels in ("telemetry", "alarms")
    ]
    await _publish_strays_through(gateways, broker_url, database_url, commands)


@pytest.mark.parametrize("broker_url", ["mosquitto"], indirect=True)
async def test_shared_split_gateways_dead_letter_an_unknown_topic_exactly_once(
    golden_household: Household, database_url: str, broker_url: str, commands: TestClient
) -> None:
    gateways = [
        Gateway(
            gateway_settings(database_url, broker_url, gateway_channels=channels, mqtt_share_group="homecare-gateways"),
            database_url,
        )
        for channels in ("telemetry", "telemetry", "alarms", "alarms")
    ]
    await _publish_strays_through(gateways, broker_url, database_url, commands)


async def _publish_strays_through(
    gateways: list[Gateway], broker_url: str, database_url: str, commands: TestClient
) -> None:
    for gateway in gateways:
        gateway.start()
    device = TestClient(broker_url)
    try:
        now = int(time.time() * 1000)
        telemetry = {"v": 1, "device_id": "wr-golden-01", "seq": 1, "ts": now, "heart_rate": 70}
        strays = [
            "homecare/v1/dev/wr-golden-01/firmware",  # an unknown channel
            "homecare/v1/dev/wr-golden-01/extra/event",  # too deep for the alarm gateways' filters
            "homecare/v1/dev/WR_BAD/event",  # an alarm channel, a device id that cannot be
            "homecare/v1/dev//status",  # an empty device level
        ]
        for topic in strays:
            device.publish(topic, json.dumps(telemetry))
        device.publish("homecare/v1/dev/wr-golden-01/telemetry", json.dumps(telemetry))
        device.publish(PENDANT, json.dumps(sos(2)))
        await eventually(lambda: scalar(database_url, "SELECT count(*) = 1 FROM events"))
        await eventually(lambda: scalar(database_url, "SELECT count(*) = 1 FROM telemetry"))
        await eventually(lambda: scalar(database_url, f"SELECT count(*) >= {len(strays)} FROM dead_letters"))
        await eventually(lambda: len(acks(commands)) == 1)
        await asyncio.sleep(0.5)  # a second copy would have arrived by now
    finally:
        device.close()
        for gateway in gateways:
            gateway.stop()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        topics = [row[0] for row in await (await conn.execute("SELECT topic FROM dead_letters")).fetchall()]
    assert sorted(topics) == sorted(strays)
    assert acks(commands) == [("sos-golden-01", 2, AckStatus.STORED)]


async def test_no_secret_reaches_a_log_line(
    golden_household: Household, database_url: str, mosquitto_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "pw-0f3c9a7d1e"
    url = mosquitto_url.replace("mqtt://", f"mqtt://homecare-gateway:{secret}@")
    caplog.set_level(logging.DEBUG)
    gateway = Gateway(gateway_settings(database_url, url), database_url)
    gateway.start()
    gateway.stop()
    assert "connected to mqtt://homecare-gateway:***@" in caplog.text
    assert secret not in caplog.text

    with pytest.raises(ValidationError) as refused:
        GatewaySettings(_env_file=None, mqtt_url=f"ftp://gw:{secret}@broker")  # type: ignore[call-arg]
    assert secret not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(_env_file=None, database_url=f"postgresql://u:{secret}@h/db?x")  # type: ignore[call-arg]
    assert secret not in str(refused.value)
    assert secret not in redacted(f"host=h password={secret} dbname=x")
    assert secret not in redacted(f"postgresql://u@h/db?password={secret}")


async def test_two_gateways_writing_last_seen_times_at_once_never_deadlock(database_url: str) -> None:
    household = await enrol(database_url, {f"wr-seen-{n:04d}": "wristband" for n in range(400)})
    ids = sorted(household.devices.values())
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def flush_repeatedly(order: list[int]) -> None:
        writer = TelemetryWriter(
            database_url,
            GatewayMetrics(),
            lambda deliveries: None,
            lambda *reply: None,
            lambda conn: None,
            batch_rows=1000,
            flush_ms=50,
            max_buffered_rows=10_000,
        )
        with psycopg.connect(database_url) as conn:
            start.wait()
            for _ in range(20):
                for device_id in order:
                    writer.seen(device_id, datetime.now(UTC))
                try:
                    writer.flush_last_seen(conn)
                except psycopg.Error as err:
                    failures.append(err)

    threads = [threading.Thread(target=flush_repeatedly, args=(order,)) for order in (ids, list(reversed(ids)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert await scalar(database_url, "SELECT count(*) FROM device_state WHERE last_seen_at IS NOT NULL") == len(ids)

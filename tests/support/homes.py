"""A resident's devices in a test: an alarm raised as firmware raises it, and the home unit with its voice."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg

from homecare.contracts.calltoken import load_public_key
from homecare.contracts.messages import DeviceKind
from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.netloop import PahoBridge
from homecare.sim.voice import HomeUnitVoice, speech_wav
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import World


def device_of(world: World, resident: int, kind: DeviceKind) -> tuple[str, str]:
    """The uid and secret of one of the resident's devices (resident: index in the world)."""
    device = next(d for d in world.enrolment.residents[resident].devices if d.kind is kind)
    return device.uid, device.secret


async def device_alarm(
    database_url: str,
    broker_url: str,
    world: World,
    *,
    resident: int = 0,
    kind: DeviceKind = DeviceKind.FALL_SENSOR,
    event: str = "fall_detected",
    **fields: object,
) -> int:
    """The device publishes the event as firmware does (its own client id and secret, QoS 1); returns the id of the
    incident the pipeline opens for the resident."""
    uid, secret = device_of(world, resident, kind)
    sensor = TestClient(broker_url, client_id=uid, password=secret)
    payload = {"v": 1, "device_id": uid, "seq": 1, "ts": int(time.time() * 1000), "kind": event, **fields}
    sensor.publish(f"homecare/v1/dev/{uid}/event", json.dumps(payload))

    async def opened() -> int | None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            row = await (
                await conn.execute(
                    "SELECT max(id) FROM incidents WHERE resident_id = %s AND closed_at IS NULL",
                    (world.resident_ids[resident],),
                )
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    try:
        return await eventually(opened, timeout=20)
    finally:
        sensor.close()


@contextlib.asynccontextmanager
async def home_unit(
    world: World, api_url: str, broker_url: str, bridge: PahoBridge, work: Path, *, resident: int = 0, **voice: object
) -> AsyncIterator[tuple[SimDevice, HomeUnitVoice]]:
    """The resident's home unit online with its voice, holding the platform's public key as provisioned."""
    uid, secret = device_of(world, resident, DeviceKind.HOME_UNIT)
    async with httpx.AsyncClient(base_url=api_url) as client:
        key = (await client.get("/api/calls/signing-key")).json()["public_key"]
    device = SimDevice(
        uid, broker=parse_mqtt_url(broker_url), clock=SimClock(), bridge=bridge, firmware="hu-1", secret=secret
    )
    unit = HomeUnitVoice(uid, public_key=load_public_key(key), speech=speech_wav(work / "help.wav"), **voice)  # type: ignore[arg-type]
    unit.attach(device)
    device.go_online()
    await eventually(lambda: device.connected)
    try:
        yield device, unit
    finally:
        await unit.close()
        device.close()

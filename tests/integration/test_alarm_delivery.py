"""An alarm from a simulated device survives the gateway being down or restarting: the device resends it
until the platform acknowledges it, and it is stored exactly once."""

from __future__ import annotations

import asyncio

import psycopg

from homecare.contracts.messages import EventKind
from homecare.gateway.service import Gateway
from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.netloop import PahoBridge
from tests.support.enrolment import enrol, gateway_settings
from tests.support.waiting import eventually


async def _keep_resending(device: SimDevice) -> None:
    while True:
        device.maintain()
        await asyncio.sleep(0.1)


async def _stored_sos(database_url: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT seq FROM events WHERE kind = 'sos' ORDER BY seq")).fetchall()
    return [int(row[0]) for row in rows]


async def test_an_alarm_is_resent_until_acknowledged_across_a_gateway_restart(
    database_url: str, broker_url: str, bridge: PahoBridge
) -> None:
    await enrol(database_url, {"r0001-sos": "sos_pendant"}, secrets={"r0001-sos": "r0001-sos-secret"})
    settings = gateway_settings(database_url, broker_url)  # one client id: the gateway's session persists
    device = SimDevice(
        "r0001-sos",
        broker=parse_mqtt_url(broker_url),
        clock=SimClock(),
        bridge=bridge,
        firmware="sos-1.0",
        secret="r0001-sos-secret",
        resend_after_s=0.3,
        backoff_s=(0.1, 0.5),
    )
    device.go_online()
    await eventually(lambda: device.connected)
    resending = asyncio.create_task(_keep_resending(device))
    try:
        # 1. No gateway yet: the pendant's alarm is not acknowledged, so it stays in its outbox.
        first = device.publish_event(device._clock.now(), EventKind.SOS)
        await asyncio.sleep(1.0)
        assert first in device.outbox
        assert await _stored_sos(database_url) == []

        # 2. The gateway comes up: the resent alarm is stored once and acknowledged; the outbox empties.
        gateway = Gateway(settings, database_url)
        gateway.start()
        await eventually(lambda: first not in device.outbox)
        assert await _stored_sos(database_url) == [first]

        # 3. The gateway goes away again just as the next alarm is raised, and a new process takes over.
        gateway.stop()
        second = device.publish_event(device._clock.now(), EventKind.SOS)
        await asyncio.sleep(1.0)
        assert second in device.outbox
        gateway = Gateway(settings, database_url)
        gateway.start()
        await eventually(lambda: second not in device.outbox)
        await asyncio.sleep(0.5)  # any late resend arrives now, and must not be stored twice
        gateway.stop()
        assert await _stored_sos(database_url) == [first, second]
        assert device.stats.resent >= 2
    finally:
        resending.cancel()
        device.close()

"""Both brokers with the production accounts and ACL: the embedded amqtt broker of `make run` and Mosquitto started
from deploy/mosquitto. A device signs in with its own secret, publishes only under its own id, reads only its own
commands, and cannot take over another client's session; a replaced gateway gets what was queued for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from homecare.backend.enrolment.mosquitto_passwords import PasswordFile
from homecare.contracts.codec import decode_command, encode
from homecare.contracts.messages import Ack, AckStatus, Command
from homecare.gateway.service import Gateway
from homecare.storage.device_secrets import hash_secret
from tests.support.brokers import SERVICE_USER, amqtt_broker, production_mosquitto
from tests.support.enrolment import GOLDEN_DEVICES, Household, enrol, gateway_settings
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

SECRETS = {uid: f"{uid}-secret-0123456789" for uid in GOLDEN_DEVICES}
REFUSED = "refused: the broker lets a device publish only under its own id, and never on its own cmd topic"


@dataclass
class Secured:
    """A broker with production accounts: devices connect to `devices_url`, the gateways to `services_url`."""

    name: str
    devices_url: str
    services_url: str
    household: Household
    revoke: Callable[[str], None]  # as the platform revokes a device on this broker


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


@pytest.fixture(params=["amqtt", "mosquitto"])
async def secured(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> AsyncIterator[Secured]:
    household = await enrol(database_url, GOLDEN_DEVICES)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for uid, secret in SECRETS.items():
            await conn.execute("UPDATE devices SET secret_hash = %s WHERE uid = %s", (hash_secret(secret), uid))
    if request.param == "amqtt":

        def revoke_in_database(uid: str) -> None:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("UPDATE devices SET revoked_at = now(), secret_hash = NULL WHERE uid = %s", (uid,))

        with amqtt_broker(database_url) as url:
            yield Secured("amqtt", _without_credentials(url), url, household, revoke_in_database)
    else:
        with production_mosquitto(tmp_path, SECRETS) as broker:
            passwords = PasswordFile(broker.passwd_file, broker.pid_file)
            await eventually(broker.pid_file.exists)
            yield Secured(
                "mosquitto",
                broker.devices_url,
                broker.services_url,
                household,
                lambda uid: passwords.apply({uid: None}),
            )


def _device(secured: Secured, uid: str, client_id: str | None = None) -> TestClient:
    return TestClient(secured.devices_url, client_id=client_id or uid, username=uid, password=SECRETS[uid])


def _sos(uid: str, seq: int) -> bytes:
    return json.dumps({"v": 1, "device_id": uid, "seq": seq, "ts": int(time.time() * 1000), "kind": "sos"}).encode()


async def _stored(database_url: str) -> list[tuple[int, int]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT device_id, seq FROM events ORDER BY device_id, seq")).fetchall()
        return [(int(a), int(b)) for a, b in rows]


async def test_a_device_cannot_publish_on_another_devices_topic(secured: Secured, database_url: str) -> None:
    gateway = Gateway(gateway_settings(database_url, secured.services_url), database_url)
    gateway.start()
    pendant = _device(secured, "sos-golden-01")
    try:
        # Pretending to be the wristband, on the wristband's topic: the broker drops it.
        pendant.publish("homecare/v1/dev/wr-golden-01/event", _sos("wr-golden-01", 1))
        # Its own alarm on its own topic goes through.
        pendant.publish("homecare/v1/dev/sos-golden-01/event", _sos("sos-golden-01", 2))
        stored = await eventually(lambda: _stored(database_url))
        await asyncio.sleep(0.5)  # the forged message, had it passed, would have arrived before the genuine one
        assert await _stored(database_url) == [(secured.household.devices["sos-golden-01"], 2)] == stored
    finally:
        pendant.close()
        gateway.stop()


async def _dead_letters(database_url: str) -> list[tuple[str, str | None, str]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (await conn.execute("SELECT topic, device_uid, reason FROM dead_letters ORDER BY id")).fetchall()
        return [(str(topic), uid, str(reason)) for topic, uid, reason in rows]


async def test_what_a_device_sends_under_its_own_id_reaches_a_gateway_and_the_rest_is_recorded(
    secured: Secured, database_url: str
) -> None:
    """A channel or contract version the platform does not serve is dead-lettered once (the gateways split as
    `make run` runs them), naming it; a publish on the device's own command topic or another device's topic is
    refused, never delivered, and recorded where the operator looks."""
    gateways = [
        Gateway(gateway_settings(database_url, secured.services_url, gateway_channels=channels), database_url)
        for channels in ("telemetry", "alarms")
    ]
    for gateway in gateways:
        gateway.start()
    pendant = _device(secured, "sos-golden-01")
    pendant.subscribe("homecare/v1/dev/sos-golden-01/cmd")
    forged_ack = encode(Command(cmd_id=1, ts=int(time.time() * 1000), body=Ack(ack_seq=7, status=AckStatus.STORED)))
    try:
        pendant.publish("homecare/v1/dev/sos-golden-01/firmware", b'{"v": 1, "image": "abc"}')
        pendant.publish("homecare/v2/dev/sos-golden-01/event", _sos("sos-golden-01", 1))
        pendant.publish("homecare/v1/dev/sos-golden-01/cmd", forged_ack)  # would tell itself seq 7 was stored
        pendant.publish("homecare/v1/dev/wr-golden-01/event", _sos("wr-golden-01", 2))
        pendant.publish("homecare/v1/dev/sos-golden-01/event", _sos("sos-golden-01", 3))
        await eventually(lambda: pendant.received)  # the acknowledgement of seq 3, sent after all the others
        # Mosquitto 2.0 logs a refused publish only at log_type debug (deploy/README.md): nothing to record there.
        recorded = 2 if secured.name == "mosquitto" else 4

        async def all_recorded() -> bool:
            return len(await _dead_letters(database_url)) >= recorded

        await eventually(all_recorded)
        await asyncio.sleep(1.0)  # a second copy, or the forged command coming back, would have arrived by now
        letters = await _dead_letters(database_url)
    finally:
        pendant.close()
        for gateway in gateways:
            gateway.stop()
    assert [decode_command(message.payload).body for message in pendant.received] == [
        Ack(ack_seq=3, status=AckStatus.STORED)
    ]
    assert await _stored(database_url) == [(secured.household.devices["sos-golden-01"], 3)]
    refusals = [
        ("homecare/v1/dev/sos-golden-01/cmd", "sos-golden-01", REFUSED),
        ("homecare/v1/dev/wr-golden-01/event", "sos-golden-01", REFUSED),
    ]
    assert sorted(letters) == sorted(
        [
            ("homecare/v1/dev/sos-golden-01/firmware", None, "topic: unknown channel 'firmware'"),
            (
                "homecare/v2/dev/sos-golden-01/event",
                None,
                "topic: unknown contract version 'v2' (this platform serves v1)",
            ),
            *(refusals if secured.name == "amqtt" else []),
        ]
    )


async def test_a_device_reads_only_its_own_commands(secured: Secured) -> None:
    platform = TestClient(secured.services_url)
    pendant = _device(secured, "sos-golden-01")
    try:
        for topic_filter in ("homecare/v1/dev/wr-golden-01/cmd", "homecare/v1/dev/+/cmd", "#"):
            pendant.subscribe(topic_filter)  # refused by the broker (a failure in the SUBACK)
        pendant.subscribe("homecare/v1/dev/sos-golden-01/cmd")
        platform.publish("homecare/v1/dev/wr-golden-01/cmd", b'{"call token": "for the wristband only"}')
        platform.publish("homecare/v1/dev/sos-golden-01/cmd", b"{}")
        await eventually(lambda: pendant.received)
        await asyncio.sleep(0.5)
        assert [message.topic for message in pendant.received] == ["homecare/v1/dev/sos-golden-01/cmd"]
    finally:
        pendant.close()
        platform.close()


def _refused(url: str, **credentials: str | None) -> bool:
    try:
        TestClient(url, **credentials).close()  # type: ignore[arg-type]
    except ConnectionRefusedError:
        return True
    return False


async def test_only_enrolled_devices_with_their_secret_and_the_platform_connect(secured: Secured) -> None:
    devices, services = secured.devices_url, secured.services_url
    assert not _refused(devices, client_id="wr-golden-01", username="wr-golden-01", password=SECRETS["wr-golden-01"])
    assert not _refused(services)
    assert _refused(devices, client_id="attacker", username="attacker", password="")  # the embedded broker let it in
    assert _refused(devices, client_id="nobody-01", username="nobody-01", password="guess")
    assert _refused(devices, client_id="wr-golden-01", username="wr-golden-01", password="wrong")
    assert _refused(services, client_id="gw", username=SERVICE_USER, password=SECRETS["wr-golden-01"])
    if secured.name == "mosquitto":  # the services' listener knows no device
        assert _refused(
            _without_credentials(services),
            client_id="wr-golden-01",
            username="wr-golden-01",
            password=SECRETS["wr-golden-01"],
        )
    secured.revoke("wr-golden-01")
    assert await eventually(
        lambda: asyncio.to_thread(
            _refused, devices, client_id="wr-golden-01", username="wr-golden-01", password=SECRETS["wr-golden-01"]
        )
    )


async def test_no_device_takes_over_another_clients_session(secured: Secured) -> None:
    gateway = TestClient(secured.services_url, client_id="homecare-alarm-gateway-0")
    wristband = _device(secured, "wr-golden-01")
    wristband.subscribe("homecare/v1/dev/wr-golden-01/cmd")
    intruders = []
    try:
        # The pendant holds its own valid secret and connects under the gateway's and the wristband's client ids.
        for victim in ("homecare-alarm-gateway-0", "wr-golden-01"):
            intruders.append(_device(secured, "sos-golden-01", client_id=victim))
        await asyncio.sleep(1.0)
        assert gateway.connected
        assert wristband.connected
        gateway.publish("homecare/v1/dev/wr-golden-01/cmd", b"{}")
        await eventually(lambda: wristband.received)
        assert all(not intruder.received for intruder in intruders)
    finally:
        for client in (*intruders, wristband, gateway):
            client.close()


def _gateway_process(database_url: str, services_url: str, client_id: str | None) -> subprocess.Popen[bytes]:
    env = {
        **{name: value for name, value in os.environ.items() if name != "HOMECARE_GATEWAY_CLIENT_ID"},
        "HOMECARE_DATABASE_URL": database_url,
        "HOMECARE_MQTT_URL": services_url,
        "HOMECARE_MQTT_SHARE_GROUP": "homecare-alarm-gateways",
        "HOMECARE_GATEWAY_CHANNELS": "alarms",
    }
    if client_id is not None:
        env["HOMECARE_GATEWAY_CLIENT_ID"] = client_id
    return subprocess.Popen([sys.executable, "-m", "homecare.launcher.cli", "gateway"], env=env)


@pytest.mark.parametrize("named", [True, False], ids=["stable-names", "no-names"])
async def test_a_replaced_gateway_gets_what_was_queued_for_it(database_url: str, tmp_path: Path, named: bool) -> None:
    """deploy/ names each gateway stably (a StatefulSet's ordinal, a compose service); gateways given no name (a
    Deployment's pods) take the lowest free id of a pool held in the database. Either way the replacement of a
    killed gateway resumes its persistent session, and what the broker queued for it meanwhile is stored."""
    household = await enrol(database_url, GOLDEN_DEVICES)
    pendant_id = household.devices["sos-golden-01"]
    first_id, survivor_id = ("homecare-alarm-gateway-0", "homecare-alarm-gateway-1") if named else (None, None)
    with production_mosquitto(tmp_path, SECRETS) as broker:
        first = _gateway_process(database_url, broker.services_url, first_id)
        pendant = TestClient(broker.devices_url, client_id="sos-golden-01", password=SECRETS["sos-golden-01"])
        survivor = replacement = None
        try:

            async def first_one_stored() -> list[tuple[int, int]]:
                # Resent, as a device does: until the first gateway has subscribed, nobody takes it.
                pendant.publish("homecare/v1/dev/sos-golden-01/event", _sos("sos-golden-01", 1))
                await asyncio.sleep(0.5)
                return await _stored(database_url)

            await eventually(first_one_stored, timeout=30)
            survivor = Gateway(
                gateway_settings(
                    database_url,
                    broker.services_url,
                    mqtt_share_group="homecare-alarm-gateways",
                    gateway_channels="alarms",
                    gateway_client_id=survivor_id,
                ),
                database_url,
            )
            survivor.start()
            assert survivor.client_id == "homecare-alarm-gateway-1"  # without names: the first holds -0
            first.send_signal(signal.SIGKILL)
            first.wait()
            for seq in range(2, 22):  # the device does not resend: only the broker has them
                pendant.publish("homecare/v1/dev/sos-golden-01/event", _sos("sos-golden-01", seq))
            await asyncio.sleep(2.0)
            stranded = 21 - len(await _stored(database_url))
            assert stranded > 0  # the broker queued a share for the killed gateway's session

            replacement = _gateway_process(database_url, broker.services_url, first_id)
            replaced_at = time.monotonic()

            async def all_stored() -> bool:
                return await _stored(database_url) == [(pendant_id, seq) for seq in range(1, 22)]

            assert await eventually(all_stored, timeout=30)
            assert time.monotonic() - replaced_at < 20  # the process's start-up, not a session's expiry
        finally:
            pendant.close()
            if survivor is not None and survivor.wait_connected(0):
                survivor.stop()
            for process in (first, replacement):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(15)

"""Mosquitto with the production ACL (deploy/mosquitto): a device can publish only under its own id."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from homecare.gateway.service import Gateway
from tests.support.brokers import REPO, mosquitto_broker
from tests.support.enrolment import GOLDEN_DEVICES, Household, enrol, gateway_settings
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

GATEWAY_USER, GATEWAY_PASSWORD = "homecare-gateway", "gateway-secret-for-tests"
DEVICE_PASSWORDS = {uid: f"{uid}-secret" for uid in GOLDEN_DEVICES}


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("mosquitto-acl")
    passwd = work / "passwd"
    passwd.touch()
    for user, password in {GATEWAY_USER: GATEWAY_PASSWORD, **DEVICE_PASSWORDS}.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    passwd.chmod(0o644)
    acl = work / "acl"
    acl.write_text((REPO / "deploy" / "mosquitto" / "homecare.acl").read_text())
    acl.chmod(0o644)
    extra = f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    with mosquitto_broker(work, extra=extra) as url:
        yield url


async def test_a_device_cannot_publish_on_another_devices_topic(
    secured_broker: str, database_url: str, tmp_path: Path
) -> None:
    household: Household = await enrol(database_url, GOLDEN_DEVICES)
    port = secured_broker.rsplit(":", 1)[1]
    gateway_url = f"mqtt://{GATEWAY_USER}:{GATEWAY_PASSWORD}@127.0.0.1:{port}"
    gateway = Gateway(gateway_settings(database_url, gateway_url), database_url)
    gateway.start()
    pendant = TestClient(
        secured_broker, client_id="sos-golden-01", username="sos-golden-01", password=DEVICE_PASSWORDS["sos-golden-01"]
    )
    try:
        now = int(time.time() * 1000)
        # Pretending to be the wristband, on the wristband's topic: the broker drops it.
        forged = {"v": 1, "device_id": "wr-golden-01", "seq": 1, "ts": now, "kind": "sos"}
        pendant.publish("homecare/v1/dev/wr-golden-01/event", json.dumps(forged))
        # Its own alarm on its own topic goes through.
        own = {"v": 1, "device_id": "sos-golden-01", "seq": 2, "ts": now, "kind": "sos"}
        pendant.publish("homecare/v1/dev/sos-golden-01/event", json.dumps(own))

        async def events() -> list[tuple[int, int]]:
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                rows = await (await conn.execute("SELECT device_id, seq FROM events")).fetchall()
                return [(int(a), int(b)) for a, b in rows]

        stored = await eventually(events)
        await asyncio.sleep(0.5)  # the forged message, had it passed, would have arrived before the genuine one
        assert await events() == [(household.devices["sos-golden-01"], 2)] == stored
    finally:
        pendant.close()
        gateway.stop()


def test_a_device_without_its_secret_cannot_connect(secured_broker: str) -> None:
    with pytest.raises(ConnectionRefusedError, match=r"Not authorized|Bad user name or password"):
        TestClient(secured_broker, client_id="sos-golden-01", username="sos-golden-01", password="wrong")

"""Device and gateway accounts at real Mosquitto: devices moved from the password file into dynamic security."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from homecare.backend.enrolment.mosquitto_passwords import PasswordFile
from tests.support.brokers import dynsec_mosquitto
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

HOMECARE = [str(Path(sys.executable).with_name("homecare"))]  # the installed command, as people run it


async def test_devices_of_the_password_file_keep_their_secrets_in_dynamic_security(tmp_path: Path) -> None:
    """`homecare devices to-dynsec` with the broker stopped: each device signs in with the secret it had, under its
    own client id only, and publishes and reads only its own topics."""
    passwd = tmp_path / "homecare.passwd"
    PasswordFile(passwd, None).apply({"wr-old-0001": "old secret one", "door-old-0002": "old secret two"})

    def move(plugin_file: Path) -> None:
        done = subprocess.run(
            [*HOMECARE, "devices", "to-dynsec", str(passwd), str(plugin_file)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert "2 device(s) written" in done.stdout

    with dynsec_mosquitto(tmp_path, before_start=move) as broker:
        with pytest.raises(ConnectionRefusedError):
            TestClient(broker.devices_url, client_id="wr-old-0001", username="wr-old-0001", password="wrong")
        with pytest.raises(ConnectionRefusedError):  # its secret under another client id: no session taken over
            TestClient(broker.devices_url, client_id="door-old-0002", username="wr-old-0001", password="old secret one")
        platform = TestClient(broker.services_url)
        platform.subscribe("homecare/+/dev/#")
        wristband = TestClient(
            broker.devices_url, client_id="wr-old-0001", username="wr-old-0001", password="old secret one"
        )
        try:
            wristband.subscribe("homecare/v1/dev/wr-old-0001/cmd")
            wristband.publish("homecare/v1/dev/door-old-0002/event", b"forged")
            wristband.publish("homecare/v1/dev/wr-old-0001/event", b"own")
            await eventually(lambda: platform.received)
            assert [(m.topic, m.payload) for m in platform.received] == [("homecare/v1/dev/wr-old-0001/event", b"own")]
            platform.publish("homecare/v1/dev/wr-old-0001/cmd", b"{}")
            await eventually(lambda: wristband.received)
            assert [m.topic for m in wristband.received] == ["homecare/v1/dev/wr-old-0001/cmd"]
        finally:
            wristband.close()
            platform.close()
        TestClient(
            broker.devices_url, client_id="door-old-0002", username="door-old-0002", password="old secret two"
        ).close()


def test_a_password_file_of_mosquitto_1_is_refused_by_name(tmp_path: Path) -> None:
    passwd, plugin = tmp_path / "old.passwd", tmp_path / "plugin.json"
    passwd.write_text("wr-old-0001:$6$c2FsdA==$a2V5\n")
    plugin.write_text('{"clients": [], "roles": []}')
    done = subprocess.run([*HOMECARE, "devices", "to-dynsec", str(passwd), str(plugin)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "not a mosquitto_passwd 2 ($7$) hash" in done.stderr
    assert plugin.read_text() == '{"clients": [], "roles": []}'

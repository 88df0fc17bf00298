"""The administration API against the real backend: residents with home and card, devices whose secret is shown
once, revocation at the broker and the gateway, stations, all-or-nothing CSV imports, roles and the access log."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from homecare.gateway.service import Gateway
from homecare.storage.device_secrets import hash_secret
from tests.support.backend import Backend
from tests.support.brokers import REPO, dynsec_mosquitto, mosquitto_broker
from tests.support.enrolment import gateway_settings
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import World, signed_in

Db = psycopg.AsyncConnection[Any]


@pytest.fixture
async def admin(backend: Backend, world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(backend, world, "admin") as client:
        yield client


async def scalar(db: Db, query: str, *params: object) -> Any:
    row = await (await db.execute(query, params)).fetchone()
    assert row is not None
    return row[0]


def resident_body(world: World, **changes: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_ref": "SH-XH-00017",
        "display_name": "张桂英",
        "birth_year": 1938,
        "sex": "female",
        "phone": "021-5555 0101",
        "address": "徐汇区天钥桥路 100 弄 5 号 302 室",
        "lat": 31.19,
        "lon": 121.44,
        "station_id": world.station_ids[0],
        "vulnerable": True,
        "access_notes": "钥匙在邻居 301 室",
        "conditions": ["高血压", "糖尿病"],
        "medications": ["二甲双胍 500mg"],
        "allergies": ["青霉素"],
        "mobility": "助行器",
        "language": "上海话",
        "consent_video": False,
        "contacts": [
            {"name": "李明", "relation": "儿子", "phone": "13800000001"},
            {"name": "李红", "relation": "女儿", "email": "li.hong@example.com"},
        ],
    }
    return {**body, **changes}


def locations(response: httpx.Response) -> dict[str, str]:
    """Field → message of a 422's detail (FastAPI's validation shape)."""
    assert response.status_code == 422, response.text
    return {str(item["loc"][-1]): item["msg"] for item in response.json()["detail"]}


async def test_admin_enrols_a_resident_with_home_card_and_contacts_and_every_read_is_logged(
    admin: httpx.AsyncClient, world: World, db: Db
) -> None:
    created = await admin.post("/api/admin/residents", json=resident_body(world))
    assert created.status_code == 201, created.text
    resident = created.json()
    assert resident["station_id"] == world.station_ids[0]
    assert resident["station_name"]
    assert resident["allergies"] == ["青霉素"]
    assert resident["conditions"] == ["高血压", "糖尿病"]
    assert [c["name"] for c in resident["contacts"]] == ["李明", "李红"]

    changed = await admin.put(
        f"/api/admin/residents/{resident['id']}",
        json=resident_body(
            world,
            display_name="张桂英 (Zhang Guiying)",
            lat=31.2,
            consent_video=True,
            contacts=[{"name": "李红", "relation": "女儿", "phone": "13800000002"}],
        ),
    )
    assert changed.status_code == 200, changed.text
    read = (await admin.get(f"/api/admin/residents/{resident['id']}")).json()
    assert read["display_name"] == "张桂英 (Zhang Guiying)"
    assert read["lat"] == 31.2
    assert read["consent_video"]
    assert [c["name"] for c in read["contacts"]] == ["李红"]

    actions = [
        row[0]
        for row in await (
            await db.execute(
                "SELECT action FROM access_log WHERE resident_id = %s AND actor = 'admin' ORDER BY id",
                (resident["id"],),
            )
        ).fetchall()
    ]
    assert actions == ["admin.resident.create", "admin.resident.open", "admin.resident.update", "admin.resident.read"]

    kept = await admin.put(f"/api/admin/residents/{resident['id']}", json=resident_body(world, external_ref=None))
    assert kept.json()["external_ref"] == "SH-XH-00017"  # a change without a reference keeps theirs


async def test_refused_values_come_back_with_the_field_and_the_reason(admin: httpx.AsyncClient, world: World) -> None:
    assert set(locations(await admin.post("/api/admin/residents", json=resident_body(world, lat=95)))) == {"lat"}
    assert (
        "less than or equal to 180"
        in locations(await admin.post("/api/admin/residents", json=resident_body(world, lon=181)))["lon"]
    )
    assert locations(await admin.post("/api/admin/residents", json=resident_body(world, station_id=9999))) == {
        "station_id": "station 9999 does not exist"
    }
    assert (
        "unknown time zone"
        in locations(await admin.post("/api/admin/residents", json=resident_body(world, timezone="Mars/Olympus")))[
            "timezone"
        ]
    )
    no_phone = await admin.post("/api/admin/residents", json=resident_body(world, contacts=[{"name": "王"}]))
    assert "phone number or an e-mail" in str(no_phone.json()["detail"])

    assert (await admin.post("/api/admin/residents", json=resident_body(world))).status_code == 201
    taken = await admin.post("/api/admin/residents", json=resident_body(world, display_name="someone else"))
    assert taken.status_code == 409
    assert "SH-XH-00017" in taken.json()["detail"]
    assert (await admin.get("/api/admin/residents/999999")).status_code == 404


async def test_the_list_searches_by_name_and_station_and_pages(admin: httpx.AsyncClient, world: World, db: Db) -> None:
    everyone = (await admin.get("/api/admin/residents", params={"limit": 4})).json()
    assert everyone["total"] == len(world.resident_ids)
    assert len(everyone["items"]) == 4
    rest = (await admin.get("/api/admin/residents", params={"limit": 4, "offset": 4})).json()
    assert {r["id"] for r in everyone["items"] + rest["items"]} == set(world.resident_ids)
    first = everyone["items"][0]
    assert first["devices"] > 0
    assert first["address"]

    found = (await admin.get("/api/admin/residents", params={"q": first["display_name"][:2]})).json()
    assert first["id"] in {r["id"] for r in found["items"]}
    station = world.station_ids[0]
    at_station = (await admin.get("/api/admin/residents", params={"station_id": station})).json()
    assert at_station["items"]
    assert all(r["station_id"] == station for r in at_station["items"])
    assert (await admin.get("/api/admin/residents", params={"q": "no one is called this"})).json()["total"] == 0
    assert await scalar(db, "SELECT count(*) FROM access_log WHERE action = 'admin.residents.search'") == 5


async def test_operators_and_family_cannot_reach_administration_and_supervisors_only_read(
    backend: Backend, world: World
) -> None:
    resident = world.resident_ids[0]
    writes = [
        ("POST", "/api/admin/residents", resident_body(world)),
        ("PUT", f"/api/admin/residents/{resident}", resident_body(world)),
        ("POST", f"/api/admin/residents/{resident}/devices", {"uid": "wr-test-0001", "kind": "wristband"}),
        ("POST", "/api/admin/devices/1/credentials", None),
        ("POST", "/api/admin/devices/1/revoke", None),
        ("POST", "/api/admin/stations", {}),
        ("POST", "/api/admin/import/residents", None),
    ]
    reads = [
        "/api/admin/residents",
        f"/api/admin/residents/{resident}",
        f"/api/admin/residents/{resident}/devices",
        "/api/admin/devices",
        "/api/admin/stations",
        "/api/admin/import/residents.csv",
    ]
    for username in ("operator", "responder", "family"):
        async with signed_in(backend, world, username) as client:
            for path in reads:
                assert (await client.get(path)).status_code == 403, (username, path)
            for method, path, body in writes:
                assert (await client.request(method, path, json=body)).status_code == 403, (username, path)
    async with signed_in(backend, world, "supervisor") as supervisor:
        for path in reads:
            assert (await supervisor.get(path)).status_code == 200, path
        for method, path, body in writes:
            assert (await supervisor.request(method, path, json=body)).status_code == 403, path
    async with httpx.AsyncClient(base_url=backend.url) as anonymous:
        assert (await anonymous.get("/api/admin/residents")).status_code == 401


async def test_a_device_secret_is_shown_once_and_only_its_hash_is_kept(
    admin: httpx.AsyncClient, world: World, db: Db
) -> None:
    resident = world.resident_ids[0]
    enrolled = await admin.post(
        f"/api/admin/residents/{resident}/devices", json={"uid": "sos-new-0001", "kind": "sos_pendant"}
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    issued = enrolled.json()
    secret, device = issued["secret"], issued["device"]
    assert len(secret) >= 32
    assert issued["username"] == "sos-new-0001"
    assert device["resident_id"] == resident
    assert await scalar(db, "SELECT secret_hash FROM devices WHERE uid = 'sos-new-0001'") == hash_secret(secret)
    listed = (await admin.get(f"/api/admin/residents/{resident}/devices")).text
    everything = (await admin.get("/api/admin/devices", params={"q": "sos-new"})).text
    assert "sos-new-0001" in listed
    assert "sos-new-0001" in everything
    assert secret not in listed + everything
    assert "secret" not in listed + everything

    again = await admin.post(
        f"/api/admin/residents/{resident}/devices", json={"uid": "sos-new-0001", "kind": "sos_pendant"}
    )
    assert again.status_code == 409
    bad = await admin.post(f"/api/admin/residents/{resident}/devices", json={"uid": "Bad UID", "kind": "toaster"})
    assert set(locations(bad)) == {"uid", "kind"}

    renewed = (await admin.post(f"/api/admin/devices/{device['id']}/credentials")).json()
    assert renewed["secret"] != secret
    assert await scalar(db, "SELECT secret_hash FROM devices WHERE uid = 'sos-new-0001'") == hash_secret(
        renewed["secret"]
    )
    revoked = (await admin.post(f"/api/admin/devices/{device['id']}/revoke")).json()
    assert revoked["revoked_at"] is not None
    assert await scalar(db, "SELECT secret_hash FROM devices WHERE uid = 'sos-new-0001'") is None
    assert (await admin.post(f"/api/admin/devices/{device['id']}/credentials")).status_code == 409
    assert [
        row[0]
        for row in await (
            await db.execute("SELECT action FROM access_log WHERE detail->>'uid' = 'sos-new-0001' ORDER BY id")
        ).fetchall()
    ] == ["admin.device.enrol", "admin.device.reissue", "admin.device.revoke"]


async def test_no_device_is_enrolled_under_a_platform_clients_name(admin: httpx.AsyncClient, world: World) -> None:
    """A device named like a gateway could connect under the gateway's client id and take its session."""
    refused = await admin.post(
        f"/api/admin/residents/{world.resident_ids[0]}/devices",
        json={"uid": "homecare-alarm-gateway-1", "kind": "sos_pendant"},
    )
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert (problem["loc"][-1], problem["type"], problem["ctx"]) == (
        "uid",
        "reserved_device_id",
        {"prefix": "homecare-"},
    )


def _connects(url: str, uid: str, secret: str) -> bool:
    try:
        TestClient(url, client_id=uid, username=uid, password=secret).close()
    except ConnectionRefusedError:
        return False
    return True


async def test_mosquitto_follows_enrolment_reissue_and_revocation(
    admin: httpx.AsyncClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwd, pid_file, acl = tmp_path / "homecare.passwd", tmp_path / "mosquitto.pid", tmp_path / "homecare.acl"
    passwd.touch()
    await asyncio.to_thread(
        subprocess.run, ["mosquitto_passwd", "-b", str(passwd), "homecare-gateway", "gateway-secret"], check=True
    )
    passwd.chmod(0o644)
    acl.write_text((REPO / "deploy" / "mosquitto" / "homecare.acl").read_text())
    monkeypatch.setenv("HOMECARE_MOSQUITTO_PASSWD_FILE", str(passwd))
    monkeypatch.setenv("HOMECARE_MOSQUITTO_PID_FILE", str(pid_file))
    extra = f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\npid_file {pid_file}\n"
    with mosquitto_broker(tmp_path, extra=extra) as url:
        await eventually(pid_file.exists)
        issued = (
            await admin.post(
                f"/api/admin/residents/{world.resident_ids[1]}/devices",
                json={"uid": "wr-new-0002", "kind": "wristband"},
            )
        ).json()
        assert await eventually(lambda: asyncio.to_thread(_connects, url, "wr-new-0002", issued["secret"]))

        renewed = (await admin.post(f"/api/admin/devices/{issued['device']['id']}/credentials")).json()
        assert await eventually(lambda: asyncio.to_thread(_connects, url, "wr-new-0002", renewed["secret"]))
        assert not await asyncio.to_thread(_connects, url, "wr-new-0002", issued["secret"])

        await admin.post(f"/api/admin/devices/{issued['device']['id']}/revoke")
        await eventually(lambda: asyncio.to_thread(lambda: not _connects(url, "wr-new-0002", renewed["secret"])))
        assert await asyncio.to_thread(_connects, url, "homecare-gateway", "gateway-secret")  # service lines kept
    assert "wr-new-0002" not in passwd.read_text()
    assert passwd.read_text().startswith("homecare-gateway:$7$")


async def test_mosquittos_dynamic_security_follows_enrolment_and_a_revoked_device_is_disconnected(
    admin: httpx.AsyncClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With deploy/mosquitto/mosquitto-dynsec.conf the platform tells the broker itself: a device enrolled through
    the API connects under its own id only and publishes only under it; revoking it ends its connection."""
    with dynsec_mosquitto(tmp_path) as broker:
        enrol = {"uid": "wr-new-0004", "kind": "wristband"}
        devices = f"/api/admin/residents/{world.resident_ids[1]}/devices"
        wrong_admin = broker.admin_url.replace("homecare-admin:", "homecare-admin:x")
        monkeypatch.setenv("HOMECARE_MOSQUITTO_DYNSEC_URLS", json.dumps([wrong_admin]))
        refused = await admin.post(devices, json=enrol)
        assert refused.status_code == 503  # the broker could not be told: the device is not enrolled either

        monkeypatch.setenv("HOMECARE_MOSQUITTO_DYNSEC_URLS", json.dumps([broker.admin_url]))
        first = (await admin.post(devices, json=enrol)).json()
        renewed = (await admin.post(f"/api/admin/devices/{first['device']['id']}/credentials")).json()
        secret = renewed["secret"]
        assert not await asyncio.to_thread(_connects, broker.devices_url, "wr-new-0004", first["secret"])
        with pytest.raises(ConnectionRefusedError):  # its secret under another client id: no session taken over
            await asyncio.to_thread(
                TestClient, broker.devices_url, client_id="wr-golden-01", username="wr-new-0004", password=secret
            )

        platform = await asyncio.to_thread(TestClient, broker.services_url)
        platform.subscribe("homecare/+/dev/#")
        wristband = await asyncio.to_thread(
            TestClient, broker.devices_url, client_id="wr-new-0004", username="wr-new-0004", password=secret
        )
        try:
            wristband.subscribe("homecare/v1/dev/wr-new-0004/cmd")
            wristband.publish("homecare/v1/dev/wr-new-0004/event", b"own")
            wristband.publish("homecare/v1/dev/wr-golden-01/event", b"forged")
            wristband.publish("homecare/v1/dev/wr-new-0004/cmd", b"a command to itself")
            wristband.publish("homecare/v2/dev/wr-new-0004/telemetry", b"own, in another version")
            # In order from one client: once the last is in, a forged one would have arrived before it.
            await eventually(lambda: len(platform.received) >= 2)
            assert [(m.topic, m.payload) for m in platform.received] == [
                ("homecare/v1/dev/wr-new-0004/event", b"own"),
                ("homecare/v2/dev/wr-new-0004/telemetry", b"own, in another version"),
            ]
            platform.publish("homecare/v1/dev/wr-new-0004/cmd", b"{}")
            await eventually(lambda: wristband.received)
            assert [m.topic for m in wristband.received] == ["homecare/v1/dev/wr-new-0004/cmd"]

            revoked = await admin.post(f"/api/admin/devices/{first['device']['id']}/revoke")
            assert revoked.status_code == 200
            await eventually(lambda: not wristband.connected)
            assert not await asyncio.to_thread(_connects, broker.devices_url, "wr-new-0004", secret)
        finally:
            wristband.close()
            platform.close()


@contextmanager
def emqx_api(database_url: str, status: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A small HTTP server in EMQX's place answering `status` to everything: its URL and the requests it took, each
    with whether the device was revoked in the database when it came."""
    taken: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:
            uid = self.path.rsplit("/", 1)[-1]
            with psycopg.connect(database_url) as conn:
                row = conn.execute("SELECT revoked_at IS NOT NULL FROM devices WHERE uid = %s", (uid,)).fetchone()
            taken.append({"method": "DELETE", "path": self.path, "auth": self.headers["Authorization"], "revoked": row})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", taken
    finally:
        server.shutdown()
        server.server_close()


async def test_revoking_a_device_ends_its_session_on_emqx_through_its_rest_api(
    admin: httpx.AsyncClient, world: World, database_url: str, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not verified against a real EMQX (none here): the request is the one its REST API documents for kicking a
    client, sent once the revocation is committed; a device not connected (404) is no error, any other answer is."""
    devices = f"/api/admin/residents/{world.resident_ids[1]}/devices"
    ids = {}
    for uid in ("wr-emqx-0001", "wr-emqx-0002", "wr-emqx-0003"):
        ids[uid] = (await admin.post(devices, json={"uid": uid, "kind": "wristband"})).json()["device"]["id"]
    monkeypatch.setenv("HOMECARE_EMQX_API_KEY", "homecare")
    monkeypatch.setenv("HOMECARE_EMQX_API_SECRET", "api secret")
    basic = "Basic " + base64.b64encode(b"homecare:api secret").decode()
    for uid, status in (("wr-emqx-0001", 204), ("wr-emqx-0002", 404)):
        with emqx_api(database_url, status) as (url, taken):
            monkeypatch.setenv("HOMECARE_EMQX_API_URL", url)
            revoked = await admin.post(f"/api/admin/devices/{ids[uid]}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        assert taken == [{"method": "DELETE", "path": f"/api/v5/clients/{uid}", "auth": basic, "revoked": (True,)}]

    with emqx_api(database_url, 500) as (url, taken):
        monkeypatch.setenv("HOMECARE_EMQX_API_URL", url)
        refused = await admin.post(f"/api/admin/devices/{ids['wr-emqx-0003']}/revoke")
    assert refused.status_code == 503
    assert "EMQX did not disconnect wr-emqx-0003: HTTP 500" in refused.text
    assert len(taken) == 1
    # Revoked all the same (the devices table refuses its next sign-in); revoking again asks EMQX again.
    assert await scalar(db, "SELECT revoked_at IS NOT NULL FROM devices WHERE uid = 'wr-emqx-0003'")


async def test_the_gateway_refuses_a_revoked_device(
    admin: httpx.AsyncClient, world: World, database_url: str, amqtt_url: str, db: Db
) -> None:
    issued = (
        await admin.post(
            f"/api/admin/residents/{world.resident_ids[2]}/devices",
            json={"uid": "door-new-0003", "kind": "door_sensor"},
        )
    ).json()
    gateway = Gateway(gateway_settings(database_url, amqtt_url), database_url)
    gateway.start()
    door = await asyncio.to_thread(TestClient, amqtt_url, client_id="door-new-0003")
    seq = iter(range(1, 1000))

    def publish() -> None:
        message = {
            "v": 1,
            "device_id": "door-new-0003",
            "seq": next(seq),
            "ts": int(time.time() * 1000),
            "kind": "door_open",
            "room": "entrance",
        }
        door.publish("homecare/v1/dev/door-new-0003/event", json.dumps(message))

    async def count(query: str) -> int:
        return int(await scalar(db, query, issued["device"]["id"]))

    try:
        await asyncio.to_thread(publish)
        await eventually(lambda: count("SELECT count(*) FROM events WHERE device_id = %s"))
        await admin.post(f"/api/admin/devices/{issued['device']['id']}/revoke")

        async def refused() -> bool:
            await asyncio.to_thread(publish)  # the registry reloads on the devices trigger, shortly after
            return bool(
                await scalar(
                    db,
                    "SELECT count(*) FROM dead_letters WHERE reason LIKE '%%revoked%%' "
                    "AND topic LIKE '%%door-new-0003%%'",
                )
            )

        await eventually(refused, interval=0.2)
        assert await count("SELECT count(*) FROM events WHERE device_id = %s") >= 1
    finally:
        await asyncio.to_thread(door.close)
        gateway.stop()


async def test_stations_are_added_and_changed_with_hours_and_capacity(admin: httpx.AsyncClient) -> None:
    body = {
        "code": "XH-09",
        "name": "徐汇区枫林街道服务站",
        "address": "枫林路 1 号",
        "phone": "021-6400 0000",
        "lat": 31.2,
        "lon": 121.45,
        "opens": "07:30",
        "closes": "21:00",
        "timezone": "Asia/Shanghai",
        "capacity": 4,
        "on_duty": True,
    }
    created = await admin.post("/api/admin/stations", json=body)
    assert created.status_code == 201, created.text
    station = created.json()
    assert station["opens"] == "07:30:00"
    assert station["capacity"] == 4
    assert station["residents"] == 0
    changed = (
        await admin.put(
            f"/api/admin/stations/{station['id']}", json={**body, "capacity": 6, "on_duty": False, "closes": "22:00"}
        )
    ).json()
    assert (changed["capacity"], changed["on_duty"], changed["closes"]) == (6, False, "22:00:00")
    assert "XH-09" in {s["code"] for s in (await admin.get("/api/admin/stations")).json()}
    assert (await admin.post("/api/admin/stations", json=body)).status_code == 409
    assert set(
        locations(await admin.post("/api/admin/stations", json={**body, "code": "X 1", "lat": -91, "capacity": -1}))
    ) == {"code", "lat", "capacity"}
    assert (await admin.put("/api/admin/stations/99999", json=body)).status_code == 404


def residents_csv(world: World, rows: list[list[str]], *, bom: bool = True, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            "external_ref",
            "display_name",
            "address",
            "lat",
            "lon",
            "station_code",
            "vulnerable",
            "conditions",
            "allergies",
            "contacts",
        ]
    )
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode(encoding)


async def station_code(db: Db, world: World) -> str:
    return str(await scalar(db, "SELECT code FROM stations WHERE id = %s", world.station_ids[0]))


async def test_a_residents_file_is_imported_whole_or_not_at_all(admin: httpx.AsyncClient, world: World, db: Db) -> None:
    code = await station_code(db, world)
    good = [
        [
            "IMP-001",
            "王秀英",
            "长宁区 1 号",
            "31.21",
            "121.42",
            code,
            "是",
            "高血压;冠心病;",
            "",
            "王强|儿子|13900000001; 王丽|女儿|13900000002",
        ],
        ["IMP-002", "Chen Jianguo", "Changning 2", "31.22", "121.41", "", "no", "", "peanuts", ""],
    ]
    bad = [
        *good,
        ["IMP-003", "刘芳", "长宁区 3 号", "200", "121.4", code, "yes", "", "", ""],
        ["IMP-001", "重复", "长宁区 4 号", "31.2", "121.4", "", "", "", "", ""],
        ["IMP-005", "赵敏", "长宁区 5 号", "31.2", "121.4", "NOPE", "maybe", "", "", "只有名字"],
    ]
    before = await scalar(db, "SELECT count(*) FROM residents")
    refused = await admin.post(
        "/api/admin/import/residents", content=residents_csv(world, bad), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 422
    errors = refused.json()["detail"]["errors"]
    assert [e["line"] for e in errors] == [4, 5, 6]  # the header is line 1; every bad line is listed
    assert "lat" in errors[0]["reason"]
    assert "less than or equal to 90" in errors[0]["reason"]
    assert "also on line 2" in errors[1]["reason"]
    assert "'NOPE'" in errors[2]["reason"]
    assert "'maybe'" in errors[2]["reason"]
    assert await scalar(db, "SELECT count(*) FROM residents") == before  # nothing of the good rows either

    imported = await admin.post(
        "/api/admin/import/residents", content=residents_csv(world, good), headers={"Content-Type": "text/csv"}
    )
    assert imported.json() == {"added": 2, "updated": 0}
    wang = await (
        await db.execute(
            "SELECT display_name, vulnerable, conditions, station_id, id FROM residents WHERE external_ref = 'IMP-001'"
        )
    ).fetchone()
    assert wang is not None
    assert wang[:4] == ("王秀英", True, ["高血压", "冠心病"], world.station_ids[0])
    assert [
        r[0]
        for r in await (
            await db.execute(
                "SELECT name FROM resident_contacts WHERE resident_id = %s ORDER BY call_order", (wang[4],)
            )
        ).fetchall()
    ] == ["王强", "王丽"]

    again = await admin.post(
        "/api/admin/import/residents",
        content=residents_csv(world, good, bom=False),
        headers={"Content-Type": "text/csv"},
    )
    assert again.json() == {"added": 0, "updated": 2}  # the same file without Excel's BOM: matched by reference
    assert await scalar(db, "SELECT count(*) FROM access_log WHERE action = 'admin.import.residents'") == 2


async def test_an_unreadable_file_says_why(admin: httpx.AsyncClient, world: World) -> None:
    async def errors(body: bytes) -> list[dict[str, Any]]:
        response = await admin.post("/api/admin/import/residents", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 422
        return list(response.json()["detail"]["errors"])

    gbk = residents_csv(
        world, [["IMP-9", "王秀英", "长宁区", "31.2", "121.4", "", "", "", "", ""]], bom=False, encoding="gbk"
    )
    assert (await errors(gbk)) == [{"line": 2, "reason": "not UTF-8 text: save the file as “CSV UTF-8”"}]
    missing = await errors(b"external_ref,display_name,address\r\nA,b,c\r\n")
    assert "missing column(s) lat, lon" in missing[0]["reason"]
    assert (
        "unknown column(s) colour"
        in (await errors(b"\xef\xbb\xbfexternal_ref,display_name,address,lat,lon,colour\r\n"))[0]["reason"]
    )
    assert (await errors(b""))[0]["line"] == 1


async def test_a_devices_file_gives_each_device_a_secret_once(admin: httpx.AsyncClient, world: World, db: Db) -> None:
    ref = str(await scalar(db, "SELECT external_ref FROM residents WHERE id = %s", world.resident_ids[0]))
    known = str(
        await scalar(db, "SELECT uid FROM devices WHERE resident_id = %s ORDER BY id LIMIT 1", world.resident_ids[0])
    )
    bad = (
        f"\ufeffuid,kind,resident_ref\r\nwr-imp-0001,wristband,{ref}\r\nwr-imp-0002,toaster,{ref}\r\n"
        f"bed-imp-0003,bed_sensor,NOBODY\r\n"
    )
    refused = await admin.post("/api/admin/import/devices", content=bad.encode(), headers={"Content-Type": "text/csv"})
    assert refused.status_code == 422
    assert [
        (e["line"], "kind" in e["reason"] or "NOBODY" in e["reason"]) for e in refused.json()["detail"]["errors"]
    ] == [(3, True), (4, True)]
    assert await scalar(db, "SELECT count(*) FROM devices WHERE uid LIKE '%%-imp-%%'") == 0

    good = (
        f"\ufeffuid,kind,resident_ref\r\nwr-imp-0001,wristband,{ref}\r\nmotion-imp-0002,motion_sensor,\r\n"
        f"{known},sos_pendant,{ref}\r\nbp-imp-0004,blood_pressure_monitor,{ref}\r\ngl-imp-0005,glucose_meter,{ref}\r\n"
    )
    imported = await admin.post(
        "/api/admin/import/devices", content=good.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    assert (imported.headers["x-added"], imported.headers["x-updated"]) == ("4", "1")
    assert imported.headers["content-disposition"] == 'attachment; filename="device-credentials.csv"'
    rows = list(csv.DictReader(io.StringIO(imported.content.decode("utf-8-sig"))))
    assert [(r["uid"], r["action"]) for r in rows] == [
        ("wr-imp-0001", "added"),
        ("motion-imp-0002", "added"),
        (known, "updated"),
        ("bp-imp-0004", "added"),
        ("gl-imp-0005", "added"),
    ]
    for row in rows:
        assert await scalar(db, "SELECT secret_hash FROM devices WHERE uid = %s", row["uid"]) == hash_secret(
            row["secret"]
        )
    assert await scalar(db, "SELECT resident_id FROM devices WHERE uid = 'motion-imp-0002'") is None

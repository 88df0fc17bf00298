"""The GPS watch end to end: fixes stored and bad ones dead-lettered, safe zones kept by staff, leaving them an
alarm with its track and coming back clearing it, the family's view only during an alarm and with consent, every
read logged, and raw fixes deleted after the retention the administrator sets."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from homecare.backend.alarms.pipeline import ManualClock
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.gateway.service import Gateway
from homecare.storage.maintenance import MaintenanceReport, maintain_once
from homecare.storage.settings import StorageSettings
from tests.support.backend import AUTH, Backend
from tests.support.database import scalar
from tests.support.enrolment import Household, enrol
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import Login, World

Conn = psycopg.AsyncConnection[Any]
HOME = (31.2304, 121.4737)
# Walking north from home: about 111 m per 0.001 degree of latitude.
WALK = [(HOME[0] + 0.001 * step, HOME[1]) for step in range(8)]


def _fix(lat: float, lon: float, accuracy: float = 8, source: str = "gnss") -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "accuracy_m": accuracy, "source": source}


async def _store_fixes(db: Conn, resident_id: int, points: list[tuple[datetime, float, float]]) -> None:
    """Fixes of the resident's watch as the gateway stores them (a watch enrolled for the resident on first use)."""
    row = await (
        await db.execute("SELECT id FROM devices WHERE resident_id = %s AND kind = 'gps_watch'", (resident_id,))
    ).fetchone()
    if row is None:
        row = await (
            await db.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'gps_watch', %s) RETURNING id",
                (f"gps-{resident_id}", resident_id),
            )
        ).fetchone()
    assert row is not None
    seq = int(await scalar_in(db, "SELECT count(*) FROM location_fixes WHERE device_id = %s", row[0]))
    for i, (ts, lat, lon) in enumerate(points):
        await db.execute(
            "INSERT INTO location_fixes (device_id, resident_id, seq, ts, lat, lon, accuracy_m, source, moving) "
            "VALUES (%s, %s, %s, %s, %s, %s, 8, 'gnss', true)",
            (row[0], resident_id, seq + i, ts, lat, lon),
        )


async def scalar_in(db: Conn, query: str, *params: object) -> Any:
    row = await (await db.execute(query, params)).fetchone()
    return None if row is None else row[0]


# --- the gateway ------------------------------------------------------------------------------------------------

amqtt_only = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)


@pytest.fixture
async def watch(database_url: str) -> Household:
    """A resident with a GPS watch, enrolled before the gateway starts."""
    return await enrol(database_url, {"gps-watch-01": "gps_watch"})


@amqtt_only
async def test_fixes_are_stored_an_alarm_carries_its_fix_and_bad_fixes_are_dead_lettered_with_the_reason(
    watch: Household, database_url: str, gateway: Gateway, device: TestClient
) -> None:
    now_ms = int(time.time() * 1000)
    envelope = {"v": 1, "device_id": "gps-watch-01"}
    topic = "homecare/v1/dev/gps-watch-01/"
    device.publish(topic + "location", json.dumps({**envelope, "seq": 1, "ts": now_ms - 60_000, "fix": _fix(*HOME)}))
    device.publish(
        topic + "location",
        json.dumps({**envelope, "seq": 2, "ts": now_ms - 30_000, "fix": _fix(*WALK[1], 40, "wifi"), "moving": True}),
    )
    device.publish(topic + "location", json.dumps({**envelope, "seq": 3, "ts": now_ms, "fix": _fix(*HOME, 0)}))
    device.publish(topic + "location", json.dumps({**envelope, "seq": 4, "ts": now_ms, "fix": _fix(200, HOME[1])}))
    device.publish(
        topic + "event",
        json.dumps({**envelope, "seq": 5, "ts": now_ms, "kind": "sos", "fix": _fix(*WALK[2], 450, "cell")}),
    )

    async def stored() -> list[tuple[Any, ...]] | None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            rows = await (
                await conn.execute("SELECT seq, lat, lon, accuracy_m, source, moving FROM location_fixes ORDER BY seq")
            ).fetchall()
        return rows if len(rows) == 3 else None

    assert await eventually(stored) == [
        (1, *HOME, 8.0, "gnss", False),
        (2, *WALK[1], 40.0, "wifi", True),
        (5, *WALK[2], 450.0, "cell", False),  # the SOS's fix, on the track beside the reports
    ]
    assert await scalar(database_url, "SELECT kind FROM events WHERE seq = 5") == "sos"

    async def reasons() -> list[str] | None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            rows = await (await conn.execute("SELECT reason FROM dead_letters ORDER BY id")).fetchall()
        return [r[0] for r in rows] if len(rows) == 2 else None

    assert await eventually(reasons) == [
        "invalid: fix.accuracy_m: Input should be greater than 0",
        "invalid: fix.lat: Input should be less than or equal to 90",
    ]


# --- the detector -----------------------------------------------------------------------------------------------


def _of(signals: list[Signal], rid: int) -> list[Signal]:
    return [s for s in signals if s.resident_id == rid and s.cause is Cause.LEFT_SAFE_ZONE]


async def test_a_time_window_makes_the_neighbourhood_unsafe_after_nine_and_a_coarse_fix_decides_nothing(
    db: Conn,
) -> None:
    rid = await scalar_in(
        db, "INSERT INTO residents (display_name, lat, lon) VALUES ('Zhao Lan', %s, %s) RETURNING id", *HOME
    )
    # Home (always) and the neighbourhood, 600 m around home, until 21:00 (Shanghai) only.
    await db.execute(
        "INSERT INTO safe_zones (resident_id, name, center_lat, center_lon, radius_m, created_by) "
        "VALUES (%s, '家', %s, %s, 60, 'test'), (%s, '小区周边', %s, %s, 600, 'test')",
        (rid, *HOME, rid, *HOME),
    )
    await db.execute(
        "UPDATE safe_zones SET active_from = '07:00', active_until = '21:00' WHERE name = '小区周边'",
    )
    evening = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    await _store_fixes(db, rid, [(evening, *HOME), (evening + timedelta(minutes=5), *WALK[3])])  # 333 m out
    assert _of(await run_periodic_detectors(db, now=evening + timedelta(minutes=6)), rid) == []

    late = evening + timedelta(minutes=40)  # 21:10: the neighbourhood no longer counts
    await _store_fixes(db, rid, [(late, *WALK[3])])
    [alarm] = _of(await run_periodic_detectors(db, now=late + timedelta(minutes=1)), rid)
    assert alarm.kind is SignalKind.ALARM
    # The 20:35 fix was inside the neighbourhood while it counted: out since the first fix after it.
    assert alarm.explanation_en == (
        "Outside the safe zones since 21:10 (60 s); at 21:10 274 m beyond 家, 334 m from home (GNSS ±8 m)."
    )
    assert alarm.explanation_zh == "21:10 起离开安全区域（60 秒）；21:10 在家外 274 米，距家 334 米（卫星定位 ±8 米）。"

    # The same fix as a cell fix good to 450 m: outside by less than its accuracy tells nothing either way, so
    # the condition stays as it was; a fix inside the home clears it.
    await db.execute("UPDATE location_fixes SET accuracy_m = 450, source = 'cell' WHERE ts = %s", (late,))
    assert _of(await run_periodic_detectors(db, now=late + timedelta(minutes=2)), rid) == []  # 274 m < 450 m
    assert await scalar_in(db, "SELECT cause FROM detection_conditions WHERE resident_id = %s", rid) == "left_safe_zone"
    await _store_fixes(db, rid, [(late + timedelta(minutes=3), *HOME)])
    [back] = _of(await run_periodic_detectors(db, now=late + timedelta(minutes=4)), rid)
    assert (back.kind, back.explanation_en) == (SignalKind.CLEAR, "Back in a safe zone at 21:13.")


# --- the API and the pipeline -----------------------------------------------------------------------------------


@pytest.fixture
def backend(world: World, clocked_backend: Backend) -> Backend:
    return clocked_backend


@pytest.fixture
async def staff(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as client:
        yield client


def _named(response: httpx.Response) -> list[str]:
    """The fields a 422 names (its locations and the words of its messages)."""
    assert response.status_code == 422, response.text
    return [" ".join(map(str, e["loc"])) + ": " + e["msg"] for e in response.json()["detail"]]


async def test_staff_keep_safe_zones_and_bad_ones_are_refused_naming_the_field(
    staff: httpx.AsyncClient, world: World
) -> None:
    rid = world.resident_ids[0]
    zones = f"/api/residents/{rid}/safe-zones"
    home = {"name": "家", "shape": {"kind": "circle", "lat": HOME[0], "lon": HOME[1], "radius_m": 80}}
    square = [[31.228, 121.470], [31.228, 121.476], [31.233, 121.476], [31.233, 121.470]]
    centre = {
        "name": "日间照料中心",
        "shape": {"kind": "polygon", "points": square},
        "active_from": "08:00",
        "active_until": "17:00",
    }
    made = [await staff.post(zones, json=body) for body in (home, centre)]
    assert [r.status_code for r in made] == [201, 201], made[1].text
    assert [(z["name"], z["shape"]["kind"], z["active_until"]) for z in (await staff.get(zones)).json()] == [
        ("家", "circle", None),
        ("日间照料中心", "polygon", "17:00:00"),
    ]
    assert (
        "body shape circle radius_m"
        in _named(await staff.post(zones, json={**home, "shape": {**home["shape"], "radius_m": 0}}))[0]
    )
    assert (
        "body shape polygon points"
        in _named(await staff.post(zones, json={**centre, "shape": {"kind": "polygon", "points": square[:2]}}))[0]
    )
    assert "lat" in _named(await staff.post(zones, json={**home, "shape": {**home["shape"], "lat": 200}}))[0]
    assert "active_until" in _named(await staff.post(zones, json={**home, "active_from": "21:00"}))[0]
    assert (await staff.delete(f"{zones}/{made[0].json()['id']}")).status_code == 204
    assert (await staff.delete(f"{zones}/{made[0].json()['id']}")).status_code == 404
    assert [z["name"] for z in (await staff.get(zones)).json()] == ["日间照料中心"]


async def test_leaving_the_zone_is_an_incident_with_its_track_and_coming_back_clears_it(
    backend: Backend, staff: httpx.AsyncClient, world: World, db: Conn, clock: ManualClock, login: Login
) -> None:
    rid = world.resident_ids[0]
    await db.execute("UPDATE residents SET lat = %s, lon = %s WHERE id = %s", (*HOME, rid))
    home = {"name": "家", "shape": {"kind": "circle", "lat": HOME[0], "lon": HOME[1], "radius_m": 100}}
    assert (await staff.post(f"/api/residents/{rid}/safe-zones", json=home)).status_code == 201
    family = await login("family")
    location = f"/api/family/residents/{rid}/location"
    # Not consented yet: the family does not even learn there is a location.
    assert (await family.get(location)).status_code == 404

    now = clock.now()
    walk = [(now - timedelta(minutes=12 - 2 * i), *WALK[i]) for i in range(6)]  # home, 111 m, ... 555 m
    await _store_fixes(db, rid, walk)
    clock.advance(31)
    incident_id = await eventually(
        lambda: scalar_in(db, "SELECT id FROM incidents WHERE resident_id = %s AND cause = 'left_safe_zone'", rid)
    )
    track = (await staff.get(f"/api/incidents/{incident_id}/track")).json()
    # Since the first fix beyond the zone (111 m from the home's centre, the zone is 100 m): five fixes, walking away.
    assert track["since"] == walk[1][0].isoformat().replace("+00:00", "Z")
    assert [(f["lat"], f["lon"]) for f in track["fixes"]] == [(lat, lon) for _, lat, lon in walk[1:]]
    assert [z["name"] for z in track["zones"]] == ["家"]
    logged = await scalar_in(
        db, "SELECT count(*) FROM access_log WHERE action = 'locations.track' AND resident_id = %s", rid
    )
    assert logged == 1
    # Her watch is told to send a fix every 15 s while the alarm is open.
    assert await _watch_commands(db, rid) == [
        {"kind": "track", "interval_s": 15, "for_s": 7200, "incident_id": incident_id}
    ]

    # The family member who may see the location sees the latest fix while the alarm is open.
    answer = await staff.put(
        f"/api/residents/{rid}/family",
        json={"user_id": world.user_ids["family"], "relation": "女儿", "share_location": True},
    )
    assert answer.status_code == 200, answer.text
    seen = (await family.get(location)).json()
    assert (seen["shown"], seen["fix"]["lat"]) == (True, WALK[5][0])

    # Walking home: the finding closes (a note on the incident), the track ends at home.
    await _store_fixes(db, rid, [(clock.now() + timedelta(seconds=10), *HOME)])
    clock.advance(31)
    await eventually(
        lambda: scalar_in(
            db,
            "SELECT 1 FROM incident_transitions WHERE incident_id = %s AND detail->>'signal' = 'clear'",
            incident_id,
        )
    )
    assert await scalar_in(db, "SELECT count(*) FROM detection_conditions WHERE resident_id = %s", rid) == 0
    assert (await staff.get(f"/api/incidents/{incident_id}/track")).json()["fixes"][-1]["lat"] == HOME[0]

    # Once the alarm is resolved the family no longer sees where she is.
    resolved = await staff.post(f"/api/incidents/{incident_id}/resolve", json={"outcome": "no_injury"})
    assert resolved.status_code == 200, resolved.text
    assert (await family.get(location)).json() == {"shown": False, "fix": None}
    assert await scalar_in(db, "SELECT count(*) FROM access_log WHERE action = 'family.location'") == 2
    # And to return to its own schedule: no other alarm of hers is open.
    assert (await _watch_commands(db, rid))[1:] == [
        {"kind": "track", "interval_s": 15, "for_s": 0, "incident_id": incident_id}
    ]


async def _watch_commands(db: Conn, resident_id: int) -> list[dict[str, Any]]:
    """The commands queued to the resident's GPS watch, oldest first."""
    cursor = await db.execute(
        "SELECT c.body FROM device_commands c JOIN devices d ON d.id = c.device_id "
        "WHERE d.resident_id = %s AND d.kind = 'gps_watch' ORDER BY c.id",
        (resident_id,),
    )
    return [row[0] for row in await cursor.fetchall()]


async def test_raw_fixes_expire_after_the_retention_the_administrator_sets(
    staff: httpx.AsyncClient, world: World, db: Conn, login: Login, database_url: str
) -> None:
    rid = world.resident_ids[0]
    now = datetime.now(UTC)
    await _store_fixes(db, rid, [(now - timedelta(days=days), *HOME) for days in (20, 8, 1)])
    policy = "/api/admin/location-policy"
    assert (await staff.get(policy)).json()["retention_days"] == 30
    assert "retention_days" in _named(await staff.put(policy, json={"retention_days": 0}))[0]
    assert (await (await login("operator")).put(policy, json={"retention_days": 1})).status_code == 403
    set_to = await staff.put(policy, json={"retention_days": 7})
    assert (set_to.status_code, set_to.json()["updated_by"]) == (200, "service")

    async def maintained() -> MaintenanceReport | None:  # once the backend's own run lets go of the lock
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await maintain_once(conn, settings=StorageSettings(_env_file=None, raw_retention_days=30))  # type: ignore[call-arg]

    await eventually(maintained)  # this run, or the backend's own if it came first after the setting
    left = await scalar_in(db, "SELECT count(*) FROM location_fixes WHERE resident_id = %s", rid)
    assert left == 1

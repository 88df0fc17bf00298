"""The alarm pipeline end to end: device → real broker → gateway → PostgreSQL → backend → incident, escalation,
dispatch, help-is-coming downlink and the live feed; time moves on a manual clock, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import psycopg.types.json
import pytest
from websockets.asyncio.client import connect

from homecare.backend.alarms.pipeline import ManualClock
from homecare.contracts.codec import decode_command
from homecare.gateway.service import Gateway
from tests.support.backend import AUTH, TOKEN, Backend, start_backend
from tests.support.enrolment import Household, enrol
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

DEVICES = {
    "wr-pipe-01": "wristband",
    "sos-pipe-01": "sos_pendant",
    "fs-pipe-01": "fall_sensor",
    "smoke-pipe-01": "smoke_sensor",
    "door-pipe-01": "door_sensor",
    "hu-pipe-01": "home_unit",
    "bp-pipe-01": "blood_pressure_monitor",
}
amqtt_only = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)


@pytest.fixture
async def household(database_url: str) -> Household:
    """A resident at home in a small city with three stations: home (A), then B nearer than C."""
    home = await enrol(database_url, DEVICES)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for code, lat, lon in (("A", 31.2300, 121.4700), ("B", 31.2400, 121.4700), ("C", 31.2600, 121.4700)):
            await conn.execute(
                "INSERT INTO stations (code, name, address, lat, lon, opens, closes) "
                "VALUES (%s, %s, 'addr', %s, %s, '00:00', '00:00')",
                (code, f"Station {code}", lat, lon),
            )
        await conn.execute(
            "UPDATE residents SET lat = 31.2310, lon = 121.4710, station_id = (SELECT id FROM stations "
            "WHERE code = 'A') WHERE id = %s",
            (home.resident_id,),
        )
    return home


@pytest.fixture
def backend(broker_url: str, household: Household, gateway: Gateway, clocked_backend: Backend) -> Backend:
    # household before gateway: the gateway loads its device registry at start.
    return clocked_backend


@pytest.fixture
def device(broker_url: str) -> Any:
    client = TestClient(broker_url)
    client.subscribe("homecare/v1/dev/+/cmd")
    yield client
    client.close()


class Sender:
    """Publishes device events as firmware would (JSON on the device's event topic, QoS 1)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seq: dict[str, int] = {}

    def event(self, uid: str, kind: str, *, seq: int | None = None, **fields: Any) -> int:
        if seq is None:
            seq = self.seq[uid] = self.seq.get(uid, 0) + 1
        payload = {"v": 1, "device_id": uid, "seq": seq, "ts": int(time.time() * 1000), "kind": kind, **fields}
        self.client.publish(f"homecare/v1/dev/{uid}/event", json.dumps(payload))
        return seq


def help_coming(client: TestClient, uid: str) -> list[Any]:
    found = []
    for message in list(client.received):
        if message.topic == f"homecare/v1/dev/{uid}/cmd":
            body = decode_command(message.payload).body
            if body.kind == "help_coming":
                found.append(body)
    return found


async def rows(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await (await conn.execute(query, params)).fetchall()


async def incidents_of(database_url: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute("SELECT * FROM incidents ORDER BY id")
        return await cur.fetchall()


async def one_incident(database_url: str, **expected: Any) -> dict[str, Any] | None:
    found = await incidents_of(database_url)
    if len(found) == 1 and all(found[0][k] == v for k, v in expected.items()):
        return found[0]
    assert len(found) <= 1, found
    return None


async def post(backend: Backend, path: str, body: dict[str, Any], expect: int = 200) -> Any:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        response = await client.post(f"/api{path}", json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def get(backend: Backend, path: str) -> Any:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        response = await client.get(f"/api{path}")
    assert response.status_code == 200, response.text
    return response.json()


# --- the tests -------------------------------------------------------------------------------------


async def test_a_wristband_fall_is_one_pre_alarm_and_im_ok_cancels_it(
    backend: Backend, device: TestClient, database_url: str, clock: ManualClock
) -> None:
    sender = Sender(device)
    started = time.monotonic()
    seq = sender.event("wr-pipe-01", "fall_detected", confidence=0.91)
    incident = await eventually(lambda: one_incident(database_url, status="pre_alarm"))
    latency = time.monotonic() - started
    assert latency < 2.0, f"fall took {latency:.3f} s to become an incident"
    assert (incident["cause"], incident["priority"]) == ("fall", 1)
    assert (incident["recovery_deadline"] - incident["opened_at"]).total_seconds() == 45

    clock.advance(20)  # within the window
    sender.event("wr-pipe-01", "im_ok", cancels_seq=seq)
    cancelled = await eventually(lambda: one_incident(database_url, status="cancelled"))
    assert cancelled["outcome"] == "cancelled_by_resident"
    clock.advance(60)  # the countdown's deadline passes: the cancelled pre-alarm must not come back
    await asyncio.sleep(0.5)
    assert (await one_incident(database_url))["status"] == "cancelled"  # type: ignore[index]
    trail = await rows(database_url, "SELECT from_status, to_status, actor FROM incident_transitions ORDER BY id")
    assert trail == [(None, "pre_alarm", "device"), ("pre_alarm", "cancelled", "resident")]
    assert help_coming(device, "hu-pipe-01") == []


@amqtt_only
async def test_a_residents_own_recovery_window_is_used_and_zero_means_an_alarm_at_once(
    backend: Backend, device: TestClient, database_url: str, household: Household
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO detection_settings (resident_id, overrides) VALUES (%s, %s)",
            (household.resident_id, psycopg.types.json.Jsonb({"falls": {"recovery_window_s": 90}})),
        )
    sender = Sender(device)
    sender.event("wr-pipe-01", "fall_detected", confidence=0.9)
    waiting = await eventually(lambda: one_incident(database_url, status="pre_alarm"))
    assert (waiting["recovery_deadline"] - waiting["opened_at"]).total_seconds() == 90

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE incidents SET status = 'cancelled', closed_at = now()")
        await conn.execute(
            "UPDATE detection_settings SET overrides = %s",
            (psycopg.types.json.Jsonb({"falls": {"recovery_window_s": 0}}),),
        )
    sender.event("wr-pipe-01", "fall_detected", confidence=0.9)

    async def second() -> dict[str, Any] | None:
        found = await incidents_of(database_url)
        return found[1] if len(found) == 2 else None

    at_once = await eventually(second)
    assert (at_once["cause"], at_once["status"], at_once["recovery_deadline"]) == ("fall", "open", None)


@amqtt_only
async def test_every_alarm_kind_maps_to_its_incident(
    backend: Backend, device: TestClient, database_url: str, household: Household
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # This resident's own priority for a removed wristband (she forgets it at night; staff want to know).
        await conn.execute(
            "INSERT INTO detection_settings (resident_id, overrides) VALUES (%s, %s)",
            (household.resident_id, psycopg.types.json.Jsonb({"priorities": {"wearable_removed": 3}})),
        )
    sender = Sender(device)
    sender.event("fs-pipe-01", "fall_detected", room="bathroom")
    sender.event("smoke-pipe-01", "smoke", room="kitchen")
    sender.event("wr-pipe-01", "wearable_removed")
    sender.event("door-pipe-01", "door_open", room="hall")
    sender.event("sos-pipe-01", "sos")

    async def five_processed() -> bool:
        return (await rows(database_url, "SELECT count(*) FROM pipeline_processed"))[0][0] == 5

    await eventually(five_processed)
    found = {i["cause"]: (i["status"], i["priority"]) for i in await incidents_of(database_url)}
    assert found == {
        "fall_confirmed": ("open", 1),
        "smoke": ("open", 1),
        "wearable_removed": ("open", 3),
        "sos": ("open", 1),
    }
    queue = await get(backend, "/incidents")
    assert [i["priority"] for i in queue] == [1, 1, 1, 3]
    assert [i["cause"] for i in queue[:3]] == ["fall_confirmed", "smoke", "sos"]  # same priority: oldest first

    stations = await get(backend, "/stations")
    assert [(s["code"], s["available_now"]) for s in stations] == [("A", True), ("B", True), ("C", True)]
    policy = await get(backend, "/incidents/escalation/policy")
    assert policy["policies"][0]["acknowledge"]["within_s"] == 60
    coverage = await get(backend, "/stations/coverage")
    assert (coverage["covered"], coverage["outside"]) == (1, [])
    async with httpx.AsyncClient(base_url=backend.url) as anonymous:
        assert (await anonymous.get("/api/incidents")).status_code == 401


@amqtt_only
async def test_unacknowledged_alarm_escalates_then_station_that_does_not_accept_is_skipped(
    backend: Backend, device: TestClient, database_url: str, clock: ManualClock
) -> None:
    sender = Sender(device)
    sender.event("wr-pipe-01", "fall_detected")
    incident = await eventually(lambda: one_incident(database_url, status="pre_alarm"))
    iid = incident["id"]

    clock.advance(44)
    await asyncio.sleep(0.5)
    assert (await one_incident(database_url))["status"] == "pre_alarm"  # type: ignore[index]
    clock.advance(2)  # past the 45 s window: an alarm
    await eventually(lambda: one_incident(database_url, status="open"))
    clock.advance(59)
    await asyncio.sleep(0.5)
    assert (await one_incident(database_url))["escalation_level"] == 0  # type: ignore[index]
    clock.advance(2)  # 61 s unacknowledged: every operator and the supervisor are alerted
    await eventually(lambda: one_incident(database_url, escalation_level=1))
    clock.advance(61)  # and again, every 60 s
    await eventually(lambda: one_incident(database_url, escalation_level=2))

    await post(backend, f"/incidents/{iid}/acknowledge", {"actor": "operator Li"})
    clock.advance(300)
    await asyncio.sleep(0.5)
    assert (await one_incident(database_url))["escalation_level"] == 2  # type: ignore[index]
    await post(backend, f"/incidents/{iid}/call", {"actor": "operator Li", "note": "no answer"})

    suggestions = await get(backend, f"/incidents/{iid}/stations")
    assert [(s["code"], s["home"]) for s in suggestions] == [("A", True), ("B", False), ("C", False)]
    assert 0 < suggestions[0]["travel_min"] < suggestions[1]["travel_min"] < suggestions[2]["travel_min"]
    task = await post(backend, f"/incidents/{iid}/dispatch", {"actor": "operator Li"}, expect=201)
    assert (task["station_name"], task["status"]) == ("Station A", "offered")
    eta = await eventually(lambda: asyncio.sleep(0, help_coming(device, "hu-pipe-01")))
    assert (eta[0].incident_id, eta[0].eta_min) == (iid, 1)

    clock.advance(181)  # station A does not accept within 180 s: B is asked
    tasks = await eventually(lambda: _tasks(database_url, 2))
    assert [(t[1], t[2]) for t in tasks] == [("A", "timed_out"), ("B", "offered")]
    await post(backend, f"/tasks/{tasks[1][0]}/decline", {"actor": "desk B", "note": "nobody free"})
    tasks = await _tasks(database_url, 3)
    assert [(t[1], t[2]) for t in tasks] == [("A", "timed_out"), ("B", "declined"), ("C", "offered")]
    c = tasks[2][0]
    await post(backend, f"/tasks/{c}/accept", {"actor": "responder Zhao"})
    clock.advance(600)  # an accepted task no longer times out
    await asyncio.sleep(0.5)
    await post(backend, f"/tasks/{c}/en-route", {"actor": "responder Zhao"})
    await post(backend, f"/tasks/{c}/on-scene", {"actor": "responder Zhao"})
    await post(backend, f"/tasks/{c}/done", {"actor": "responder Zhao", "note": "helped her up, no injury"})
    await post(backend, f"/incidents/{iid}/resolve", {"actor": "operator Li", "outcome": "no_injury"})
    assert len(help_coming(device, "hu-pipe-01")) == 1  # told once, not per station offered

    detail = await get(backend, f"/incidents/{iid}")
    steps = [(t["from_status"], t["to_status"], t["actor"], t["detail"]["change"]) for t in detail["transitions"]]
    statuses = [(f, t, a) for f, t, a, _ in steps if f != t]
    assert statuses == [
        (None, "pre_alarm", "device"),
        ("pre_alarm", "open", "system"),
        ("open", "acknowledged", "operator Li"),
        ("acknowledged", "in_call", "operator Li"),
        ("in_call", "dispatched", "operator Li"),
        ("dispatched", "on_scene", "responder Zhao"),
        ("on_scene", "resolved", "operator Li"),
    ]
    changes = [c for *_, c in steps]
    assert changes.count("escalated") == 2
    assert {"task_timed_out", "task_declined", "help_coming", "task_done"} <= set(changes)
    assert detail["incident"]["outcome"] == "no_injury"
    assert all(t["at"] for t in detail["transitions"])
    # Invalid transitions are refused with 409 and leave no trace.
    await post(backend, f"/incidents/{iid}/acknowledge", {"actor": "operator Li"}, expect=409)
    assert len((await get(backend, f"/incidents/{iid}"))["transitions"]) == len(steps)


async def _tasks(database_url: str, n: int) -> list[tuple[Any, ...]] | None:
    found = await rows(
        database_url,
        "SELECT t.id, s.code, t.status FROM station_tasks t JOIN stations s ON s.id = t.station_id ORDER BY t.id",
    )
    return found if len(found) == n and found[-1][2] == "offered" else None


@amqtt_only
async def test_duplicates_never_double_dispatch(backend: Backend, device: TestClient, database_url: str) -> None:
    sender = Sender(device)
    seq = sender.event("sos-pipe-01", "sos")
    incident = await eventually(lambda: one_incident(database_url, status="open"))
    sender.event("sos-pipe-01", "sos", seq=seq)  # the device resends (no ack seen): same seq
    sender.event("sos-pipe-01", "sos")  # and presses again: a new seq folds into the same incident
    await eventually(lambda: one_incident(database_url, repeat_count=2))
    await asyncio.sleep(0.3)
    assert (await rows(database_url, "SELECT count(*) FROM events"))[0][0] == 2

    iid = incident["id"]
    await post(backend, f"/incidents/{iid}/dispatch", {"actor": "operator Li"}, expect=201)
    again = await post(backend, f"/incidents/{iid}/dispatch", {"actor": "operator Wu"}, expect=409)
    assert "already" in again["detail"]
    sender.event("sos-pipe-01", "sos")
    await eventually(lambda: one_incident(database_url, repeat_count=3))
    assert (await rows(database_url, "SELECT count(*) FROM station_tasks"))[0][0] == 1
    await eventually(lambda: asyncio.sleep(0, help_coming(device, "hu-pipe-01")))
    await asyncio.sleep(0.3)
    assert len(help_coming(device, "hu-pipe-01")) == 1


@amqtt_only
async def test_a_backend_restart_loses_no_timer_and_misses_no_event(
    backend: Backend, device: TestClient, database_url: str, broker_url: str, clock: ManualClock
) -> None:
    sender = Sender(device)
    sender.event("wr-pipe-01", "fall_detected")
    await eventually(lambda: one_incident(database_url, status="pre_alarm"))
    await backend.stop()

    # While the backend is down: the countdown runs out, and a device raises an SOS (the gateway stores it).
    clock.advance(50)
    sender.event("sos-pipe-01", "sos")

    async def sos_stored() -> bool:
        return (await rows(database_url, "SELECT count(*) FROM events WHERE kind = 'sos'"))[0][0] == 1

    await eventually(sos_stored)
    assert [i["status"] for i in await incidents_of(database_url)] == ["pre_alarm"]

    restarted = await start_backend(database_url, clock)
    try:

        async def both() -> bool:
            found = {i["cause"]: i["status"] for i in await incidents_of(database_url)}
            return found == {"fall": "open", "sos": "open"}

        await eventually(both)
        clock.advance(61)  # the acknowledge clocks started after the restart run on too

        async def escalated() -> bool:
            return all(i["escalation_level"] == 1 for i in await incidents_of(database_url))

        await eventually(escalated)
    finally:
        await restarted.stop()
    processed = await rows(database_url, "SELECT count(*), count(DISTINCT item_id) FROM pipeline_processed")
    assert processed == [(2, 2)]
    opened = await rows(database_url, "SELECT count(*) FROM incident_transitions WHERE from_status IS NULL")
    assert opened == [(2,)]


@amqtt_only
async def test_the_feed_resumes_from_a_cursor_without_gaps(
    backend: Backend, device: TestClient, database_url: str, clock: ManualClock
) -> None:
    url = f"{backend.ws_url}/api/incidents/feed"
    with pytest.raises(Exception, match=r"403|1008|bearer token"):
        async with connect(f"{url}?token=wrong-token") as ws:
            await asyncio.wait_for(ws.recv(), 5)

    sender = Sender(device)
    seen: list[dict[str, Any]] = []
    async with connect(f"{url}?after=0", additional_headers=AUTH) as ws:
        sender.event("sos-pipe-01", "sos")
        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        assert (seen[0]["change"], seen[0]["snapshot"]["cause"]) == ("opened", "sos")
    iid = seen[0]["incident_id"]

    # Disconnected: changes keep happening.
    await post(backend, f"/incidents/{iid}/acknowledge", {"actor": "operator Li"})
    await post(backend, f"/incidents/{iid}/notes", {"actor": "operator Li", "note": "calling her daughter"})
    sender.event("smoke-pipe-01", "smoke")
    await eventually(lambda: _change_count(database_url, 4))

    async with connect(f"{url}?after={seen[-1]['id']}&token={TOKEN}") as ws:
        for _ in range(3):
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        await post(backend, f"/incidents/{iid}/resolve", {"actor": "operator Li", "outcome": "false_alarm"})
        seen.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    stored = await rows(database_url, "SELECT id, change FROM incident_changes ORDER BY id")
    assert [(c["id"], c["change"]) for c in seen] == [tuple(r) for r in stored]
    assert [c["change"] for c in seen] == ["opened", "acknowledged", "noted", "opened", "resolved"]
    assert seen[-1]["snapshot"]["status"] == "resolved"


async def _change_count(database_url: str, n: int) -> bool:
    return (await rows(database_url, "SELECT count(*) FROM incident_changes"))[0][0] >= n


@amqtt_only
async def test_the_fall_model_downgrades_a_doubtful_fall_but_a_human_still_sees_it(
    backend: Backend, device: TestClient, database_url: str, clock: ManualClock
) -> None:
    sender = Sender(device)
    seq = sender.event("wr-pipe-01", "fall_detected", confidence=0.55)
    now_ms = int(time.time() * 1000)
    still = [[0, 0, 1000]] * 200  # four seconds of lying still at 50 Hz: no impact, no fall
    burst = {
        "v": 1,
        "device_id": "wr-pipe-01",
        "seq": seq + 1,
        "ts": now_ms,
        "event_seq": seq,
        "t0": now_ms - 4000,
        "fs": 50.0,
        "acc": still,
    }
    device.publish("homecare/v1/dev/wr-pipe-01/imu", json.dumps(burst))

    async def reviewed() -> list[tuple[Any, ...]]:
        return await rows(database_url, "SELECT outcome FROM pipeline_processed WHERE source = 'imu_burst'")

    assert await eventually(reviewed, timeout=20) == [("doubted",)]
    incident = await one_incident(database_url, status="pre_alarm")
    assert incident is not None
    assert incident["priority"] == 4
    trail = await rows(database_url, "SELECT actor, detail->'why' FROM incident_transitions ORDER BY id")
    assert trail[-1][0] == "fall-model"
    assert trail[-1][1]["code"] == "fall_model_doubts"
    assert trail[-1][1]["params"]["priority"] == 4
    clock.advance(46)  # no "I'm OK": it still becomes an alarm, at low priority, in front of a person
    await eventually(lambda: one_incident(database_url, status="open", priority=4))


@amqtt_only
async def test_the_periodic_detectors_raise_an_incident_from_the_running_pipeline(
    backend: Backend, database_url: str, household: Household, clock: ManualClock
) -> None:
    """A wristband that stops sending heartbeats becomes a device-health incident, through the detectors
    that the pipeline runs beside the alarm path."""
    wristband = household.devices["wr-pipe-01"]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO device_state (device_id, online, last_seen_at, last_heartbeat_at, battery) "
            "VALUES (%s, true, %s, %s, 80)",
            (wristband, clock.now() - timedelta(hours=1), clock.now() - timedelta(hours=1)),
        )
    clock.advance(31)  # the detectors' next turn

    async def device_offline() -> bool:
        return any(i["cause"] == "device_offline" for i in await incidents_of(database_url))

    await eventually(device_offline, timeout=15)


@amqtt_only
async def test_a_hypertensive_crisis_reading_becomes_an_incident(
    backend: Backend, database_url: str, household: Household, clock: ManualClock, device: TestClient
) -> None:
    """A cuff's reading of 192/118 goes through the broker and the gateway into the telemetry, and the detectors
    the pipeline runs make it an urgent incident with its reason in both languages."""
    reading = {
        "v": 1,
        "device_id": "bp-pipe-01",
        "seq": 1,
        "ts": int(time.time() * 1000),
        "blood_pressure": {"systolic": 192, "diastolic": 118, "pulse": 88, "unit": "mmHg"},
    }
    device.publish("homecare/v1/dev/bp-pipe-01/measurement", json.dumps(reading))

    async def stored() -> bool:
        return (
            len(await rows(database_url, "SELECT 1 FROM telemetry WHERE resident_id = %s", household.resident_id)) == 3
        )

    await eventually(stored)
    clock.advance(31)  # the detectors' next turn
    incident = await eventually(
        lambda: one_incident(database_url, cause="blood_pressure_crisis", status="open", priority=2), timeout=15
    )
    assert incident["device_id"] == household.devices["bp-pipe-01"]
    assert "192/118 mmHg" in incident["explanation_en"]
    assert "高血压危象" in incident["explanation_zh"]

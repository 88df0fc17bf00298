"""Medication through the whole path: schedules from the call centre (a 422 naming the field), a reminder command to
the home unit at each dose time, the resident's "taken" button (device → real broker → gateway → events → backend)
or a pill dispenser confirming it, a dose for another resident's schedule dead-lettered with its reason, a dose
nobody confirmed told to the family and later to the station (time moves on a manual clock), and adherence on the
family's view and in the supervisor's figures."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from homecare.backend.alarms.pipeline import ManualClock
from homecare.contracts.codec import decode_command
from homecare.gateway.service import Gateway
from tests.support.backend import AUTH, Backend
from tests.support.database import scalar
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import Login, World

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 20, 7, 58, tzinfo=SHANGHAI)  # two minutes before the morning dose


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START.astimezone(UTC))


@pytest.fixture
def backend(broker_url: str, world: World, gateway: Gateway, clocked_backend: Backend) -> Backend:
    return clocked_backend


@pytest.fixture
async def admin(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as client:
        yield client


async def home_unit(database_url: str, resident_id: int) -> str:
    return str(
        await scalar(database_url, "SELECT uid FROM devices WHERE resident_id = %s AND kind = 'home_unit'", resident_id)
    )


def press_taken(device: TestClient, uid: str, seq: int, schedule_id: int, due: datetime) -> None:
    """The resident presses "taken" on the home unit: it publishes dose_taken as firmware would."""
    payload = {
        "v": 1,
        "device_id": uid,
        "seq": seq,
        "ts": int(time.time() * 1000),
        "kind": "dose_taken",
        "schedule_id": schedule_id,
        "dose_due": int(due.timestamp() * 1000),
    }
    device.publish(f"homecare/v1/dev/{uid}/event", json.dumps(payload))


def reminders(commands: TestClient, uid: str) -> list[Any]:
    return [
        body
        for message in list(commands.received)
        if message.topic == f"homecare/v1/dev/{uid}/cmd"
        and (body := decode_command(message.payload).body).kind == "dose_reminder"
    ]


async def add_schedule(admin: httpx.AsyncClient, resident_id: int, **fields: object) -> dict[str, Any]:
    body = {"medicine": "二甲双胍 Metformin", "dose": "500 mg", "times": ["08:00", "20:00"], "with_food": True}
    made = await admin.post(
        f"/api/medication/residents/{resident_id}/schedules",
        json={**body, "starts_on": START.date().isoformat(), **fields},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def locs(response: httpx.Response) -> list[list[str | int]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


async def test_schedules_are_kept_per_resident_and_bad_input_names_the_field(
    admin: httpx.AsyncClient, world: World, login: Login, db: psycopg.AsyncConnection[Any], database_url: str
) -> None:
    resident = world.resident_ids[0]
    url = f"/api/medication/residents/{resident}/schedules"
    good = {"medicine": "氨氯地平", "dose": "5 mg", "times": ["20:00", "08:00"], "starts_on": "2026-11-20"}
    assert locs(await admin.post(url, json={**good, "times": ["25:00"]})) == [["body", "times", 0]]
    assert locs(await admin.post(url, json={**good, "times": ["08:00", "08:00"]})) == [["body", "times"]]
    assert locs(await admin.post(url, json={**good, "times": []})) == [["body", "times"]]
    assert locs(await admin.post(url, json={**good, "medicine": ""})) == [["body", "medicine"]]
    assert locs(await admin.post(url, json={**good, "ends_on": "2026-11-19"})) == [["body", "ends_on"]]
    assert (await admin.post("/api/medication/residents/999999/schedules", json=good)).status_code == 404

    made = await add_schedule(admin, resident, **good)
    assert (made["times"], made["with_food"], made["created_by"]) == (["08:00:00", "20:00:00"], True, "service")
    family = await login("family")
    assert (await family.post(url, json=good)).status_code == 403
    seen = await family.get(f"/api/medication/residents/{resident}")
    assert seen.status_code == 200, seen.text
    assert [s["medicine"] for s in seen.json()["schedules"]] == ["氨氯地平"]
    # Another family's relative, or this one once vitals are not shared: as if there were nobody.
    assert (await family.get(f"/api/medication/residents/{world.resident_ids[1]}")).status_code == 404
    await db.execute("UPDATE family_links SET share_vitals = false WHERE resident_id = %s", (resident,))
    assert (await family.get(f"/api/medication/residents/{resident}")).status_code == 404

    stopped = await admin.post(f"/api/medication/schedules/{made['id']}/stop")
    assert stopped.json()["stopped_at"] is not None
    assert (await admin.post("/api/medication/schedules/999999/stop")).status_code == 404
    logged = await scalar(
        database_url, "SELECT count(*) FROM access_log WHERE action LIKE 'medication.%%' AND resident_id = %s", resident
    )
    assert logged == 2  # created and stopped; the family's reads are logged as family.medication


async def test_the_home_unit_is_reminded_and_the_residents_button_confirms_the_dose(
    admin: httpx.AsyncClient,
    world: World,
    login: Login,
    clock: ManualClock,
    device: TestClient,
    commands: TestClient,
    database_url: str,
) -> None:
    resident = world.resident_ids[0]
    uid = await home_unit(database_url, resident)
    schedule = await add_schedule(admin, resident)
    assert reminders(commands, uid) == []
    clock.advance(2 * 60)  # 08:00: the dose is due
    [reminder] = await eventually(lambda: reminders(commands, uid))
    due = START.replace(hour=8, minute=0)
    assert (reminder.schedule_id, reminder.dose_due) == (schedule["id"], int(due.timestamp() * 1000))
    assert "二甲双胍 Metformin 500 mg" in reminder.message_zh
    assert "with food" in reminder.message_en

    clock.advance(60)
    press_taken(device, uid, 9001, schedule["id"], due)
    family = await login("family")

    async def taken() -> dict[str, Any] | None:
        seen = (await family.get(f"/api/medication/residents/{resident}")).json()
        return seen if seen["recent"] and seen["recent"][0]["state"] == "taken" else None

    seen = await eventually(taken)
    assert seen["recent"][0]["confirmed_by"] == "home_unit"
    assert seen["recent"][0]["home_units"] == 1
    assert (seen["adherence"]["due"], seen["adherence"]["confirmed"], seen["adherence"]["share"]) == (1, 1, 1.0)

    # A dose for a schedule that is not this resident's is refused and kept with its reason; nothing is confirmed.
    other = await add_schedule(admin, world.resident_ids[1], times=["08:00"])
    press_taken(device, uid, 9002, other["id"], due)
    reason = await eventually(
        lambda: scalar(database_url, "SELECT reason FROM dead_letters WHERE device_uid = %s", uid)
    )
    assert reason.startswith("unknown_schedule:")
    assert str(other["id"]) in reason
    assert await scalar(database_url, "SELECT count(*) FROM events WHERE kind = 'dose_taken'") == 1


async def test_a_dose_nobody_confirms_is_told_to_the_family_then_to_the_station(
    admin: httpx.AsyncClient,
    world: World,
    login: Login,
    clock: ManualClock,
    device: TestClient,
    database_url: str,
    db: psycopg.AsyncConnection[Any],
) -> None:
    resident = world.resident_ids[0]
    await db.execute(
        "INSERT INTO resident_contacts (resident_id, call_order, name, relation, email) "
        "VALUES (%s, 9, '王芳', 'daughter', 'wang.fang@example.com')",
        (resident,),
    )
    schedule = await add_schedule(admin, resident, times=["08:00"])
    clock.advance(2 * 60)
    await eventually(lambda: scalar(database_url, "SELECT reminded_at FROM medication_doses"))
    clock.advance(29 * 60)  # 08:29: still inside the 30-minute window
    family = await login("family")
    seen = (await family.get(f"/api/medication/residents/{resident}")).json()
    assert seen["recent"][0]["state"] == "pending"
    assert seen["adherence"]["due"] == 0  # not counted while it may still be taken

    clock.advance(2 * 60)  # 08:31: the family is told, nobody else yet
    subject = await eventually(
        lambda: scalar(
            database_url,
            "SELECT subject FROM notification_outbox WHERE audience = 'family' AND dose_id IS NOT NULL "
            "AND recipient = 'wang.fang@example.com'",
        )
    )
    assert "二甲双胍 Metformin 500 mg" in subject
    seen = (await family.get(f"/api/medication/residents/{resident}")).json()
    assert (seen["recent"][0]["state"], seen["recent"][0]["family_told"]) == ("missed", 1)
    assert seen["recent"][0]["station_told_at"] is None
    assert (seen["adherence"]["due"], seen["adherence"]["confirmed"]) == (1, 0)
    assert await scalar(database_url, "SELECT count(*) FROM incidents WHERE cause = 'missed_dose'") == 0

    clock.advance(30 * 60)  # 09:01: the station (through the operators' queue) is told
    incident = await eventually(
        lambda: scalar(
            database_url, "SELECT id FROM incidents WHERE cause = 'missed_dose' AND resident_id = %s", resident
        )
    )
    explanation = await scalar(database_url, "SELECT explanation_en FROM incidents WHERE id = %s", incident)
    assert "due at 08:00 not confirmed taken" in explanation
    seen = (await family.get(f"/api/medication/residents/{resident}")).json()
    assert seen["recent"][0]["incident_id"] == incident

    figures = await admin.get(
        "/api/medication/adherence",
        params={"since": (START - timedelta(days=1)).isoformat(), "until": clock.now().isoformat()},
    )
    assert [(f["resident_id"], f["due"], f["confirmed"]) for f in figures.json()] == [(resident, 1, 0)]

    # The resident finally presses "taken": it counts, and the incident says so.
    uid = await home_unit(database_url, resident)
    press_taken(device, uid, 9101, schedule["id"], START.replace(hour=8, minute=0))
    await eventually(lambda: scalar(database_url, "SELECT confirmed_at FROM medication_doses"))
    await eventually(
        lambda: scalar(
            database_url,
            "SELECT count(*) FROM incident_transitions WHERE incident_id = %s AND detail->>'signal' = 'clear'",
            incident,
        )
    )
    supervisor = await login("supervisor")
    figures = await supervisor.get(
        "/api/medication/adherence",
        params={"since": (START - timedelta(days=1)).isoformat(), "until": clock.now().isoformat()},
    )
    assert [(f["due"], f["confirmed"], f["share"]) for f in figures.json()] == [(1, 1, 1.0)]
    assert (
        await family.get("/api/medication/adherence", params={"since": START.isoformat(), "until": START.isoformat()})
    ).status_code == 403


async def test_a_schedule_with_its_own_short_windows_reaches_the_family_and_the_station_sooner(
    admin: httpx.AsyncClient, world: World, login: Login, clock: ManualClock, database_url: str
) -> None:
    """A time-critical medicine (or the simulator's fast play) sets its own windows: 2 minutes, then 3 more."""
    resident = world.resident_ids[0]
    url = f"/api/medication/residents/{resident}/schedules"
    good = {
        "medicine": "左旋多巴 Levodopa",
        "dose": "100 mg",
        "times": ["08:00"],
        "starts_on": START.date().isoformat(),
    }
    assert locs(await admin.post(url, json={**good, "confirm_window_min": 0})) == [["body", "confirm_window_min"]]
    assert locs(await admin.post(url, json={**good, "station_after_min": 721})) == [["body", "station_after_min"]]
    schedule = await add_schedule(admin, resident, **good, confirm_window_min=2, station_after_min=3)
    assert (schedule["confirm_window_min"], schedule["station_after_min"]) == (2, 3)
    family = await login("family")
    clock.advance(2 * 60)  # 08:00: due
    await eventually(lambda: scalar(database_url, "SELECT reminded_at FROM medication_doses"))
    clock.advance(60)  # 08:01: still inside its window
    seen = (await family.get(f"/api/medication/residents/{resident}")).json()
    assert seen["recent"][0]["state"] == "pending"

    clock.advance(2 * 60)  # 08:03: past its 2 minutes, not the platform's 30: missed, the family is told
    await eventually(lambda: scalar(database_url, "SELECT family_told_at FROM medication_doses"))
    seen = (await family.get(f"/api/medication/residents/{resident}")).json()
    assert seen["recent"][0]["state"] == "missed"
    assert (seen["adherence"]["due"], seen["adherence"]["confirmed"]) == (1, 0)
    assert await scalar(database_url, "SELECT count(*) FROM incidents WHERE cause = 'missed_dose'") == 0

    clock.advance(3 * 60)  # 08:06: three minutes later the operators and the station
    explanation = await eventually(
        lambda: scalar(
            database_url,
            "SELECT explanation_en FROM incidents WHERE cause = 'missed_dose' AND resident_id = %s",
            resident,
        )
    )
    assert "左旋多巴 Levodopa 100 mg due at 08:00 not confirmed taken" in explanation


async def test_a_pill_dispenser_confirms_a_dose_even_before_the_reminder_and_a_wrong_time_changes_nothing(
    admin: httpx.AsyncClient, world: World, device: TestClient, database_url: str, db: psycopg.AsyncConnection[Any]
) -> None:
    resident = world.resident_ids[1]
    await db.execute(
        "INSERT INTO devices (uid, kind, resident_id) VALUES ('pd-test-01', 'pill_dispenser', %s)", (resident,)
    )
    schedule = await add_schedule(admin, resident, times=["08:00"])
    due = START.replace(hour=8, minute=0)
    # Taken out of its compartment at 07:59, before the platform reminded anyone: confirmed all the same.
    press_taken(device, "pd-test-01", 1, schedule["id"], due)
    # The dispenser publishes right after its enrolment, before the gateway's device list has reloaded.
    by = await eventually(lambda: scalar(database_url, "SELECT confirmed_by FROM medication_doses"), timeout=30)
    assert by == "pill_dispenser"
    # A dose at a time the schedule does not have is stored as an event and ignored.
    press_taken(device, "pd-test-01", 2, schedule["id"], due + timedelta(minutes=7))
    outcome = await eventually(
        lambda: scalar(
            database_url,
            "SELECT p.outcome FROM pipeline_processed p JOIN events e ON e.id = p.item_id WHERE e.seq = 2 "
            "AND e.device_id = (SELECT id FROM devices WHERE uid = 'pd-test-01')",
        ),
        timeout=30,
    )
    assert outcome.endswith("ignored")
    assert await scalar(database_url, "SELECT count(*) FROM medication_doses") == 1

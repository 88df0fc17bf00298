"""The station view and the family status page through the API: a responder's tasks with ETag polling, duty,
and a family member's status, today against a usual day, nights in bed and incident history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from homecare.backend.alarms.pipeline import ManualClock
from homecare.contracts.messages import Metric
from tests.support.backend import AUTH, Backend
from tests.support.telemetry import Point, store_telemetry
from tests.support.waiting import eventually
from tests.support.world import Login, World

SHANGHAI = ZoneInfo("Asia/Shanghai")


def last_afternoon() -> datetime:
    """The latest 15:30 in Shanghai: a fixed time of day, so that "today so far" is the same in every run."""
    now = datetime.now(SHANGHAI)
    at = datetime.combine(now.date(), time(15, 30), SHANGHAI)
    return (at if at <= now else at - timedelta(days=1)).astimezone(UTC)


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(last_afternoon())


@pytest.fixture
def backend(broker_url: str, world: World, clocked_backend: Backend) -> Backend:
    return clocked_backend


async def device_ids(db: psycopg.AsyncConnection[Any], resident_id: int) -> dict[str, int]:
    rows = await (await db.execute("SELECT kind, id FROM devices WHERE resident_id = %s", (resident_id,))).fetchall()
    return dict(rows)


async def add_event(
    db: psycopg.AsyncConnection[Any], *, device_id: int, resident_id: int, kind: str, at: datetime, priority: int = 5
) -> None:
    await db.execute(
        "INSERT INTO events (device_id, resident_id, seq, ts, received_at, kind, priority) "
        "VALUES (%s, %s, (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE device_id = %s), %s, %s, %s, %s)",
        (device_id, resident_id, device_id, at, at, kind, priority),
    )


async def _incident_of(db: psycopg.AsyncConnection[Any], resident_id: int, cause: str) -> int | None:
    row = await (
        await db.execute("SELECT id FROM incidents WHERE resident_id = %s AND cause = %s", (resident_id, cause))
    ).fetchone()
    return None if row is None else int(row[0])


async def open_sos(db: psycopg.AsyncConnection[Any], world: World, clock: ManualClock) -> int:
    resident = world.resident_ids[0]
    devices = await device_ids(db, resident)
    await add_event(db, device_id=devices["sos_pendant"], resident_id=resident, kind="sos", at=clock.now(), priority=1)

    return await eventually(lambda: _incident_of(db, resident, "sos"))


async def test_a_responder_works_a_task_from_the_station_view(
    backend: Backend,
    world: World,
    db: psycopg.AsyncConnection[Any],
    clock: ManualClock,
    login: Login,
) -> None:
    incident_id = await open_sos(db, world, clock)
    station = world.station_ids[0]
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        response = await service.post(
            f"/api/incidents/{incident_id}/dispatch", json={"actor": "operator Li", "station_id": station}
        )
        assert response.status_code == 201, response.text
        task_id = response.json()["id"]

    responder = await login("responder")
    first = await responder.get("/api/station")
    assert first.status_code == 200, first.text
    view = first.json()
    assert view["station"]["id"] == station
    assert [(t["id"], t["status"], t["cause"], t["resident"]["id"]) for t in view["tasks"]] == [
        (task_id, "offered", "sos", world.resident_ids[0])
    ]
    task = view["tasks"][0]
    assert all((task["resident"]["name"], task["resident"]["address"], task["travel_min"]))
    # The duty roster is the station's responders: its welfare visitor (孙丽) does not take alarms.
    assert [(p["display_name"], p["on_duty"], p["me"]) for p in view["roster"]] == [("王强", True, True)]
    assert (view["on_duty_count"], view["station"]["active_tasks"]) == (1, 1)
    etag = first.headers["etag"]
    assert etag == f'"{view["version"]}"'

    # Polling with the ETag: nothing changed, nothing sent, and no resident record opened again.
    logged = (await (await db.execute("SELECT count(*) FROM access_log WHERE actor = 'responder'")).fetchone())[0]
    unchanged = await responder.get("/api/station", headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    many_tags = ", ".join([etag] * 200)  # a client's list of tags is short; nobody's is kilobytes
    assert (await responder.get("/api/station", headers={"If-None-Match": many_tags})).status_code == 422
    assert (
        (await (await db.execute("SELECT count(*) FROM access_log WHERE actor = 'responder'")).fetchone())[0]
        == logged
        == 1
    )

    for action in ("accept", "en-route", "on-scene"):
        assert (await responder.post(f"/api/tasks/{task_id}/{action}", json={})).status_code == 200
    done = await responder.post(f"/api/tasks/{task_id}/done", json={"note": "扶起老人，无受伤"})
    assert done.status_code == 200, done.text
    changed = await responder.get("/api/station", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    closed = changed.json()["tasks"][0]
    assert (closed["status"], closed["responder"], closed["note"]) == ("done", "responder", "扶起老人，无受伤")
    assert all((closed["accepted_at"], closed["on_scene_at"], closed["closed_at"]))
    assert changed.json()["station"]["active_tasks"] == 0

    # A minute later, an alarm the station cannot take: declined with the reason, it is listed first of the
    # closed ones (latest first).
    clock.advance(60)
    devices = await device_ids(db, world.resident_ids[0])
    await add_event(
        db,
        device_id=devices["smoke_sensor" if "smoke_sensor" in devices else "home_unit"],
        resident_id=world.resident_ids[0],
        kind="smoke",
        at=clock.now(),
        priority=1,
    )
    smoke = await eventually(lambda: _incident_of(db, world.resident_ids[0], "smoke"))
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        offered = (await service.post(f"/api/incidents/{smoke}/dispatch", json={"station_id": station})).json()
    declined = await responder.post(f"/api/tasks/{offered['id']}/decline", json={"note": "两人都在外出任务中"})
    assert declined.status_code == 200, declined.text
    tasks = (await responder.get("/api/station")).json()["tasks"]
    assert [(t["id"], t["status"], t["note"]) for t in tasks] == [
        (offered["id"], "declined", "两人都在外出任务中"),
        (task_id, "done", "扶起老人，无受伤"),
    ]

    off = await responder.post("/api/station/duty", json={"on_duty": False})
    assert off.status_code == 204
    roster = (await responder.get("/api/station")).json()["roster"]
    assert [(p["on_duty"], p["me"]) for p in roster] == [(False, True)]

    # Responders see only their own station; managers pick one; others have no station view.
    other = (
        await (
            await db.execute(
                "INSERT INTO stations (code, name, address, lat, lon) "
                "VALUES ('X', 'Other', 'addr', 31.2, 121.4) RETURNING id"
            )
        ).fetchone()
    )[0]
    assert (await responder.get(f"/api/station?station_id={other}")).status_code == 403
    admin = await login("admin")
    assert (await admin.get("/api/station")).status_code == 422
    picked = await admin.get(f"/api/station?station_id={station}")
    assert picked.status_code == 200
    assert [t["id"] for t in picked.json()["tasks"]] == [offered["id"], task_id]
    assert (await admin.get("/api/station?station_id=999999")).status_code == 404
    for other in ("operator", "family"):
        client = await login(other)
        assert (await client.get("/api/station")).status_code == 403
        assert (await client.post("/api/station/duty", json={"on_duty": True})).status_code == 403


async def test_the_family_status_follows_the_incident_and_the_devices(
    backend: Backend,
    world: World,
    db: psycopg.AsyncConnection[Any],
    clock: ManualClock,
    login: Login,
) -> None:
    resident = world.resident_ids[0]
    family = await login("family")
    followed = (await family.get("/api/family/residents")).json()
    assert [(r["resident_id"], r["relation"], r["share_vitals"]) for r in followed] == [(resident, "女儿", True)]

    devices = await device_ids(db, resident)
    before = (await family.get(f"/api/family/residents/{resident}/status")).json()
    assert before["state"] == "needs_attention"  # nothing has been heard from the devices yet
    assert {r["device_kind"] for r in before["reasons"] if r["code"] == "device_offline"} == set(devices)
    assert {d["kind"] for d in before["devices"]} == set(devices)

    now = clock.now()
    for kind, device_id in devices.items():
        await db.execute(
            "INSERT INTO device_state (device_id, online, last_seen_at, battery, charging) VALUES (%s, true, %s, %s, "
            "false)",
            (device_id, now, 15 if kind == "wristband" else 90),
        )
    await add_event(
        db, device_id=devices["motion_sensor"], resident_id=resident, kind="motion", at=now - timedelta(minutes=12)
    )
    status = (await family.get(f"/api/family/residents/{resident}/status")).json()
    assert status["state"] == "needs_attention"
    assert status["reasons"] == [
        {
            "code": "low_battery",
            "device_kind": "wristband",
            "battery": 15,
            "cause": None,
            "service": None,
            "since": None,
        }
    ]
    assert status["last_activity"]["source"] == "motion"
    assert datetime.fromisoformat(status["last_activity"]["at"]) == now - timedelta(minutes=12)

    incident_id = await open_sos(db, world, clock)
    status = (await family.get(f"/api/family/residents/{resident}/status")).json()
    assert (status["state"], status["reasons"][0]["cause"]) == ("needs_attention", "sos")
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        task = (
            await service.post(f"/api/incidents/{incident_id}/dispatch", json={"station_id": world.station_ids[0]})
        ).json()
        status = (await family.get(f"/api/family/residents/{resident}/status")).json()
        assert (status["state"], status["reasons"][0]["code"]) == ("needs_attention", "incident")  # only asked
        await service.post(f"/api/tasks/{task['id']}/accept", json={"actor": "responder"})
        status = (await family.get(f"/api/family/residents/{resident}/status")).json()
        assert (status["state"], status["reasons"][0]["code"]) == ("help_on_the_way", "help_on_the_way")
        await service.post(f"/api/tasks/{task['id']}/on-scene", json={"actor": "responder"})
        status = (await family.get(f"/api/family/residents/{resident}/status")).json()
        assert (status["state"], status["reasons"][0]["code"]) == ("help_on_the_way", "responder_on_scene")
        await service.post(f"/api/tasks/{task['id']}/done", json={"actor": "responder", "note": "ok"})
        await service.post(
            f"/api/incidents/{incident_id}/notes", json={"actor": "operator Li", "note": "SECRET operator note"}
        )
        resolved = await service.post(
            f"/api/incidents/{incident_id}/resolve", json={"actor": "operator Li", "outcome": "no_injury"}
        )
        assert resolved.status_code == 200, resolved.text
        await db.execute("UPDATE device_state SET battery = 80 WHERE device_id = %s", (devices["wristband"],))
    status = (await family.get(f"/api/family/residents/{resident}/status")).json()
    assert (status["state"], status["reasons"]) == ("all_well", [])

    history = await family.get(f"/api/family/residents/{resident}/incidents")
    assert history.status_code == 200
    sos = next(i for i in history.json() if i["id"] == incident_id)
    assert (sos["cause"], sos["outcome"], sos["status"]) == ("sos", "no_injury", "resolved")
    assert all((sos["closed_at"], sos["dispatched_at"], sos["station_name"]))
    assert "SECRET" not in history.text


async def test_today_against_a_usual_day_and_nights_in_bed(
    backend: Backend,
    world: World,
    db: psycopg.AsyncConnection[Any],
    clock: ManualClock,
    login: Login,
) -> None:
    resident = world.resident_ids[0]
    today = clock.now().astimezone(SHANGHAI).date()

    def local(day_back: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(today - timedelta(days=day_back), time(hour, minute), SHANGHAI)

    wristband = (await device_ids(db, resident))["wristband"]
    uploads: list[Point] = []

    def steps(at: datetime, total: float) -> None:
        uploads.append((at, wristband, resident, Metric.STEPS, total))

    # Five earlier days: a morning walk, and 15:00–16:00 of which half the hour has passed at 15:30; the
    # evening does not count yet. Day 9 has data only after 15:30: it counts as a day with 0 so far, so the
    # median of (0, 1100, 1300, 1300, 1400, 1500) is 1300.
    for back, morning in ((1, 1000), (2, 1200), (3, 800), (4, 1000), (5, 1100)):
        steps(local(back, 9), morning)
        steps(local(back, 15), 600)
        steps(local(back, 20), 5000)
    steps(local(9, 20), 700)
    steps(local(0, 9), 400)
    steps(local(0, 15), 50)
    await store_telemetry(db, uploads, now=clock.now())
    family = await login("family")
    status = (await family.get(f"/api/family/residents/{resident}/status")).json()
    assert status["today"] == {"metric": "steps", "today": 450.0, "usual": 1300.0, "usual_days": 6}
    assert status["last_activity"]["source"] == "steps"

    bed = (await device_ids(db, resident))["bed_sensor"]
    for kind, at in (
        ("bed_return", local(1, 21, 30)),
        ("bed_exit", local(0, 2)),
        ("bed_return", local(0, 2, 10)),
        ("bed_exit", local(0, 6, 40)),
        ("bed_return", local(0, 13)),
        ("bed_exit", local(0, 14)),
    ):
        await add_event(db, device_id=bed, resident_id=resident, kind=kind, at=at)
    sleep = await family.get(f"/api/family/residents/{resident}/sleep?nights=2")
    assert sleep.status_code == 200, sleep.text
    nights = sleep.json()["nights"]
    assert [(n["night_of"], n["hours"]) for n in nights] == [
        ((today - timedelta(days=1)).isoformat(), None),
        (today.isoformat(), 9.0),
    ]  # the afternoon nap is not sleep
    assert datetime.fromisoformat(nights[1]["in_bed_at"]) == local(1, 21, 30)
    assert datetime.fromisoformat(nights[1]["up_at"]) == local(0, 6, 40)
    assert (await family.get(f"/api/family/residents/{resident}/sleep?nights=61")).status_code == 422


async def test_the_family_status_says_what_changed_from_their_usual_only_when_vitals_are_shared(
    backend: Backend, world: World, db: psycopg.AsyncConnection[Any], clock: ManualClock, login: Login
) -> None:
    resident = world.resident_ids[0]
    judged = clock.now().astimezone(SHANGHAI).date() - timedelta(days=1)
    nan = float("nan")
    async with db.cursor() as cur:
        await cur.executemany(
            "INSERT INTO resident_baseline_days (resident_id, day, worn_hours, features) VALUES (%s, %s, 20, %s)",
            [(resident, judged - timedelta(days=k), [62.0 + 20 * (k == 0), 70.0, nan, 4000.0, nan]) for k in range(40)],
        )
    deviation = {"feature": "night_hr", "value": 82.0, "usual": 62.0, "spread": 2.0, "days": 1}
    await db.execute(
        "INSERT INTO resident_baselines (resident_id, fitted_at, fitted_through, days, features, median, mad, "
        "evaluated_day, verdict, finding_en, finding_zh, deviations) VALUES (%s, now(), %s, 28, %s, %s, %s, %s, "
        "'unusual', 'Welfare check: night heart rate 20 beats/min above usual (62).', "
        "'建议探访：夜间心率比平时（62）高 20 次/分。', %s) ON CONFLICT (resident_id) DO UPDATE SET "
        "evaluated_day = excluded.evaluated_day, verdict = excluded.verdict, deviations = excluded.deviations",
        (
            resident,
            judged - timedelta(days=1),
            ["night_hr", "resting_hr", "activity", "steps", "sleep_h"],
            [62.0, 70.0, nan, 4000.0, nan],
            [1.0, 1.0, nan, 100.0, nan],
            judged,
            Jsonb({"overall": False, "deviations": [deviation]}),
        ),
    )
    family = await login("family")
    change = (await family.get(f"/api/family/residents/{resident}/status")).json()["baseline"]
    assert change["day"] == judged.isoformat()
    assert change["deviations"] == [deviation]
    # The chart: the resident's own history window (28 days) up to the judged day, the judged day last.
    assert [p["day"] for p in change["series"]][-1] == judged.isoformat()
    assert len(change["series"]) == 29
    assert change["series"][-1]["value"] == 82.0
    await db.execute("UPDATE family_links SET share_vitals = false WHERE resident_id = %s", (resident,))
    assert (await family.get(f"/api/family/residents/{resident}/status")).json()["baseline"] is None

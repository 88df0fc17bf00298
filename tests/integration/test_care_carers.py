"""Carer visits: a booked visit assigned to a carer, checked in and out by the carer's code typed at the home unit
(device → real broker → gateway → events → backend) and by the carer's phone near the home, refused when far, early,
not the carer's own or without every task ticked; not at home or unwell raises an incident, every opening logged; a
visit not checked in 15 minutes after its start alerts the operators and the station (time moves on a manual clock),
and late, missed and short visits are counted per carer and provider."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

import httpx
import psycopg
import pytest

from homecare.backend.alarms.pipeline import ManualClock
from homecare.gateway.service import Gateway
from tests.support.backend import AUTH, Backend
from tests.support.database import scalar
from tests.support.daytime import SHANGHAI
from tests.support.enrolment import Household, enrol
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

pytestmark = pytest.mark.daytime

HOME = (31.2310, 121.4710)
TASKS = ["送餐到桌", "检查冰箱", "清理餐具"]
PASSWORD = "carer-password-1"
amqtt_only = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)


@pytest.fixture
async def household(database_url: str) -> Household:
    """A resident with a home unit, at home near the station that provides the meals."""
    home = await enrol(database_url, {"hu-care-01": "home_unit"})
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO stations (code, name, address, lat, lon) "
            "VALUES ('A', '甲服务站', '甲路 1 号', 31.23, 121.47), ('B', '乙服务站', '乙路 2 号', 31.26, 121.47)"
        )
        await conn.execute(
            "UPDATE residents SET lat = %s, lon = %s, station_id = (SELECT id FROM stations WHERE code = 'A') "
            "WHERE id = %s",
            (*HOME, home.resident_id),
        )
    return home


@pytest.fixture
def backend(broker_url: str, household: Household, gateway: Gateway, clocked_backend: Backend) -> Backend:
    return clocked_backend


@pytest.fixture
async def admin(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as client:
        yield client


async def station_id(database_url: str, code: str) -> int:
    return int(await scalar(database_url, "SELECT id FROM stations WHERE code = %s", code))


async def make_carer(admin: httpx.AsyncClient, username: str, station: int, role: str = "carer") -> int:
    made = await admin.post(
        "/api/users",
        json={
            "username": username,
            "display_name": f"护理员 {username}",
            "role": role,
            "password": PASSWORD,
            "station_id": station,
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def signed_in(backend: Backend, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=backend.url, headers={"Origin": backend.url}, timeout=10)
    response = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def booked_visit(admin: httpx.AsyncClient, household: Household, station: int, starts_at: datetime) -> int:
    """A meal booked on the hotline for the resident, from the station's catalogue (added once)."""
    services = (await admin.get("/api/care/services", params={"station_id": station})).json()
    if not services:
        added = await admin.post(
            "/api/care/services",
            json={
                "station_id": station,
                "kind": "meal",
                "name": "午餐送餐",
                "duration_min": 45,
                "price_yuan": 20,
                "capacity": 5,
                "radius_km": 5,
                "tasks": TASKS,
            },
        )
        assert added.status_code == 201, added.text
        services = [added.json()]
    assert services[0]["tasks"] == TASKS
    booked = await admin.post(
        "/api/care/bookings",
        json={
            "resident_id": household.resident_id,
            "service_id": services[0]["id"],
            "starts_at": starts_at.isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    return int(booked.json()["id"])


async def carer_with_desks(admin: httpx.AsyncClient, database_url: str, carer: str, desks: tuple[str, str]) -> int:
    """A carer of station A, and a responder desk at A and one at B (named ``desks``); the carer's id."""
    station, elsewhere = await station_id(database_url, "A"), await station_id(database_url, "B")
    carer_id = await make_carer(admin, carer, station)
    await make_carer(admin, desks[0], station, role="responder")
    await make_carer(admin, desks[1], elsewhere, role="responder")
    return carer_id


async def next_door(database_url: str, uid: str, name: str) -> Household:
    """Another resident with a home unit, living at the same address."""
    neighbour = await enrol(database_url, {uid: "home_unit"}, name=name)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE residents SET lat = %s, lon = %s WHERE id = %s", (*HOME, neighbour.resident_id))
    return neighbour


async def give(admin: httpx.AsyncClient, carer: int, *bookings: int) -> None:
    for booking in bookings:
        assert (await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": carer})).status_code == 200


def type_code(device: TestClient, seq: int, code: str) -> None:
    """The carer types their code at the home unit: it publishes carer_present as firmware would."""
    payload = {"v": 1, "device_id": "hu-care-01", "seq": seq, "ts": int(time.time() * 1000)}
    device.publish(
        "homecare/v1/dev/hu-care-01/event", json.dumps({**payload, "kind": "carer_present", "carer_code": code})
    )


async def rows(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await (await conn.execute(query, params)).fetchall()


def locs(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


async def test_a_carer_checks_in_and_out_by_typing_their_code_at_the_home_unit(
    backend: Backend,
    admin: httpx.AsyncClient,
    device: TestClient,
    household: Household,
    database_url: str,
    clock: ManualClock,
) -> None:
    station = await station_id(database_url, "A")
    carer = await make_carer(admin, "carer.li", station)
    issued = await admin.post(f"/api/care/carers/{carer}/code")
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert len(code) == 6
    assert code.isdigit()
    booking = await booked_visit(admin, household, station, clock.now() + timedelta(minutes=10))
    assigned = await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": carer})
    assert assigned.json()["carer_id"] == carer, assigned.text

    # A wrong code is stored like every event and changes nothing.
    wrong = "000000" if code != "000000" else "111111"
    type_code(device, 1, wrong)
    await eventually(
        lambda: scalar(
            database_url,
            "SELECT outcome FROM pipeline_processed p JOIN events e ON e.id = p.item_id "
            "WHERE p.source = 'event' AND e.seq = 1",
        )
    )
    assert await scalar(database_url, "SELECT count(*) FROM care_service_visits") == 0

    # Arriving, the carer types the code: checked in, with the time the platform received it.
    type_code(device, 2, code)
    checked_in = await eventually(
        lambda: scalar(database_url, "SELECT checked_in_at FROM care_service_visits WHERE booking_id = %s", booking)
    )
    assert checked_in == clock.now()  # the platform's clock (a manual one here) when it took the event
    carer_phone = await signed_in(backend, "carer.li")
    try:
        [visit] = (await carer_phone.get("/api/care/carer-visits")).json()
        assert (visit["booking_id"], visit["tasks"], visit["phone_in_at"]) == (booking, TASKS, None)
        assert visit["home_unit_in_at"] is not None
        assert visit["checked_out_at"] is None

        # Leaving, the code again: the home unit's check-out.
        type_code(device, 3, code)
        await eventually(
            lambda: scalar(
                database_url, "SELECT home_unit_out_at FROM care_service_visits WHERE booking_id = %s", booking
            )
        )
    finally:
        await carer_phone.aclose()
    outcomes = await rows(
        database_url, "SELECT p.outcome FROM pipeline_processed p JOIN events e ON e.id = p.item_id ORDER BY e.seq"
    )
    assert [row[0] for row in outcomes] == [
        "carer code matches no carer",
        f"carer {carer} checked in to booking {booking}",
        f"carer {carer} checked out of booking {booking}",
    ]

    # Someone guessing at the home unit: after five wrong codes in 15 minutes even the right one is not taken
    # there, so six digits cannot be tried through.
    for seq in range(4, 9):
        type_code(device, seq, wrong)
    type_code(device, 9, code)
    paused = await eventually(
        lambda: scalar(
            database_url,
            "SELECT outcome FROM pipeline_processed p JOIN events e ON e.id = p.item_id "
            "WHERE p.source = 'event' AND e.seq = 9",
        )
    )
    assert paused == "carer codes paused at this home unit: 6 wrong codes in the last 15 min"  # the first too


@amqtt_only
async def test_phone_check_in_and_out_are_refused_until_right_and_problems_raise_an_incident(
    backend: Backend, admin: httpx.AsyncClient, household: Household, database_url: str, clock: ManualClock
) -> None:
    station, elsewhere = await station_id(database_url, "A"), await station_id(database_url, "B")
    carer = await make_carer(admin, "carer.wang", station)
    await make_carer(admin, "carer.zhao", station)
    far_carer = await make_carer(admin, "carer.far", elsewhere)
    booking = await booked_visit(admin, household, station, clock.now() + timedelta(minutes=10))
    resident = household.resident_id

    # Assignment: only an active carer of the providing station.
    assert locs(await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": far_carer})) == [
        ["body", "carer_id"]
    ]
    assert (await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": carer})).status_code == 200

    wang, zhao = await signed_in(backend, "carer.wang"), await signed_in(backend, "carer.zhao")
    try:
        near = {"lat": HOME[0] + 0.0003, "lon": HOME[1]}  # about 33 m
        far = {"lat": HOME[0] + 0.01, "lon": HOME[1]}  # about 1.1 km
        # Another carer sees nothing of this resident or visit.
        assert (await zhao.get(f"/api/care/carer-visits/{booking}")).status_code == 404
        assert (await zhao.post(f"/api/care/carer-visits/{booking}/check-in", json=near)).status_code == 404
        assert (await zhao.get(f"/api/care/residents/{resident}/bookings")).status_code == 404
        assert (await zhao.get("/api/care/carer-visits")).json() == []

        url = f"/api/care/carer-visits/{booking}"
        done = dict.fromkeys(TASKS, True)
        early = await wang.post(f"{url}/check-out", json={**near, "outcome": "completed", "checklist": done})
        assert locs(early) == [["body", "visit"]]
        too_far = await wang.post(f"{url}/check-in", json=far)
        assert locs(too_far) == [["body", "lat"]]
        refused = too_far.json()["detail"][0]
        assert "m from the home" in refused["msg"]
        # Coded, so that the carer's page says it in the carer's language: how far, and within what.
        assert refused["type"] == "care.too_far"
        assert refused["ctx"]["radius_m"] == 150
        assert refused["ctx"]["metres"] > 150
        assert early.json()["detail"][0]["type"] == "care.not_checked_in"
        assert locs(await wang.post(f"{url}/check-in", json={"lat": 91, "lon": 0})) == [["body", "lat"]]

        checked_in = await wang.post(f"{url}/check-in", json=near)
        assert checked_in.status_code == 200, checked_in.text
        assert 20 < checked_in.json()["phone_in_m"] < 50
        assert checked_in.json()["checked_in_at"] == checked_in.json()["phone_in_at"]
        assert locs(await wang.post(f"{url}/check-in", json=near)) == [["body", "visit"]]

        card = await wang.get(url)
        assert card.json()["resident"]["id"] == resident, card.text
        assert (await wang.get(f"/api/care/residents/{resident}/bookings")).status_code == 200
        assert (await wang.get(f"/api/residents/{resident}")).status_code == 403  # not the call centre's card

        # The checklist names every task of the service, done or not, and nothing else.
        partial = {TASKS[0]: True, TASKS[1]: False}
        missing = await wang.post(f"{url}/check-out", json={**near, "outcome": "completed", "checklist": partial})
        assert locs(missing) == [["body", "checklist", TASKS[2]]]
        extra = {**done, "洗澡": True}
        assert locs(await wang.post(f"{url}/check-out", json={**near, "outcome": "completed", "checklist": extra})) == [
            ["body", "checklist", "洗澡"]
        ]
        assert locs(await wang.post(f"{url}/check-out", json={**near, "outcome": "completed"})) == [["body"]]
        assert locs(await wang.post(f"{url}/check-out", json={**far, "outcome": "completed", "checklist": done})) == [
            ["body", "lat"]
        ]
        out = await wang.post(
            f"{url}/check-out",
            json={**near, "outcome": "completed", "checklist": {**done, TASKS[1]: False}, "note": "冰箱未开"},
        )
        assert out.status_code == 200, out.text
        assert (out.json()["outcome"], out.json()["checklist"][TASKS[1]], out.json()["incident_id"]) == (
            "completed",
            False,
            None,
        )
        assert locs(await wang.post(f"{url}/check-out", json={**near, "outcome": "completed", "checklist": done})) == [
            ["body", "visit"]
        ]

        # A later visit: check-in opens an hour before the start; the resident found unwell raises an incident.
        later = await booked_visit(admin, household, station, clock.now() + timedelta(minutes=90))
        await admin.put(f"/api/care/bookings/{later}/carer", json={"carer_id": carer})
        later_url = f"/api/care/carer-visits/{later}"
        assert locs(await wang.post(f"{later_url}/check-in", json=near)) == [["body", "visit"]]
        clock.advance(45 * 60)
        assert (await wang.post(f"{later_url}/check-in", json=near)).status_code == 200
        unwell = await wang.post(
            f"{later_url}/check-out", json={**near, "outcome": "unwell", "checklist": done, "note": "发烧"}
        )
        assert unwell.status_code == 200, unwell.text
        [incident] = await rows(
            database_url,
            "SELECT cause, status, resident_id, explanation_zh FROM incidents WHERE id = %s",
            unwell.json()["incident_id"],
        )
        assert incident[:3] == ("carer_visit", "open", resident)
        assert "身体不适" in incident[3]
        assert "发烧" in incident[3]
    finally:
        await wang.aclose()
        await zhao.aclose()

    logged = await rows(
        database_url,
        "SELECT DISTINCT a.action FROM access_log a JOIN users u ON u.id = a.user_id "
        "WHERE u.username = 'carer.wang' AND a.resident_id = %s",
        resident,
    )
    assert {"care.carer_visit", "care.carer_visit.check_in", "care.carer_visit.check_out"} <= {r[0] for r in logged}


@amqtt_only
async def test_a_visit_not_started_in_time_alerts_the_operators_and_the_station(
    backend: Backend, admin: httpx.AsyncClient, household: Household, database_url: str, clock: ManualClock
) -> None:
    station = await station_id(database_url, "A")
    carer = await carer_with_desks(admin, database_url, "carer.chen", ("desk.a", "desk.b"))
    neighbour = await next_door(database_url, "hu-care-02", "Li Guilan")
    start = clock.now() + timedelta(minutes=5)
    missed = await booked_visit(admin, household, station, start)
    on_time = await booked_visit(admin, neighbour, station, start)
    await give(admin, carer, missed, on_time)

    chen = await signed_in(backend, "carer.chen")
    desk_a, desk_b = await signed_in(backend, "desk.a"), await signed_in(backend, "desk.b")
    try:
        near = {"lat": HOME[0], "lon": HOME[1]}
        # At the neighbour's on time, and gone at once: a short visit.
        assert (await chen.post(f"/api/care/carer-visits/{on_time}/check-in", json=near)).status_code == 200
        done = {**near, "outcome": "completed", "checklist": dict.fromkeys(TASKS, True)}
        assert (await chen.post(f"/api/care/carer-visits/{on_time}/check-out", json=done)).status_code == 200

        # 16 minutes past the start nobody has checked in at Wang Xiuying's: an incident for the operators.
        clock.advance(5 * 60 + 16 * 60)
        incident_id = await eventually(
            lambda: scalar(database_url, "SELECT non_arrival_incident_id FROM care_bookings WHERE id = %s", missed)
        )
        [incident] = await rows(
            database_url, "SELECT cause, status, resident_id, explanation_en FROM incidents WHERE id = %s", incident_id
        )
        assert incident[:3] == ("carer_non_arrival", "open", household.resident_id)
        assert "午餐送餐" in incident[3]
        assert "护理员 carer.chen" in incident[3]
        assert await scalar(database_url, "SELECT non_arrival_at FROM care_bookings WHERE id = %s", on_time) is None
        queue = (await admin.get("/api/incidents")).json()
        assert [i["cause"] for i in queue if i["id"] == incident_id] == ["carer_non_arrival"]

        # The providing station sees it on its list; another station does not.
        [alert] = (await desk_a.get("/api/care/non-arrivals")).json()
        assert (alert["booking_id"], alert["carer_name"], alert["non_arrival_incident_id"]) == (
            missed,
            "护理员 carer.chen",
            incident_id,
        )
        assert (await desk_b.get("/api/care/non-arrivals")).json() == []
        assert (await chen.get("/api/care/non-arrivals")).status_code == 403

        since = {"since": (start - timedelta(hours=1)).isoformat()}
        figures = {
            (f["carer_id"], f["provider_total"]): f
            for f in (await admin.get("/api/care/carer-figures", params=since)).json()
        }
        mine = figures[(carer, False)]
        assert (mine["visits"], mine["checked_in"], mine["missed"], mine["late"], mine["short"]) == (2, 1, 1, 0, 1)
        assert figures[(None, True)]["visits"] == 2

        # The carer arrives late after all: noted on the incident, off the station's list, counted late.
        late = await chen.post(f"/api/care/carer-visits/{missed}/check-in", json=near)
        assert late.status_code == 200, late.text
        notes = await rows(
            database_url,
            "SELECT detail->>'change' FROM incident_transitions WHERE incident_id = %s ORDER BY id",
            incident_id,
        )
        assert notes[-1] == ("noted",)
        assert (await desk_a.get("/api/care/non-arrivals")).json() == []
        figures = {
            (f["carer_id"], f["provider_total"]): f
            for f in (await admin.get("/api/care/carer-figures", params=since)).json()
        }
        mine = figures[(carer, False)]
        assert (mine["missed"], mine["late"], round(mine["late_min_avg"])) == (0, 1, 16)
    finally:
        for client in (chen, desk_a, desk_b):
            await client.aclose()


def board_states(board: dict[str, Any]) -> dict[int, str]:
    return {
        visit["booking_id"]: visit["state"]
        for provider in board["providers"]
        for carer in provider["carers"]
        for visit in carer["visits"]
    }


@amqtt_only
async def test_the_service_board_follows_the_day_live_and_the_months_figures_export(
    backend: Backend, admin: httpx.AsyncClient, household: Household, database_url: str, clock: ManualClock
) -> None:
    station, elsewhere = await station_id(database_url, "A"), await station_id(database_url, "B")
    carer = await carer_with_desks(admin, database_url, "carer.sun", ("desk.c", "desk.d"))
    neighbour = await next_door(database_url, "hu-care-03", "Zhou Lan")
    start = clock.now() + timedelta(minutes=5)
    short = await booked_visit(admin, neighbour, station, start)
    missed = await booked_visit(admin, household, station, start)
    later = await booked_visit(admin, neighbour, station, start + timedelta(minutes=55))
    await give(admin, carer, short, missed, later)

    sun, desk_c, desk_d = [await signed_in(backend, name) for name in ("carer.sun", "desk.c", "desk.d")]
    try:
        # The station's desk sees its visits of the day under their carer, all still booked.
        first = await desk_c.get("/api/care/board")
        assert first.status_code == 200, first.text
        board = first.json()
        [provider] = board["providers"]
        assert (provider["station_id"], provider["counts"]["booked"]) == (station, 3)
        [(carer_line)] = provider["carers"]
        assert (carer_line["carer_id"], [v["booking_id"] for v in carer_line["visits"]]) == (
            carer,
            [short, missed, later],
        )
        assert board["non_arrivals"] == []
        # Polling with the ETag: unchanged answers 304 and opens no record again.
        opened = await scalar(database_url, "SELECT count(*) FROM access_log WHERE action = 'care.board'")
        etag = first.headers["ETag"]
        again = await desk_c.get("/api/care/board", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert await scalar(database_url, "SELECT count(*) FROM access_log WHERE action = 'care.board'") == opened
        # Another station's desk sees none of it; the carer may not read the board.
        assert (await desk_d.get("/api/care/board")).json()["providers"] == []
        assert (await sun.get("/api/care/board")).status_code == 403

        near = {"lat": HOME[0], "lon": HOME[1]}
        assert (await sun.post(f"/api/care/carer-visits/{short}/check-in", json=near)).status_code == 200
        moved = await desk_c.get("/api/care/board", headers={"If-None-Match": etag})
        assert moved.status_code == 200
        assert board_states(moved.json())[short] == "in_progress"
        done = {**near, "outcome": "completed", "checklist": dict.fromkeys(TASKS, True)}
        assert (await sun.post(f"/api/care/carer-visits/{short}/check-out", json=done)).status_code == 200

        # Started and nobody there yet: late; past the non-arrival time: missed, at the top of the board.
        clock.advance(6 * 60)
        states = board_states((await desk_c.get("/api/care/board")).json())
        assert (states[short], states[missed], states[later]) == ("short", "late", "booked")
        clock.advance(15 * 60)
        await eventually(
            lambda: scalar(database_url, "SELECT non_arrival_incident_id FROM care_bookings WHERE id = %s", missed)
        )
        board = (await desk_c.get("/api/care/board")).json()
        [alert] = board["non_arrivals"]
        assert (alert["booking_id"], alert["state"], alert["resident_name"]) == (missed, "missed", "Wang Xiuying")
        assert alert["non_arrival_incident_id"] is not None
        everyone = (await admin.get("/api/care/board")).json()
        assert board_states(everyone)[missed] == "missed"
        assert (await admin.get("/api/care/board", params={"station_id": elsewhere})).json()["providers"] == []
        explanation = await scalar(
            database_url, "SELECT explanation_en FROM incidents WHERE id = %s", alert["non_arrival_incident_id"]
        )
        assert explanation.startswith("Wang Xiuying: 午餐送餐")

        # The late carer checks in: in progress, 16 minutes late, off the non-arrivals.
        assert (await sun.post(f"/api/care/carer-visits/{missed}/check-in", json=near)).status_code == 200
        board = (await desk_c.get("/api/care/board")).json()
        assert board["non_arrivals"] == []
        [late_visit] = [v for v in board["providers"][0]["carers"][0]["visits"] if v["booking_id"] == missed]
        assert (late_visit["state"], late_visit["late_min"]) == ("in_progress", 16)
    finally:
        for client in (sun, desk_c, desk_d):
            await client.aclose()

    # The month's figures per provider and carer, as JSON and as CSV.
    month = {"tz": "Asia/Shanghai"}
    report = (await admin.get("/api/reports/service-quality", params=month)).json()
    lines = {(line["carer_id"], line["provider_total"]): line for line in report["lines"]}
    mine = lines[(carer, False)]
    assert (mine["visits"], mine["late"], mine["short"], mine["missed"], mine["on_time_rate"]) == (2, 1, 1, 0, 0.5)
    exported = await admin.get("/api/reports/service-quality.csv", params=month)
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == f'attachment; filename="service-quality_{report["month"]}.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
    [row] = [r for r in rows if r["carer_id"] == str(carer)]
    assert (row["carer_name"], row["late"], row["short"], row["missed"], row["on_time_rate"], row["complaints"]) == (
        "护理员 carer.sun",
        "1",
        "1",
        "0",
        "0.500",
        "0",
    )


async def test_around_midnight_a_carer_keeps_the_visit_begun_and_sees_the_one_whose_check_in_is_open(
    backend: Backend, admin: httpx.AsyncClient, household: Household, database_url: str, clock: ManualClock
) -> None:
    station = await station_id(database_url, "A")
    carer = await make_carer(admin, "carer.night", station)
    day = clock.now().astimezone(SHANGHAI).date()

    def at(hour: int, minute: int, days: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), dtime(hour, minute), SHANGHAI)

    clock.advance((at(23, 0) - clock.now()).total_seconds())
    evening = await booked_visit(admin, household, station, at(23, 20))
    after_midnight = await booked_visit(admin, household, station, at(0, 20, days=1))
    await give(admin, carer, evening, after_midnight)
    near = {"lat": HOME[0] + 0.0003, "lon": HOME[1]}
    phone = await signed_in(backend, "carer.night")
    try:

        async def route() -> list[int]:
            return [v["booking_id"] for v in (await phone.get("/api/care/carer-visits")).json()]

        clock.advance((at(23, 25) - clock.now()).total_seconds())
        assert (await phone.post(f"/api/care/carer-visits/{evening}/check-in", json=near)).status_code == 200
        # 23:50: the 00:20 visit is tomorrow's, but its check-in is open, so it is on the route and opens.
        clock.advance((at(23, 50) - clock.now()).total_seconds())
        assert await route() == [evening, after_midnight]
        assert (await phone.get(f"/api/care/carer-visits/{after_midnight}")).status_code == 200
        # 00:10: the evening's visit, begun yesterday, stays until the carer checks out of it on the phone.
        clock.advance((at(0, 10, days=1) - clock.now()).total_seconds())
        assert await route() == [evening, after_midnight]
        done = {"outcome": "completed", "checklist": dict.fromkeys(TASKS, True)}
        checked_out = await phone.post(f"/api/care/carer-visits/{evening}/check-out", json={**near, **done})
        assert checked_out.status_code == 200, checked_out.text
        assert await route() == [after_midnight]
    finally:
        await phone.aclose()

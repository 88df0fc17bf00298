"""Ratings and complaints of home-service visits through the API: the family rates a checked-out visit on their own
behalf and the call centre records the resident's, once per rater, bad values refused naming the field; another
family, a carer and a visit not yet done are refused; a complaint reaches the providing station only (each opening
logged), and the provider's and the carer's figures count the ratings, their average and the complaints."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.world import Login, World

TASKS = ["送餐到桌", "清理餐具"]


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


def locs(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


@contextlib.asynccontextmanager
async def another_station_desk(
    admin: httpx.AsyncClient, db: psycopg.AsyncConnection[Any], base_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A responder of a second station, signed in: they provided none of the visits."""
    station = await (
        await db.execute(
            "INSERT INTO stations (code, name, address, lat, lon) VALUES ('B', '乙服务站', '乙路 2 号', 31.26, 121.47) "
            "RETURNING id"
        )
    ).fetchone()
    assert station is not None
    account = {"username": "responder.b", "password": "responder-b-password"}
    made = await admin.post(
        "/api/users",
        json={**account, "display_name": "乙站值班员", "role": "responder", "station_id": station[0]},
    )
    assert made.status_code == 201, made.text
    async with httpx.AsyncClient(base_url=base_url, headers={"Origin": base_url}, timeout=10) as desk:
        signed = await desk.post("/api/auth/login", json=account)
        assert signed.status_code == 200, signed.text
        yield desk


async def test_visits_rated_and_complained_about_reach_the_providing_station_and_its_figures(
    login: Login, world: World, db: psycopg.AsyncConnection[Any]
) -> None:
    admin, operator, family, family2 = (
        await login("admin"),
        await login("operator"),
        await login("family"),
        await login("family2"),
    )
    mum, other = world.resident_ids[0], world.resident_ids[1]
    station = world.station_ids[0]
    carer_id = world.user_ids["carer"]
    service = await admin.post(
        "/api/care/services",
        json={
            "station_id": station,
            "kind": "meal",
            "name": "午餐送餐",
            "duration_min": 30,
            "price_yuan": 20,
            "capacity": 5,
            "radius_km": 100,
            "tasks": TASKS,
        },
    )
    assert service.status_code == 201, service.text
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    booked = await family.post(
        "/api/care/bookings", json={"resident_id": mum, "service_id": service.json()["id"], "starts_at": soon}
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()["id"]
    theirs = await operator.post(
        "/api/care/bookings", json={"resident_id": other, "service_id": service.json()["id"], "starts_at": soon}
    )
    assert theirs.status_code == 201, theirs.text

    # Not done yet: nothing to rate, and no complaint before the visit was due.
    assert locs(await family.post(f"/api/care/bookings/{booking}/ratings", json={"stars": 5})) == [["body", "visit"]]
    early = await family.post(f"/api/care/bookings/{booking}/complaints", json={"category": "late", "text": "还没来"})
    assert locs(early) == [["body", "visit"]]

    # The carer comes and goes, proved by the phone at the home.
    assigned = await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": carer_id})
    assert assigned.status_code == 200, assigned.text
    home = await (await db.execute("SELECT lat, lon FROM residents WHERE id = %s", (mum,))).fetchone()
    assert home is not None
    where = {"lat": home[0], "lon": home[1]}
    carer = await login("carer")
    checked_in = await carer.post(f"/api/care/carer-visits/{booking}/check-in", json=where)
    assert checked_in.status_code == 200, checked_in.text
    checked_out = await carer.post(
        f"/api/care/carer-visits/{booking}/check-out",
        json={**where, "outcome": "completed", "checklist": dict.fromkeys(TASKS, True)},
    )
    assert checked_out.status_code == 200, checked_out.text

    # Bad ratings are named; a carer rates nothing; another family cannot see the visit.
    url = f"/api/care/bookings/{booking}/ratings"
    assert locs(await family.post(url, json={"stars": 0})) == [["body", "stars"]]
    assert locs(await family.post(url, json={"stars": 6})) == [["body", "stars"]]
    assert locs(await family.post(url, json={})) == [["body", "stars"]]
    assert locs(await family.post(url, json={"stars": 4, "comment": "好" * 1001})) == [["body", "comment"]]
    assert (await carer.post(url, json={"stars": 5})).status_code == 403
    assert (await family2.post(url, json={"stars": 1})).status_code == 404
    assert (
        await family2.post(f"/api/care/bookings/{booking}/complaints", json={"category": "other", "text": "x"})
    ).status_code == 404

    # The daughter rates it once; the operator records her mother's own rating, once.
    rated = await family.post(url, json={"stars": 5, "comment": "饭菜热乎，很准时"})
    assert rated.status_code == 201, rated.text
    assert (rated.json()["rater"], rated.json()["stars"], rated.json()["recorded_by"]) == ("family", 5, "family")
    assert locs(await family.post(url, json={"stars": 1})) == [["body", "visit"]]
    by_phone = await operator.post(url, json={"stars": 3, "comment": "老人说菜有点咸"})
    assert by_phone.status_code == 201, by_phone.text
    assert (by_phone.json()["rater"], by_phone.json()["recorded_by"]) == ("resident", "operator")
    assert locs(await operator.post(url, json={"stars": 4})) == [["body", "visit"]]

    # A complaint: the category and the text are required and checked.
    complaints = f"/api/care/bookings/{booking}/complaints"
    assert locs(await family.post(complaints, json={"category": "rude", "text": "x"})) == [["body", "category"]]
    assert locs(await family.post(complaints, json={"category": "incomplete", "text": ""})) == [["body", "text"]]
    made = await family.post(complaints, json={"category": "incomplete", "text": "餐具没有清理"})
    assert made.status_code == 201, made.text
    assert (made.json()["station_id"], made.json()["carer_id"], made.json()["raised_by"]) == (
        station,
        carer_id,
        "family",
    )

    # The family sees the visit done with both ratings and the complaint; the other family sees nothing.
    [mine] = (await family.get(f"/api/care/residents/{mum}/bookings")).json()
    assert (mine["outcome"], mine["carer_name"]) == ("completed", "吴芳")
    assert sorted((r["rater"], r["stars"]) for r in mine["ratings"]) == [("family", 5), ("resident", 3)]
    assert [c["category"] for c in mine["complaints"]] == ["incomplete"]
    assert (await family2.get(f"/api/care/residents/{mum}/bookings")).status_code == 404
    other_booking = theirs.json()["id"]
    assert (await family.post(f"/api/care/bookings/{other_booking}/ratings", json={"stars": 5})).status_code == 404

    # The providing station sees the complaint, another station does not; the responder's reading is logged.
    since = {"since": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    responder = await login("responder")
    [seen] = (await responder.get("/api/care/complaints", params=since)).json()
    assert (seen["text"], seen["category"], seen["resident_id"]) == ("餐具没有清理", "incomplete", mum)
    async with another_station_desk(admin, db, str(responder.base_url)) as other_desk:
        assert (await other_desk.get("/api/care/complaints", params=since)).json() == []
        assert (
            await other_desk.get("/api/care/complaints", params={**since, "station_id": station})
        ).json() == []  # a responder's own station only
    logged = await (
        await db.execute(
            "SELECT count(*) FROM access_log WHERE actor = 'responder' AND action = 'care.complaints' "
            "AND resident_id = %s",
            (mum,),
        )
    ).fetchone()
    assert logged == (1,)
    assert (await family.get("/api/care/complaints", params=since)).status_code == 403

    # The figures: per station and per carer, ratings, their average and complaints.
    figures = (await admin.get("/api/care/carer-figures", params=since)).json()
    lines = {(f["station_id"], f["carer_id"], f["provider_total"]): f for f in figures}
    for key in ((station, None, True), (station, carer_id, False)):
        line = lines[key]
        assert (line["checked_out"], line["ratings"], line["rating_avg"], line["complaints"]) == (1, 2, 4.0, 1)
    mine_only = (await responder.get("/api/care/carer-figures", params=since)).json()
    assert {f["station_id"] for f in mine_only} == {station}

"""A photo at check-out where the service needs one: the carer's phone sends it during the visit (only an image, at
most 1 MiB, only between check-in and check-out, naming the field when refused), a visit done is not checked out
without it, and the providing station and the call centre see it (logged) while another station and family do not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from homecare.backend.alarms.pipeline import ManualClock
from tests.integration.test_care_feedback import another_station_desk, locs
from tests.support.backend import Backend
from tests.support.images import png
from tests.support.world import Login, World

pytestmark = pytest.mark.daytime

TASKS = ["协助洗澡", "清洁浴室"]


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


@pytest.fixture
def backend(broker_url: str, world: World, clocked_backend: Backend) -> Backend:
    return clocked_backend


async def test_a_bathing_visit_is_checked_out_with_a_photo_the_station_sees(
    login: Login, world: World, db: psycopg.AsyncConnection[Any], clock: ManualClock
) -> None:
    admin, family = await login("admin"), await login("family")
    mum, station = world.resident_ids[0], world.station_ids[0]
    service = await admin.post(
        "/api/care/services",
        json={
            "station_id": station,
            "kind": "bathing",
            "name": "上门助浴",
            "duration_min": 60,
            "price_yuan": 80,
            "capacity": 2,
            "radius_km": 100,
            "tasks": TASKS,
            "photo_required": True,
        },
    )
    assert service.json()["photo_required"] is True, service.text
    soon = (clock.now() + timedelta(minutes=10)).isoformat()
    booked = await family.post(
        "/api/care/bookings", json={"resident_id": mum, "service_id": service.json()["id"], "starts_at": soon}
    )
    booking = booked.json()["id"]
    await admin.put(f"/api/care/bookings/{booking}/carer", json={"carer_id": world.user_ids["carer"]})
    home = await (await db.execute("SELECT lat, lon FROM residents WHERE id = %s", (mum,))).fetchone()
    assert home is not None
    where = {"lat": home[0], "lon": home[1]}
    carer = await login("carer")
    url = f"/api/care/carer-visits/{booking}/photo"
    picture = png()

    before = await carer.put(url, content=picture, headers={"Content-Type": "image/png"})
    assert locs(before) == [["body", "photo"]]  # not checked in yet
    assert (await carer.post(f"/api/care/carer-visits/{booking}/check-in", json=where)).status_code == 200
    [visit] = (await carer.get("/api/care/carer-visits")).json()
    assert (visit["photo_required"], visit["photo_taken_at"]) == (True, None)

    done = {**where, "outcome": "completed", "checklist": dict.fromkeys(TASKS, True)}
    assert locs(await carer.post(f"/api/care/carer-visits/{booking}/check-out", json=done)) == [["body", "photo"]]
    wrong_type = await carer.put(url, content=b"%PDF-1.4", headers={"Content-Type": "application/pdf"})
    assert locs(wrong_type) == [["body", "photo"]]
    too_big = await carer.put(url, content=b"\xff" * (1024 * 1024 + 1), headers={"Content-Type": "image/jpeg"})
    assert locs(too_big) == [["body", "photo"]]
    empty = await carer.put(url, content=b"", headers={"Content-Type": "image/jpeg"})
    assert locs(empty) == [["body", "photo"]]
    assert (await admin.put(url, content=picture, headers={"Content-Type": "image/png"})).status_code == 403

    sent = await carer.put(url, content=picture, headers={"Content-Type": "image/png"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["photo_taken_at"] is not None
    checked_out = await carer.post(f"/api/care/carer-visits/{booking}/check-out", json=done)
    assert checked_out.status_code == 200, checked_out.text
    after = await carer.put(url, content=picture, headers={"Content-Type": "image/png"})
    assert locs(after) == [["body", "photo"]]  # the visit is over

    # The providing station and the call centre see it; the family and another station's responder do not.
    responder = await login("responder")
    since = {"since": (clock.now() - timedelta(hours=1)).isoformat()}
    [shown] = (await responder.get("/api/care/visit-photos", params=since)).json()
    assert (shown["booking_id"], shown["service_name"]) == (booking, "上门助浴")
    got = await responder.get(url)
    assert (got.status_code, got.headers["content-type"], got.content) == (200, "image/png", picture)
    assert (await admin.get(url)).content == picture
    assert (await family.get(url)).status_code == 403
    async with another_station_desk(admin, db, str(responder.base_url)) as elsewhere:
        assert (await elsewhere.get(url)).status_code == 404
        assert (await elsewhere.get("/api/care/visit-photos", params=since)).json() == []
    opened = await (
        await db.execute(
            "SELECT array_agg(actor ORDER BY id) FROM access_log "
            "WHERE action = 'care.visit_photo' AND resident_id = %s",
            (mum,),
        )
    ).fetchone()
    assert opened is not None
    assert opened[0] == ["responder", "admin"]

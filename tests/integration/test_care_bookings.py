"""Home services through the API: a station's catalogue with subsidies per level, offers nearest first with the
co-payment shown before booking, bookings by the family and the hotline refused when out of the area, overlapping
or full (naming the field), another family kept out, a cancellation with its reason freeing the place, a meal every
weekday booked as one series or not at all, and bookings moved with their reasons."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from homecare.backend.care.ability import ITEMS
from tests.support.world import Login, World

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


def meal(station_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "kind": "meal",
        "name": "午餐送餐",
        "duration_min": 60,
        "price_yuan": 20,
        "capacity": 1,
        "radius_km": 10,
        "subsidies": [{"level": 2, "yuan": 8}, {"level": 2, "economic_status": "subsistence", "yuan": "15.00"}],
        **extra,
    }


def locs(response: Any) -> list[list[str]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def refused(response: Any) -> tuple[str, dict[str, Any]]:
    """The one refusal's code and values, which the pages say in the reader's language."""
    [error] = response.json()["detail"]
    return error["type"], error.get("ctx", {})


async def test_services_offered_booked_and_cancelled(
    login: Login, world: World, db: psycopg.AsyncConnection[Any]
) -> None:
    admin, operator = await login("admin"), await login("operator")
    family, family2 = await login("family"), await login("family2")
    mum, other = world.resident_ids[0], world.resident_ids[1]
    station = world.station_ids[0]
    home = await (await db.execute("SELECT lat, lon FROM stations WHERE id = %s", (station,))).fetchone()
    assert home is not None
    far = await (
        await db.execute(
            "INSERT INTO stations (code, name, address, lat, lon) VALUES ('far', '远处服务站', '远处路 1 号', %s, %s) "
            "RETURNING id",
            (home[0] + 0.3, home[1]),
        )
    ).fetchone()
    assert far is not None

    # The catalogue: bad values are named.
    assert locs(await admin.post("/api/care/services", json=meal(station, radius_km=0))) == [["body", "radius_km"]]
    missing = meal(station)
    del missing["price_yuan"]
    assert locs(await admin.post("/api/care/services", json=missing)) == [["body", "price_yuan"]]
    no_station = await admin.post("/api/care/services", json=meal(999999))
    assert locs(no_station) == [["body", "station_id"]]
    assert refused(no_station) == ("care.no_station", {"station_id": 999999})
    assert (await operator.post("/api/care/services", json=meal(station))).status_code == 403
    near_meal = await admin.post("/api/care/services", json=meal(station))
    assert near_meal.status_code == 201, near_meal.text
    twice = await admin.post("/api/care/services", json=meal(station))
    assert (locs(twice), refused(twice)[0]) == ([["body", "name"]], "care.name_taken")
    far_meal = await admin.post(
        "/api/care/services", json=meal(far[0], name="中央厨房送餐", price_yuan=18, radius_km=60)
    )
    tiny = await admin.post("/api/care/services", json=meal(station, name="只送隔壁", radius_km=0.01))
    catalogue = (await family.get("/api/care/services")).json()
    assert {s["name"] for s in catalogue} == {"午餐送餐", "中央厨房送餐", "只送隔壁"}

    # Mum is assessed at level 2 and lives on the subsistence allowance: her subsidy is the status's own rule.
    await admin.put(f"/api/care/residents/{mum}", json={"economic_status": "subsistence"})
    items = {code: item.max_score for code, item in ITEMS.items()}
    items |= dict.fromkeys(("stairs", "walking", "transport", "bathing", "bed_mobility", "transfer"), 0)
    items |= dict.fromkeys(("dressing_lower", "daily_affairs"), 0)
    today = datetime.now(UTC).date().isoformat()
    assessed = await admin.post(
        f"/api/care/residents/{mum}/assessments", json={"assessed_on": today, "assessor": "赵敏", "items": items}
    )
    assert assessed.json()["level"] == 2, assessed.text

    noon = (datetime.now(UTC) + timedelta(days=2)).replace(hour=4, minute=0, second=0, microsecond=0)
    when = {"kind": "meal", "starts_at": noon.isoformat()}
    offers = (await family.get(f"/api/care/residents/{mum}/offers", params=when)).json()
    assert [o["service"]["name"] for o in offers] == ["午餐送餐", "中央厨房送餐"]  # nearest first; 只送隔壁 is too far
    assert offers[0]["travel_min"] < offers[1]["travel_min"]
    assert offers[0]["quote"] == {"price_yuan": "20.00", "subsidy_yuan": "15.00", "copay_yuan": "5.00"}
    assert offers[1]["quote"] == {"price_yuan": "18.00", "subsidy_yuan": "15.00", "copay_yuan": "3.00"}

    booked = await family.post(
        "/api/care/bookings",
        json={"resident_id": mum, "service_id": near_meal.json()["id"], "starts_at": when["starts_at"]},
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert (booking["channel"], booking["booked_by"], booking["quote"]["copay_yuan"]) == ("family", "family", "5.00")
    assert datetime.fromisoformat(booking["ends_at"]) == noon + timedelta(minutes=60)

    # Refused, naming the field: overlapping her own booking, out of the area, the only place taken, in the past.
    half_past = (noon + timedelta(minutes=30)).isoformat()
    overlap = await operator.post(
        "/api/care/bookings", json={"resident_id": mum, "service_id": far_meal.json()["id"], "starts_at": half_past}
    )
    assert locs(overlap) == [["body", "starts_at"]]
    assert str(booking["id"]) in overlap.json()["detail"][0]["msg"]
    busy_at = {"starts_at": datetime.fromisoformat(half_past).isoformat(), "booking_id": booking["id"]}
    assert refused(overlap) == ("care.resident_busy", busy_at)
    later = (noon + timedelta(hours=3)).isoformat()
    outside = await operator.post(
        "/api/care/bookings", json={"resident_id": mum, "service_id": tiny.json()["id"], "starts_at": later}
    )
    assert locs(outside) == [["body", "service_id"]]
    assert refused(outside) == ("care.outside_area", {"radius_km": 0.01})
    full = await operator.post(
        "/api/care/bookings",
        json={"resident_id": other, "service_id": near_meal.json()["id"], "starts_at": when["starts_at"]},
    )
    assert locs(full) == [["body", "starts_at"]]
    assert "no place left" in full.json()["detail"][0]["msg"]
    assert refused(full) == ("care.full", {"starts_at": noon.isoformat()})
    others = (await operator.get(f"/api/care/residents/{other}/offers", params=when)).json()
    assert [o["service"]["name"] for o in others] == ["中央厨房送餐"]
    assert others[0]["quote"]["subsidy_yuan"] == "0.00"  # not assessed: no subsidy
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    in_the_past = await operator.post(
        "/api/care/bookings", json={"resident_id": other, "service_id": far_meal.json()["id"], "starts_at": past}
    )
    assert locs(in_the_past) == [["body", "starts_at"]]
    assert refused(in_the_past) == ("care.in_the_past", {})

    # Another family sees nothing of Mum's bookings and cannot cancel them.
    assert (await family2.get(f"/api/care/residents/{mum}/bookings")).status_code == 404
    assert (await family2.get(f"/api/care/residents/{mum}/offers", params=when)).status_code == 404
    assert (await family2.post(f"/api/care/bookings/{booking['id']}/cancel", json={"reason": "x"})).status_code == 404
    mine = (await family.get(f"/api/care/residents/{mum}/bookings")).json()
    assert [b["id"] for b in mine] == [booking["id"]]

    assert locs(await family.post(f"/api/care/bookings/{booking['id']}/cancel", json={"reason": ""})) == [
        ["body", "reason"]
    ]
    cancelled = await family.post(f"/api/care/bookings/{booking['id']}/cancel", json={"reason": "住院了"})
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"], cancelled.json()["cancelled_by"]) == (
        "cancelled",
        "住院了",
        "family",
    )
    again = await family.post(f"/api/care/bookings/{booking['id']}/cancel", json={"reason": "再取消"})
    assert (locs(again), refused(again)[0]) == ([["body", "reason"]], "care.cancelled")
    freed = await operator.post(
        "/api/care/bookings",
        json={"resident_id": other, "service_id": near_meal.json()["id"], "starts_at": when["starts_at"]},
    )
    assert freed.status_code == 201, freed.text
    assert freed.json()["channel"] == "hotline"


async def test_a_meal_every_weekday_booked_as_one_series_and_a_booking_moved(
    login: Login, world: World, db: psycopg.AsyncConnection[Any]
) -> None:
    admin, family, family2, operator = (
        await login("admin"),
        await login("family"),
        await login("family2"),
        await login("operator"),
    )
    mum, other = world.resident_ids[0], world.resident_ids[1]
    service = (await admin.post("/api/care/services", json=meal(world.station_ids[0]))).json()["id"]
    today = datetime.now(SHANGHAI).date()
    monday = today + timedelta(days=7 - today.weekday())  # next week's
    lunch = datetime.combine(monday, time(11, 30), SHANGHAI)
    friday_after = monday + timedelta(days=11)
    series = {
        "resident_id": mum,
        "service_id": service,
        "starts_at": lunch.isoformat(),
        "weekdays": [0, 1, 2, 3, 4],
        "until": friday_after.isoformat(),
    }

    # The other resident already has the only place on the second Wednesday: the whole series is refused.
    wednesday = datetime.combine(monday + timedelta(days=9), time(11, 30), SHANGHAI)
    taken = await operator.post(
        "/api/care/bookings", json={"resident_id": other, "service_id": service, "starts_at": wednesday.isoformat()}
    )
    assert taken.status_code == 201, taken.text
    not_all = await family.post("/api/care/bookings/series", json=series)
    assert locs(not_all) == [["body", "weekdays"]]
    assert wednesday.astimezone(UTC).strftime("%Y-%m-%d %H:%M") in not_all.json()["detail"][0]["msg"]
    assert refused(not_all) == ("care.full", {"starts_at": wednesday.astimezone(UTC).isoformat()})
    assert (await family.get(f"/api/care/residents/{mum}/bookings")).json() == []  # nothing half-written

    assert locs(await family.post("/api/care/bookings/series", json={**series, "weekdays": []})) == [
        ["body", "weekdays"]
    ]
    too_long = {**series, "until": (monday + timedelta(days=120)).isoformat()}
    too_long_refused = await family.post("/api/care/bookings/series", json=too_long)
    assert locs(too_long_refused) == [["body", "until"]]
    assert refused(too_long_refused) == ("care.series_too_long", {"days": 92})

    # Moved, with a reason, to the day before: the series now fits.
    moved = await operator.post(
        f"/api/care/bookings/{taken.json()['id']}/move",
        json={"starts_at": (wednesday - timedelta(days=2)).isoformat(), "reason": "家属要求改到周一"},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["changes"], datetime.fromisoformat(moved.json()["starts_at"])) == (
        1,
        wednesday - timedelta(days=2),
    )
    # Mum's series still meets it on that Monday: moved to a quarter past twelve (overlapping its own old slot).
    nudged = await operator.post(
        f"/api/care/bookings/{taken.json()['id']}/move",
        json={"starts_at": (wednesday - timedelta(days=2, minutes=-45)).isoformat(), "reason": "晚一点送"},
    )
    assert nudged.status_code == 200, nudged.text
    assert nudged.json()["changes"] == 2
    still_full = await family.post("/api/care/bookings/series", json=series)
    assert locs(still_full) == [["body", "weekdays"]]  # the only place, 12:15-13:15 against 11:30-12:30
    await operator.post(
        f"/api/care/bookings/{taken.json()['id']}/move",
        json={"starts_at": (wednesday - timedelta(days=2, hours=-3)).isoformat(), "reason": "改到下午"},
    )

    booked = await family.post("/api/care/bookings/series", json=series)
    assert booked.status_code == 201, booked.text
    visits = booked.json()
    assert len(visits) == 10  # two weeks of weekdays
    assert {v["series_id"] for v in visits} == {visits[0]["id"]}
    assert {datetime.fromisoformat(v["starts_at"]).astimezone(SHANGHAI).time() for v in visits} == {time(11, 30)}
    assert {datetime.fromisoformat(v["starts_at"]).astimezone(SHANGHAI).weekday() for v in visits} == set(range(5))

    # Moving onto another booking of hers, or someone else's relative's, is refused.
    clash = await family.post(
        f"/api/care/bookings/{visits[0]['id']}/move",
        json={"starts_at": visits[1]["starts_at"], "reason": "x"},
    )
    assert locs(clash) == [["body", "starts_at"]]
    busy = {"starts_at": datetime.fromisoformat(visits[1]["starts_at"]).isoformat(), "booking_id": visits[1]["id"]}
    assert refused(clash) == ("care.resident_busy", busy)
    no_reason = await family.post(
        f"/api/care/bookings/{visits[0]['id']}/move", json={"starts_at": visits[0]["starts_at"]}
    )
    assert locs(no_reason) == [["body", "reason"]]
    foreign = await family2.post(
        f"/api/care/bookings/{visits[0]['id']}/move", json={"starts_at": visits[0]["starts_at"], "reason": "x"}
    )
    assert foreign.status_code == 404
    history = await (
        await db.execute(
            "SELECT changed_by, reason FROM care_booking_changes WHERE booking_id = %s ORDER BY id",
            (taken.json()["id"],),
        )
    ).fetchall()
    assert history == [("operator", "家属要求改到周一"), ("operator", "晚一点送"), ("operator", "改到下午")]


async def test_the_hotline_and_the_station_book_move_and_cancel_for_a_resident_under_the_same_rules(
    login: Login, world: World, db: psycopg.AsyncConnection[Any]
) -> None:
    admin, operator, responder = await login("admin"), await login("operator"), await login("responder")
    family = await login("family")
    service = (await admin.post("/api/care/services", json=meal(world.station_ids[0]))).json()["id"]
    ours = await (
        await db.execute("SELECT id FROM residents WHERE station_id = %s ORDER BY id LIMIT 1", (world.station_ids[0],))
    ).fetchone()
    theirs = await (
        await db.execute(
            "WITH s AS (INSERT INTO stations (code, name, address, lat, lon) "
            "           SELECT 'next', '邻近服务站', '邻近路 1 号', lat, lon FROM stations WHERE id = %s RETURNING id) "
            "UPDATE residents SET station_id = (SELECT id FROM s) WHERE id = %s RETURNING id",
            (world.station_ids[0], world.resident_ids[-1]),
        )
    ).fetchone()
    assert ours is not None
    assert theirs is not None
    assert ours != theirs
    resident = ours[0]

    # The card they book from: the call centre and the resident's station see it, each opening logged; a family
    # member, and a responder for another station's resident, get nothing.
    card = await operator.get(f"/api/care/residents/{resident}/brief")
    assert card.status_code == 200, card.text
    assert card.json()["id"] == resident
    assert card.json()["name"]
    assert (await responder.get(f"/api/care/residents/{resident}/brief")).status_code == 200
    assert (await responder.get(f"/api/care/residents/{theirs[0]}/brief")).status_code == 404
    assert (await family.get(f"/api/care/residents/{resident}/brief")).status_code == 403
    logged = await (
        await db.execute(
            "SELECT DISTINCT u.username FROM access_log a JOIN users u ON u.id = a.user_id "
            "WHERE a.resident_id = %s AND a.action = 'care.booking_card'",
            (resident,),
        )
    ).fetchall()
    assert sorted(r[0] for r in logged) == ["operator", "responder"]

    # The station books (its channel), the hotline's clash is refused as the family's would be, the station moves
    # and cancels with reasons.
    noon = (datetime.now(UTC) + timedelta(days=3)).replace(hour=4, minute=0, second=0, microsecond=0)
    booked = await responder.post(
        "/api/care/bookings", json={"resident_id": resident, "service_id": service, "starts_at": noon.isoformat()}
    )
    assert booked.status_code == 201, booked.text
    assert (booked.json()["channel"], booked.json()["booked_by"]) == ("station", "responder")
    clash = await operator.post(
        "/api/care/bookings",
        json={"resident_id": resident, "service_id": service, "starts_at": (noon + timedelta(minutes=30)).isoformat()},
    )
    assert refused(clash)[0] == "care.resident_busy"
    assert (
        await responder.post(
            "/api/care/bookings",
            json={"resident_id": theirs[0], "service_id": service, "starts_at": noon.isoformat()},
        )
    ).status_code == 404
    booking = booked.json()["id"]
    moved = await responder.post(
        f"/api/care/bookings/{booking}/move",
        json={"starts_at": (noon + timedelta(hours=2)).isoformat(), "reason": "电话改时间"},
    )
    assert moved.status_code == 200, moved.text
    cancelled = await operator.post(f"/api/care/bookings/{booking}/cancel", json={"reason": "老人住院"})
    assert (cancelled.json()["status"], cancelled.json()["cancelled_by"]) == ("cancelled", "operator")
    assert (
        refused(
            await responder.post(
                f"/api/care/bookings/{booking}/move", json={"starts_at": noon.isoformat(), "reason": "x"}
            )
        )[0]
        == "care.cancelled"
    )

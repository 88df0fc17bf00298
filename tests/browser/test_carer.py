"""The carer's phone page: today's visits in route order, a visit opened with the resident's card (logged), check-in
refused by the phone's position far from the home and accepted near it, check-out with the service's task checklist
and a note; in English, "resident unwell" passed to the call centre."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import psycopg
import pytest
from playwright.async_api import expect

from homecare.backend.alarms.pipeline import ManualClock
from tests.browser.conftest import SignIn, screenshot
from tests.browser.test_visits import PHONE
from tests.support.backend import AUTH, Backend
from tests.support.world import World

pytestmark = pytest.mark.daytime

TASKS = ["清扫地面", "整理床铺", "检查燃气阀门"]


async def a_carer_day(backend: Backend, world: World, now: datetime) -> list[int]:
    """Two cleanings for the demo carer 20 and 50 minutes after ``now`` (the backend's), at the first two residents'
    in that order; their booking ids."""
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        service = await api.post(
            "/api/care/services",
            json={
                "station_id": world.station_ids[0],
                "kind": "cleaning",
                "name": "居家保洁",
                "duration_min": 30,
                "price_yuan": 20,
                "capacity": 5,
                "radius_km": 100,
                "tasks": TASKS,
            },
        )
        assert service.status_code == 201, service.text
        bookings = []
        for minutes, resident in ((20, world.resident_ids[0]), (50, world.resident_ids[1])):
            starts_at = (now + timedelta(minutes=minutes)).isoformat()
            booked = await api.post(
                "/api/care/bookings",
                json={"resident_id": resident, "service_id": service.json()["id"], "starts_at": starts_at},
            )
            assert booked.status_code == 201, booked.text
            assigned = await api.put(
                f"/api/care/bookings/{booked.json()['id']}/carer", json={"carer_id": world.user_ids["carer"]}
            )
            assert assigned.status_code == 200, assigned.text
            bookings.append(booked.json()["id"])
    return bookings


@pytest.fixture
def backend(world: World, clocked_backend: Backend) -> Backend:
    """The API on the clock early in the day, so that the visits booked ahead of it are today's."""
    return clocked_backend


async def test_a_carer_checks_in_and_out_on_a_phone(
    sign_in: SignIn, backend: Backend, database_url: str, world: World, clock: ManualClock
) -> None:
    first, second = await a_carer_day(backend, world, clock.now())
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        homes = {
            row[0]: row[1:]
            for row in await (await conn.execute("SELECT id, display_name, lat, lon FROM residents")).fetchall()
        }
    name, lat, lon = homes[world.resident_ids[0]]

    page = await sign_in("carer", viewport=PHONE)
    await expect(page).to_have_url(re.compile(r"/carer$"))
    await expect(page.locator("h1")).to_have_text("今天的上门服务")
    route = page.locator("#route li")
    await expect(route).to_have_count(2)
    await expect(route.first).to_contain_text(name)  # the earlier visit first
    await expect(route.first).to_have_attribute("data-state", "todo")
    await expect(route.first).to_contain_text("助洁")
    await screenshot(page, "carer-phone")

    await route.first.locator("button").click()
    await expect(page.locator("#resident-name")).to_have_text(name)
    await page.context.grant_permissions(["geolocation"])
    await page.context.set_geolocation({"latitude": lat + 0.01, "longitude": lon})  # about 1.1 km away
    await page.click("#check-in")
    await expect(page.locator("#check-in-error")).to_contain_text(re.compile(r"手机距离老人家 \d+ 米，需在 150 米以内"))
    await page.context.set_geolocation({"latitude": lat, "longitude": lon})
    await page.click("#check-in")
    await expect(page.locator("#proofs")).to_contain_text("手机定位已确认")
    tasks = page.locator("#tasks label.choice")
    await expect(tasks).to_have_count(3)
    await tasks.filter(has_text=TASKS[0]).click()
    await tasks.filter(has_text=TASKS[2]).click()
    await page.fill("#carer-note", "厨房水龙头漏水，已告知家属")
    await expect(page.locator(".toast")).to_have_count(0)  # the check-in's notice gone, not over the button
    await screenshot(page, "carer-checkout")
    await page.click("#check-out")
    await expect(page.locator("#visit-" + str(first))).to_have_attribute("data-state", "done")
    await expect(page.locator(f"#visit-{first} .visit-state")).to_have_text("已完成")
    assert page.errors == []  # type: ignore[attr-defined]

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        visit = await (
            await conn.execute(
                "SELECT outcome, checklist, note, phone_in_m < 10 FROM care_service_visits WHERE booking_id = %s",
                (first,),
            )
        ).fetchone()
        opened = await (
            await conn.execute(
                "SELECT count(*) FROM access_log a JOIN users u ON u.id = a.user_id "
                "WHERE u.username = 'carer' AND a.resident_id = %s AND a.action = 'care.carer_visit'",
                (world.resident_ids[0],),
            )
        ).fetchone()
    assert visit == (
        "completed",
        {TASKS[0]: True, TASKS[1]: False, TASKS[2]: True},
        "厨房水龙头漏水，已告知家属",
        True,
    )
    assert opened is not None
    assert opened[0] >= 1

    # In English: the second resident is unwell; the call centre gets an incident.
    name, lat, lon = homes[world.resident_ids[1]]
    english = await sign_in("carer", viewport=PHONE, lang="en")
    await expect(english.locator("h1")).to_have_text("Today's home services")
    await english.locator(f"#visit-{second} button").click()
    await english.context.grant_permissions(["geolocation"])
    await english.context.set_geolocation({"latitude": lat, "longitude": lon})
    await english.click("#check-in")
    await english.locator("label.choice", has_text="Resident unwell").click()
    await english.click("#check-out")
    await expect(english.locator(".toast").last).to_have_text("Checked out; the call centre was told")
    await expect(english.locator(f"#visit-{second}")).to_have_attribute("data-state", "done")
    assert english.errors == []  # type: ignore[attr-defined]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cause = await (
            await conn.execute(
                "SELECT i.cause FROM care_service_visits v JOIN incidents i ON i.id = v.incident_id "
                "WHERE v.booking_id = %s",
                (second,),
            )
        ).fetchone()
    assert cause == ("carer_visit",)

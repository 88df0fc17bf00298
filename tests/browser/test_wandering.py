"""A resident with dementia walks out of her safe zone with her GPS watch: the wandering alarm reaches the console
live, the incident screen draws her track since she left, the map shows it with her safe zone, and the daughter she
allowed sees where she is while the alarm is open."""

from __future__ import annotations

import math
from datetime import timedelta

import httpx
import psycopg
import pytest
from playwright.async_api import expect

from homecare.backend.alarms.pipeline import ManualClock
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import AUTH, Backend
from tests.support.world import World

M_PER_DEG = 111_195.0


@pytest.fixture
def backend(amqtt_url: str, world: World, clocked_backend: Backend) -> Backend:
    """The API on a manual clock: the test says when the detectors run, instead of waiting for their 30 s."""
    return clocked_backend


async def test_a_wandering_alarm_shows_her_track_on_the_incident_and_the_map(
    sign_in: SignIn, backend: Backend, world: World, database_url: str, clock: ManualClock
) -> None:
    resident = world.enrolment.residents[0]
    rid = world.resident_ids[0]
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as staff:
        home = {"name": "家", "shape": {"kind": "circle", "lat": resident.lat, "lon": resident.lon, "radius_m": 150}}
        assert (await staff.post(f"/api/residents/{rid}/safe-zones", json=home)).status_code == 201
    # Her watch's fixes of the last 12 minutes: at home, then walking away north-east, about 70 m a minute.
    now = clock.now()
    kx = M_PER_DEG * math.cos(math.radians(resident.lat))
    fixes = [
        (now - timedelta(minutes=12 - i), resident.lat + 50 * i / M_PER_DEG, resident.lon + 45 * i / kx)
        for i in range(13)
    ]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        watch = (
            await (
                await conn.execute(
                    "INSERT INTO devices (uid, kind, resident_id) VALUES ('gps-browser-01', 'gps_watch', %s) "
                    "RETURNING id",
                    (rid,),
                )
            ).fetchone()
        )[0]  # type: ignore[index]
        for seq, (ts, lat, lon) in enumerate(fixes):
            await conn.execute(
                "INSERT INTO location_fixes (device_id, resident_id, seq, ts, lat, lon, accuracy_m, source, moving) "
                "VALUES (%s, %s, %s, %s, %s, %s, 8, 'gnss', %s)",
                (watch, rid, seq, ts, lat, lon, seq > 0),
            )

    page = await sign_in("operator")
    await expect(page.locator("#feed-state.live")).to_be_visible()
    clock.advance(31)  # the detectors' next run
    row = page.locator("#queue .q-row", has_text="离开安全区域")
    await expect(row).to_have_count(1)
    await row.click()
    await expect(page.locator("#inc-cause")).to_have_text("离开安全区域")
    track = page.locator("#inc-track")
    # Since the first fix beyond the 150 m zone (the fourth, about 200 m out): ten fixes, drawn as one line.
    await expect(track.locator(".track-summary")).to_contain_text("离开安全区域后的 10 个定位点")
    await expect(track.locator(".m-track .path")).to_have_count(1)
    await expect(track.locator(".m-track .zone")).to_have_count(1)
    await expect(page.locator("#inc-explanation")).to_contain_text("距家")
    await screenshot(page, "console-wandering")

    await page.keyboard.press("m")
    drawing = page.locator("#map-svg")
    await expect(drawing.locator(".m-tracks .path")).to_have_count(1)
    await expect(drawing.locator(".m-tracks .zone")).to_have_count(1)
    await expect(drawing.locator(".m-incident")).to_have_count(1)
    await expect(page.locator(".map-legend")).to_contain_text("离开安全区域后的轨迹")
    await expect(drawing.locator(".m-tiles")).to_have_count(0)  # no tile server set: drawn offline, as it stands
    await screenshot(page, "console-map-track")
    assert page.errors == []  # type: ignore[attr-defined]

    # Her daughter, whom she allowed to see her location, sees where she is while the alarm is open.
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as staff:
        consent = {"user_id": world.user_ids["family"], "relation": "女儿", "share_location": True}
        assert (await staff.put(f"/api/residents/{rid}/family", json=consent)).status_code == 200
    family = await sign_in("family")
    latest = fixes[-1]
    await expect(family.locator("#location")).to_contain_text(
        f"北纬 {latest[1]:.5f}，东经 {latest[2]:.5f}（精度 ±8 米）"
    )
    assert family.errors == []  # type: ignore[attr-defined]

"""The night walkthrough, as the operator and the family see it: a fall at night, when the stations are closed and
only one has a responder on call; that station never accepts; the alarm comes back red at the top of the queue
with what is left to do; the operator sends 120 and records their answer; the family page says what really
happened at each step — and every word the server wrote is in the page's language."""

from __future__ import annotations

import re

import psycopg
import pytest
from playwright.async_api import Page, expect

from homecare.backend.alarms.pipeline import ManualClock
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import Backend
from tests.support.world import World

PHONE = {"width": 390, "height": 844}
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
CHINESE = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture
def backend(amqtt_url: str, world: World, clocked_backend: Backend) -> Backend:
    """The API whose alarm pipeline runs on a clock the test moves: the station's 180 s run out at once."""
    return clocked_backend


async def stored_event(database_url: str, resident_id: int, device_kind: str, kind: str) -> None:
    """An alarm as the gateway stores it (the device path itself is test_journey's)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority) "
            "SELECT id, resident_id, 1, now(), %s, 1 FROM devices WHERE resident_id = %s AND kind = %s",
            (kind, resident_id, device_kind),
        )


async def family_state(family: Page) -> str | None:
    await family.reload()
    panel = family.locator("#status-panel")
    await expect(panel).to_be_visible()
    return await panel.get_attribute("data-state")


async def no_english(page: Page, selector: str) -> None:
    """No English word in what the server wrote, on a Chinese page (names, numbers and units aside)."""
    for text in await page.locator(selector).all_inner_texts():
        assert not ENGLISH_WORD.search(text), text


async def no_chinese(page: Page, selector: str, names: list[str]) -> None:
    """No Chinese in what the server wrote, on an English page (the names of people and stations aside)."""
    for text in await page.locator(selector).all_inner_texts():
        for name in names:
            text = text.replace(name, "")
        assert not CHINESE.search(text), text


async def test_a_fall_at_night_no_station_accepts_the_operator_sends_120(
    sign_in: SignIn, backend: Backend, world: World, database_url: str, clock: ManualClock
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # A second station nearby; night for both: their hours start two hours from now. Only the first
        # station's responder is on its roster (on call); the other is closed with nobody on call.
        await conn.execute(
            "INSERT INTO stations (code, name, address, lat, lon) "
            "SELECT 'st-west', '西门街道社区养老服务站', address, lat + 0.01, lon FROM stations ORDER BY id LIMIT 1"
        )
        await conn.execute(
            "UPDATE stations SET opens = ((now() AT TIME ZONE timezone) + interval '2 hours')::time, "
            "closes = ((now() AT TIME ZONE timezone) + interval '3 hours')::time"
        )
        on_call = await (
            await conn.execute(
                "SELECT s.name FROM users u JOIN stations s ON s.id = u.station_id "
                "WHERE u.on_duty AND u.role = 'responder'"
            )
        ).fetchall()
    assert len(on_call) == 1
    station = on_call[0][0]
    fallen, other = world.enrolment.residents[0], world.enrolment.residents[1]
    console = await sign_in("operator")
    family = await sign_in("family", viewport=PHONE)
    await expect(console.locator("#feed-state.live")).to_be_visible()

    await stored_event(database_url, world.resident_ids[1], "sos_pendant", "sos")  # an older alarm, also P1
    await expect(console.locator("#queue .q-row")).to_have_count(1)
    await stored_event(database_url, world.resident_ids[0], "fall_sensor", "fall_detected")
    rows = console.locator("#queue .q-row")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(other.name)  # oldest first while both wait

    # Dispatch: the on-call station is suggested, every closed one says why, in Chinese.
    row = rows.filter(has_text=fallen.name)
    await row.click()
    await expect(console.locator("#incident[data-ready]")).to_be_visible()
    await console.keyboard.press("d")
    chosen = console.locator("#dispatch-dialog .station-opt:has(input:checked)")
    await expect(chosen).to_contain_text(station)
    await expect(chosen).to_contain_text("推荐")
    await expect(chosen).to_contain_text("人值守")
    await expect(console.locator("#dispatch-dialog .station-opt.off").first).to_contain_text("已下班")
    await no_english(console, "#dispatch-dialog .s-reason")
    await expect(console.locator("#dispatch-dialog-confirm")).to_be_enabled()
    await console.keyboard.press("Enter")
    await expect(console.locator("#inc-status")).to_have_text("已派人")
    # Asked is not accepted: the family page does not say help is on the way.
    assert await family_state(family) == "needs_attention"

    # The station never accepts: 180 s later nobody is on the way, and the screens say so.
    clock.advance(181)
    await expect(rows.first).to_contain_text(fallen.name, timeout=10_000)
    await expect(rows.first).to_have_class(re.compile(r"\battention\b"))
    await expect(rows.first.locator(".q-status")).to_have_text("无人出动")
    await expect(console.locator("#inc-attention")).to_be_visible()
    await expect(console.locator("#inc-status")).to_have_text("已接警")
    trail = console.locator("#trail")
    await expect(trail).to_contain_text(f"{station} 180 秒内未接单")
    await expect(trail.locator("tr.problem", has_text="派单失败")).to_contain_text("未能通知值班主管")
    await expect(trail).not_to_contain_text("已通知家属")
    await screenshot(console, "walkthrough-1-dispatch-failed")
    assert await family_state(family) == "needs_attention"
    await expect(family.locator("#status-reasons")).to_contain_text("呼叫中心正在处理")

    # The operator sends 120: the station that let it down is not suggested again; 120 is, by the cause.
    await console.keyboard.press("d")
    chosen = console.locator("#dispatch-dialog .station-opt:has(input:checked)")
    await expect(chosen).to_contain_text("120 急救")
    await expect(chosen).to_contain_text("按报警原因")
    await expect(console.locator("#dispatch-dialog")).to_contain_text("此事件已派过该站，未接单")
    await expect(console.locator("#emergency-answer")).to_be_visible()
    await console.select_option("#emergency-answer", "sent")
    await console.click("#dispatch-dialog-confirm")
    await expect(console.locator("#inc-status")).to_have_text("已派人")
    await expect(console.locator("#inc-attention")).to_be_hidden()
    await expect(rows.first).not_to_have_class(re.compile(r"\battention\b"))
    await expect(trail).to_contain_text("已拨打 120：对方派出人员")
    await no_english(console, "#trail td:nth-child(3)")
    await screenshot(console, "walkthrough-2-120-sent")

    # The family page says what really happened: the ambulance is coming.
    assert await family_state(family) == "help_on_the_way"
    await expect(family.locator("#status-reasons")).to_contain_text("已呼叫 120 急救，正在赶来")
    await expect(family.locator("#incidents li").first).to_contain_text("120 急救已出动")
    await screenshot(family, "walkthrough-3-family")

    # The same record read in English says it in English; so does the family page, relation included.
    supervisor = await sign_in("supervisor", lang="en")
    await supervisor.locator("#queue .q-row", has_text=fallen.name).click()
    await expect(supervisor.locator("#trail")).to_contain_text(f"{station} did not accept within 180 s")
    await expect(supervisor.locator("#trail")).to_contain_text("Called 120: they are sending help")
    await expect(supervisor.locator("#trail td:nth-child(2)", has_text="System").first).to_be_visible()
    await no_chinese(supervisor, "#trail td:nth-child(3)", [station])
    family2 = await sign_in("family2", lang="en", viewport=PHONE)
    await expect(family2.locator("#resident-name")).to_have_text(f"{other.name} (daughter)")
    await no_chinese(family2, "#status-reasons", [])
    for page in (console, family, supervisor, family2):
        assert page.errors == []  # type: ignore[attr-defined]

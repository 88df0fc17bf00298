"""The operator console in a real browser: a device alarm arrives live through the gateway, is handled from the
keyboard (acknowledge, note, dispatch, resolve), the resident card and the map show what an operator needs."""

from __future__ import annotations

import json
import re
import time

import psycopg
import pytest
from playwright.async_api import Page, expect

from homecare.gateway.service import Gateway
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import Backend
from tests.support.mqtt import TestClient
from tests.support.world import World


@pytest.fixture
async def prepared(database_url: str, world: World) -> World:
    """Stations open round the clock (the test may run at any hour) and a resident card worth reading."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE stations SET opens = '00:00', closes = '00:00'")
        await conn.execute(
            "UPDATE residents SET allergies = '{青霉素}', conditions = '{高血压,糖尿病}', medications = '{二甲双胍}', "
            "mobility = '使用助行器', language = '上海话', access_notes = '钥匙在 302 室王阿姨家，门禁 1234#' "
            "WHERE id = %s",
            (world.resident_ids[0],),
        )
        # Six hours of her wristband's minutes (heart rate, SpO2, activity), and its latest raw values.
        rid = world.resident_ids[0]
        wristband = (
            await (
                await conn.execute("SELECT id FROM devices WHERE resident_id = %s AND kind = 'wristband'", (rid,))
            ).fetchone()
            or [0]
        )[0]
        await conn.execute(
            "INSERT INTO telemetry_1m (bucket, resident_id, metric, n, sum, min, max) "
            "SELECT date_trunc('minute', now()) - m * interval '1 minute', %s, metric, 1, v, v, v "
            "FROM generate_series(1, 360) m, LATERAL (VALUES (1, 72 + 8 * sin(m / 40.0)), (2, 96 + sin(m / 25.0)), "
            "(6, greatest(0, 30 * sin(m / 60.0)))) AS x(metric, v)",
            (rid,),
        )
        await conn.execute(
            "INSERT INTO telemetry (ts, device_id, resident_id, metric, value, seq) "
            "VALUES (now(), %s, %s, 1, 74, 1), (now(), %s, %s, 2, 97, 1)",
            (wristband, rid, wristband, rid),
        )
    return world


def device_event(client: TestClient, world: World, resident: int, device: str, kind: str, **fields: object) -> None:
    """An event from one of the resident's devices, as the firmware publishes it (QoS 1)."""
    uid = next(d.uid for d in world.enrolment.residents[resident].devices if d.kind.value == device)
    event = {"v": 1, "device_id": uid, "seq": 1, "ts": int(time.time() * 1000), "kind": kind, **fields}
    client.publish(f"homecare/v1/dev/{uid}/event", json.dumps(event))


def press_sos(client: TestClient, world: World, resident: int) -> None:
    device_event(client, world, resident, "sos_pendant", "sos")


async def console(sign_in: SignIn, **options: object) -> Page:
    page = await sign_in("operator", **options)
    await expect(page.locator("#feed-state.live")).to_be_visible()
    return page


async def test_an_alarm_arrives_live_and_is_handled_from_the_keyboard(
    sign_in: SignIn, backend: Backend, gateway: Gateway, prepared: World, pendant: TestClient
) -> None:
    world = prepared
    record = world.enrolment.residents[0]
    page = await console(sign_in)
    await expect(page.locator("#queue-empty")).to_be_visible()
    assert await page.title() == "接警台 · 居家养老守护"
    await expect(page.locator("#who")).to_have_text("李娜 · 接警员")  # the name and the role, each once
    # "No open incidents" sits at the top of the queue, right under its heading.
    head, note = await page.locator(".queue-head").bounding_box(), await page.locator("#queue-empty").bounding_box()
    assert head is not None
    assert note is not None
    assert 0 <= note["y"] - (head["y"] + head["height"]) <= 24, (head, note)

    press_sos(pendant, world, 0)
    row = page.locator("#queue .q-row")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(record.name)
    await expect(row).to_contain_text("紧急呼叫")
    await expect(row.locator(".q-status")).to_have_text("待接警")
    await expect(row.locator(".q-prio")).to_have_text("P1")
    await expect(page).to_have_title(re.compile(r"^\(1\) 接警台"))
    await expect(page.locator("#queue-badge")).to_have_text("1 件待接警")
    await expect(page.locator("main")).to_have_attribute("data-alarms", "1")  # the beep sounded once
    await screenshot(page, "console-queue")

    await page.keyboard.press("j")
    screen = page.locator("#incident[data-ready]")
    await expect(screen).to_be_visible()
    await expect(page.locator("#inc-name")).to_contain_text(record.name)
    await expect(page.locator("#inc-explanation")).to_contain_text("按下了紧急呼叫按钮")
    await expect(screen.locator(".trigger")).to_contain_text("紧急按钮")
    await expect(page.locator(".allergies")).to_have_text("青霉素")
    await expect(page.locator("#card-access")).to_contain_text("钥匙在 302 室王阿姨家，门禁 1234#")
    contacts = page.locator("#card-contacts li")
    await expect(contacts).to_have_count(len(record.contacts))
    await expect(contacts.first).to_contain_text(record.contacts[0].name)
    await expect(contacts.first).to_contain_text(record.contacts[0].phone)
    await expect(screen.locator(".resident")).to_contain_text("上海话")
    await expect(page.locator("#act-ack kbd")).to_have_text("A")
    heart = page.locator(".vital[data-metric=heart_rate]")
    await expect(heart.locator(".v-value")).to_have_text("74 次/分")
    await expect(heart.locator("svg path")).to_have_count(1)

    await page.keyboard.press("a")
    await expect(page.locator("#inc-status")).to_have_text("已接警")
    await expect(row.locator(".q-status")).to_have_text("已接警")
    await expect(page).to_have_title("接警台 · 居家养老守护")
    await expect(page.locator("#act-ack")).to_be_disabled()

    await page.keyboard.press("n")
    await page.locator("#note-text").fill("老人说在卫生间滑倒，意识清楚")
    await page.click("#note-dialog-confirm")
    await expect(page.locator("#trail")).to_contain_text("老人说在卫生间滑倒，意识清楚")
    await expect(page.locator("#trail tbody tr").first).to_contain_text("李娜")  # a display name, not a user name
    await expect(page.locator("#trail")).not_to_contain_text("operator")

    await page.keyboard.press("h")
    await expect(page.locator("#trail tbody tr").first).to_contain_text("告知救助在路上")
    await page.keyboard.press("f")
    await page.locator("#family-note").fill("请家属尽快回电")
    await page.keyboard.press("Enter")
    await expect(page.locator("#trail tbody tr").first).to_contain_text("通知家属")

    station = next(s for s in world.enrolment.stations if s.code == record.station)
    await page.keyboard.press("d")
    suggested = page.locator("#dispatch-dialog .station-opt:has(input:checked)")
    await expect(suggested).to_contain_text(station.name)
    await expect(suggested).to_contain_text("推荐")
    await expect(suggested).to_contain_text(re.compile(r"约 \d+ 分钟"))
    await page.keyboard.press("Enter")  # the confirm button has the focus
    await expect(page.locator("#dispatch-dialog")).to_have_count(0)
    await expect(page.locator("#inc-status")).to_have_text("已派人")
    await expect(screen.locator(".tasks")).to_contain_text(station.name)
    await expect(page.locator("#trail")).to_contain_text("告知救助在路上")
    await screenshot(page, "console-incident")

    await page.keyboard.press("r")
    await page.select_option("#resolve-outcome", "no_injury")
    await page.click("#resolve-dialog-confirm")
    await expect(page.locator("#inc-status")).to_have_text("已处理")
    await expect(row).to_have_count(0)
    await expect(page.locator("#queue-empty")).to_be_visible()
    await expect(page.locator("#trail")).to_contain_text("结案")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_map_draws_stations_circles_homes_and_the_open_incident(
    sign_in: SignIn, backend: Backend, gateway: Gateway, prepared: World, pendant: TestClient
) -> None:
    world = prepared
    page = await console(sign_in)
    press_sos(pendant, world, 1)
    await expect(page.locator("#queue .q-row")).to_have_count(1)
    # A wristband's fall waits for "I'm OK": a pre-alarm, below the SOS, counting down its recovery window.
    device_event(pendant, world, 2, "wristband", "fall_detected", confidence=0.9)
    fall = page.locator("#queue .q-row").nth(1)
    await expect(fall.locator(".q-status")).to_have_text("预报警")
    await expect(fall.locator(".q-timer")).to_have_text(re.compile(r"^剩 0:[0-4]\d$"))
    await expect(page).to_have_title(re.compile(r"^\(2\) 接警台"))
    # The wait for "I'm OK" is said while it lasts, and not after: once taken, the headline is only the fall.
    await fall.click()
    await expect(page.locator("#inc-waiting")).to_have_text("正在等待老人按“我没事”")
    await expect(page.locator("#inc-explanation")).not_to_contain_text("我没事")
    await page.keyboard.press("a")
    await expect(page.locator("#inc-status")).to_have_text("已接警")
    await expect(page.locator("#inc-waiting")).to_have_count(0)
    await page.keyboard.press("m")
    drawing = page.locator("#map-svg")
    await expect(drawing.locator(".m-station")).to_have_count(len(world.station_ids))
    await expect(drawing.locator(".circle")).to_have_count(len(world.station_ids))
    await expect(drawing.locator(".m-home")).to_have_count(len(world.resident_ids))
    incident = drawing.locator(".m-incident", has_text=world.enrolment.residents[1].name)
    await expect(drawing.locator(".m-incident")).to_have_count(2)
    await expect(page.locator(".map-legend")).to_contain_text("15 分钟服务圈")
    await screenshot(page, "console-map")

    await incident.locator(".dot").click()
    await expect(page).to_have_url(re.compile(r"#/incidents/\d+$"))
    await expect(page.locator("#inc-name")).to_contain_text(world.enrolment.residents[1].name)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_console_speaks_english(
    sign_in: SignIn, backend: Backend, gateway: Gateway, prepared: World, pendant: TestClient
) -> None:
    world = prepared
    page = await console(sign_in, lang="en")
    await expect(page.locator(".queue-head h1")).to_have_text("Alarm queue")
    await expect(page.locator("#queue-empty")).to_have_text("No open incidents")
    press_sos(pendant, world, 0)
    row = page.locator("#queue .q-row")
    await expect(row).to_contain_text("SOS call")
    await expect(row.locator(".q-status")).to_have_text("Waiting")
    await expect(page).to_have_title(re.compile(r"^\(1\) Console"))
    await expect(page.locator("#queue-badge")).to_have_text("1 waiting")
    await row.click()
    await expect(page.locator("#incident[data-ready]")).to_be_visible()
    await expect(page.locator("#act-ack")).to_contain_text("Acknowledge")
    await expect(page.locator("#act-dispatch")).to_contain_text("Dispatch")
    await expect(page.locator("#inc-explanation")).to_contain_text("SOS button pressed")
    await expect(page.locator(".resident h2")).to_have_text("Resident")
    await expect(page.locator(".allergies")).to_have_text("青霉素")
    await expect(page.locator("#tab-map")).to_contain_text("Map")
    await screenshot(page, "console-en")
    assert page.errors == []  # type: ignore[attr-defined]

"""The whole alarm as the people involved see it, in one browser session each: a simulated ceiling radar sees
resident 0 fall; the operator gets it live, acknowledges and dispatches; the station accepts and closes it; the
operator resolves it; the family sees it with its outcome, and another family does not."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from playwright.async_api import expect

from homecare.contracts.messages import DeviceKind, EventKind
from homecare.gateway.service import Gateway
from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.netloop import PahoBridge
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import Backend
from tests.support.waiting import eventually
from tests.support.world import World

PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def home(broker_url: str, world: World, gateway: Gateway) -> AsyncIterator[dict[DeviceKind, SimDevice]]:
    """Resident 0's fall radar and home unit as simulated devices on the broker (with their own secrets)."""
    bridge = PahoBridge(asyncio.get_running_loop())
    loop = asyncio.create_task(bridge.run(0.05))
    devices = {
        record.kind: SimDevice(
            record.uid,
            broker=parse_mqtt_url(broker_url),
            clock=SimClock(),
            bridge=bridge,
            firmware="journey-1",
            secret=record.secret,
            backoff_s=(0.1, 0.5),
        )
        for record in world.enrolment.residents[0].devices
        if record.kind in (DeviceKind.FALL_SENSOR, DeviceKind.HOME_UNIT)
    }
    for device in devices.values():
        device.go_online()
    await eventually(lambda: all(device.connected for device in devices.values()))
    yield devices
    for device in devices.values():
        device.close()
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def test_a_fall_from_the_radar_to_the_family(
    sign_in: SignIn, backend: Backend, world: World, database_url: str, home: dict[DeviceKind, SimDevice]
) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE stations SET opens = '00:00', closes = '00:00'")  # open whenever the test runs
    resident = world.enrolment.residents[0]
    console = await sign_in("operator")
    station = await sign_in("responder")
    family = await sign_in("family", viewport=PHONE)
    stranger = await sign_in("family2", viewport=PHONE)
    await expect(console.locator("#feed-state.live")).to_be_visible()
    await expect(console.locator("#queue-empty")).to_be_visible()

    radar = home[DeviceKind.FALL_SENSOR]
    fell_at = time.monotonic()
    seq = radar.publish_event(radar._clock.now(), EventKind.FALL_DETECTED, room="bathroom", confidence=0.93)
    row = console.locator("#queue .q-row")
    await expect(row).to_contain_text(resident.name)
    on_screen_s = time.monotonic() - fell_at  # for the record; the figure is measured by bench/console.py
    await expect(row).to_contain_text("跌倒")
    await eventually(lambda: seq not in radar.outbox)  # the platform acknowledged the radar's event
    await screenshot(console, "journey-1-console-alarm")

    await row.click()
    await expect(console.locator("#incident[data-ready]")).to_be_visible()
    await console.keyboard.press("a")
    await expect(console.locator("#inc-status")).to_have_text("已接警")
    await console.keyboard.press("d")
    await expect(console.locator("#dispatch-dialog .station-opt:has(input:checked)")).to_contain_text("推荐")
    await console.keyboard.press("Enter")
    await expect(console.locator("#inc-status")).to_have_text("已派人")
    await eventually(lambda: bool(home[DeviceKind.HOME_UNIT].help_coming))  # "help is coming" said at home

    task = station.locator(".task[data-status]").first
    await expect(task).to_have_attribute("data-status", "offered", timeout=10_000)
    await expect(task.locator("h3")).to_contain_text(resident.name)
    await screenshot(station, "journey-2-station-task")
    await task.locator("[data-action=accept]").click()
    await expect(task).to_have_attribute("data-status", "accepted")
    # The family page asks for news every 10 s.
    await expect(family.locator("#status-panel")).to_have_attribute("data-state", "help_on_the_way", timeout=15_000)
    await screenshot(family, "journey-3-family-help-coming")
    await task.locator("[data-action=on-scene]").click()
    await expect(task).to_have_attribute("data-status", "on_scene")
    await task.locator("[data-action=done]").click()
    await task.locator("textarea").fill("老人在卫生间滑倒，已扶起，无明显外伤")
    await task.locator("[data-confirm=done]").click()
    await expect(station.locator("#tasks-closed .task")).to_have_attribute("data-status", "done")

    await expect(console.locator("#trail")).to_contain_text("服务完成")
    await console.keyboard.press("r")
    await console.select_option("#resolve-outcome", "no_injury")
    await console.click("#resolve-dialog-confirm")
    await expect(console.locator("#inc-status")).to_have_text("已处理")
    await expect(console.locator("#queue-empty")).to_be_visible()

    await family.reload()
    history = family.locator("#incidents li")
    await expect(history).to_have_count(1)
    await expect(history.locator(".cause")).to_have_text(re.compile("跌倒"))
    await expect(history.locator(".outcome")).to_contain_text("没有受伤")
    await expect(family.locator("#status-panel")).not_to_have_attribute("data-state", "help_on_the_way")
    await screenshot(family, "journey-4-family-after")

    await stranger.reload()
    await expect(stranger.locator("#no-incidents")).to_be_visible()
    await expect(stranger.locator("body")).not_to_contain_text(resident.name)
    for page in (console, station, family, stranger):
        assert page.errors == []  # type: ignore[attr-defined]
    print(f"fall on the operator's screen after {on_screen_s * 1000:.0f} ms")

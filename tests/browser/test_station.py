"""A responder works a real alarm in the station view, and the family of that resident follows it on their
phone: SOS pendant → MQTT → gateway → alarm pipeline → incident, dispatched by the call centre to the station."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import expect

from homecare.contracts.messages import DeviceKind
from homecare.gateway.service import Gateway
from tests.browser.conftest import SignIn, screenshot
from tests.support import homes
from tests.support.backend import AUTH, Backend
from tests.support.world import World

PHONE = {"width": 390, "height": 844}


async def as_call_centre(backend: Backend, path: str, body: dict[str, Any], expect_status: int = 200) -> Any:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        response = await client.post(f"/api{path}", json=body)
    assert response.status_code == expect_status, response.text
    return response.json()


async def test_a_responder_takes_a_dispatched_alarm_to_done_and_the_family_sees_it(
    sign_in: SignIn, backend: Backend, world: World, database_url: str, gateway: Gateway, broker_url: str
) -> None:
    station = await sign_in("responder")
    await expect(station.locator("#station-name")).to_have_text(world.enrolment.stations[0].name)
    await expect(station.locator("#no-tasks")).to_be_visible()
    await expect(station.locator("#capacity")).to_have_text("0 / 3 在用")
    await expect(station.locator("#duty-switch")).to_have_attribute("aria-checked", "true")

    incident_id = await homes.device_alarm(database_url, broker_url, world, kind=DeviceKind.SOS_PENDANT, event="sos")
    await as_call_centre(
        backend, f"/incidents/{incident_id}/dispatch", {"actor": "operator", "station_id": world.station_ids[0]}, 201
    )

    task = station.locator(".task[data-status]").first
    await expect(task).to_have_attribute("data-status", "offered", timeout=10_000)
    await expect(task.locator("h3")).to_have_text(f"紧急呼叫 · {world.enrolment.residents[0].name}")
    await expect(station).to_have_title(re.compile(r"^\(1\) 新任务"))
    await expect(station.locator("main")).to_have_attribute("data-rings", "1")
    await expect(station.locator("#capacity")).to_have_text("1 / 3 在用")
    await screenshot(station, "station-tasks")

    await task.locator("[data-action=accept]").click()
    await expect(task).to_have_attribute("data-status", "accepted")
    await task.locator("[data-action=en-route]").click()
    await expect(task).to_have_attribute("data-status", "en_route")

    family = await sign_in("family", viewport=PHONE)
    await expect(family.locator("#status-panel")).to_have_attribute("data-state", "help_on_the_way")
    await expect(family.locator("#status-headline")).to_have_text("救助人员正在赶来")
    await expect(family.locator("#status-reasons")).to_contain_text("紧急呼叫：服务站人员正在赶来")

    await task.locator("[data-action=on-scene]").click()
    await expect(task).to_have_attribute("data-status", "on_scene")
    await task.locator("[data-action=done]").click()
    await task.locator("textarea").fill("扶老人坐好，血压正常，无受伤")
    await task.locator("[data-confirm=done]").click()
    done = station.locator("#tasks-closed .task")
    await expect(done).to_have_attribute("data-status", "done")
    await expect(done.locator(".note")).to_contain_text("扶老人坐好，血压正常，无受伤")
    await expect(done).to_contain_text("王强")  # who went, by name rather than by user name
    await expect(done).not_to_contain_text("responder")
    await expect(station.locator("#no-tasks")).to_be_visible()
    await expect(station.locator("#capacity")).to_have_text("0 / 3 在用")

    await station.locator("#duty-switch").click()
    await expect(station.locator("#duty-switch")).to_have_attribute("aria-checked", "false")

    await as_call_centre(backend, f"/incidents/{incident_id}/resolve", {"actor": "operator", "outcome": "no_injury"})
    await family.reload()
    item = family.locator(f"#incidents li[data-incident-id='{incident_id}']")
    await expect(item.locator(".outcome")).to_have_text("已上门查看，没有受伤")
    await expect(item.locator(".cause")).to_have_text("紧急呼叫")
    await expect(family.locator("#status-panel")).not_to_have_attribute("data-state", "help_on_the_way")

    stranger = await sign_in("family2", viewport=PHONE)
    await expect(stranger.locator("#resident-name")).to_contain_text(world.enrolment.residents[1].name)
    await expect(stranger.locator("#no-incidents")).to_be_visible()
    await expect(stranger.locator("body")).not_to_contain_text(world.enrolment.residents[0].name)
    answer = await stranger.evaluate(
        "async (id) => (await fetch(`/api/family/residents/${id}/incidents`)).status", world.resident_ids[0]
    )
    assert answer == 404
    for page in (station, family, stranger):
        assert page.errors == []  # type: ignore[attr-defined]


async def test_a_supervisor_looks_at_any_station_in_english(sign_in: SignIn, world: World) -> None:
    page = await sign_in("supervisor", lang="en")
    await page.goto("/station")
    picker = page.locator("#station-pick")
    await expect(picker.locator("option")).to_have_count(len(world.station_ids))
    await expect(page.locator("#station-name")).to_have_text(world.enrolment.stations[0].name)
    await expect(page.locator("#capacity")).to_have_text("0 / 3 in use")
    await expect(page.locator("#no-tasks")).to_have_text("No tasks right now. A new task rings a bell.")
    await expect(page.locator("#duty-switch")).to_have_count(0)  # a supervisor is on no station's roster
    await expect(page.locator("#roster")).to_contain_text("On duty")
    assert page.errors == []  # type: ignore[attr-defined]

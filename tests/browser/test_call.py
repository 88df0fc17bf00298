"""The operator talks to a resident's home unit from the console after a fall: audio flows both ways between
headless Chromium (fake microphone) and the simulated home unit, and the call is on the incident's record."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import expect

from homecare.gateway.service import Gateway
from homecare.sim.netloop import PahoBridge
from homecare.sim.voice import HomeUnitVoice
from tests.browser.conftest import SignIn, screenshot
from tests.support import homes
from tests.support.backend import AUTH, Backend, serving
from tests.support.waiting import eventually
from tests.support.world import World


@pytest.fixture
async def backend(
    database_url: str, broker_url: str, world: World, gateway: Gateway, tmp_path: Path
) -> AsyncIterator[Backend]:
    """Listening on every interface: the page is opened at 127.0.0.1 (a secure context, so the microphone may be
    used), while the media of the call runs over the machine's own address (Chromium and aioice skip loopback)."""
    async with serving(database_url, host="0.0.0.0", data_dir=tmp_path / "backend") as running:
        yield dataclasses.replace(running, url=running.url.replace("0.0.0.0", "127.0.0.1"))


@pytest.fixture
async def home_unit(
    world: World, backend: Backend, broker_url: str, bridge: PahoBridge, tmp_path: Path
) -> AsyncIterator[tuple[str, HomeUnitVoice]]:
    """Resident 0's home unit online with its voice."""
    async with homes.home_unit(world, backend.url, broker_url, bridge, tmp_path) as (device, voice):
        yield device.uid, voice


async def test_the_operator_calls_the_home_after_a_fall_and_both_hear_each_other(
    sign_in: SignIn,
    backend: Backend,
    home_unit: tuple[str, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
) -> None:
    uid, voice = home_unit
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    page = await sign_in("operator")
    await page.goto(f"/console#/incidents/{incident_id}")
    await expect(page.locator("#incident[data-ready='true']")).to_be_visible()
    await page.click("#act-call")

    panel = page.locator("section#call-panel")
    await expect(panel).to_have_attribute("data-state", "connected", timeout=30_000)
    await expect(panel.locator("#call-state")).to_have_text("通话中")
    call_id = await panel.get_attribute("data-call-id")
    assert call_id is not None

    # The home unit hears the operator's (fake) microphone, and the console hears the resident's voice.
    home = voice.calls[call_id]
    await eventually(lambda: home.ear.loud_frames > 5, timeout=20)
    await page.wait_for_function(
        "() => Number(document.querySelector('#call-level').dataset.peak) > 0.01"
        " && Number(document.querySelector('#call-level').dataset.bytes) > 1000",
        timeout=20_000,
    )
    await expect(panel.locator("#call-timer")).not_to_have_text("0:00")
    await screenshot(page, "console-call")

    # Muted, the home hears nothing from the console (2 s of silence); unmuted, it hears the operator again.
    await page.click("#call-mute")
    await expect(page.locator("#call-mute")).to_have_attribute("aria-pressed", "true")
    await eventually(lambda: home.ear.silent_run > 100, timeout=20)
    await page.click("#call-mute")
    heard = home.ear.loud_frames
    await eventually(lambda: home.ear.loud_frames > heard, timeout=20)
    await page.locator("#call-volume").fill("0.3")
    assert await page.evaluate("document.querySelector('#call-audio').volume") == 0.3

    await page.click("#call-hangup")
    await expect(panel).to_have_attribute("data-state", "ended")
    await expect(panel.locator(f"#call-history li[data-call-id='{call_id}']")).to_contain_text("已接通")
    await asyncio.wait_for(home.ended.wait(), 10)
    assert home.outcome == "completed"

    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        calls = (await client.get(f"/api/incidents/{incident_id}/calls")).json()
    assert [(c["id"], c["device_uid"], c["outcome"], c["ended_by"], c["started_by"]) for c in calls] == [
        (call_id, uid, "completed", "operator", "operator")
    ]
    assert calls[0]["duration_s"] > 0
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        trail = [
            row[0]
            for row in await (
                await conn.execute(
                    "SELECT detail->>'change' FROM incident_transitions WHERE incident_id = %s ORDER BY id",
                    (incident_id,),
                )
            ).fetchall()
        ]
    assert trail.count("in_call") == 1  # one "call" press, one line on the audit trail
    assert "call_placed" not in trail
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_call_that_drops_is_shown_and_can_be_retried(
    sign_in: SignIn,
    backend: Backend,
    home_unit: tuple[str, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
) -> None:
    _, voice = home_unit
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    page = await sign_in("operator", lang="en")
    await page.goto(f"/console#/incidents/{incident_id}")
    await expect(page.locator("#incident[data-ready='true']")).to_be_visible()
    await page.click("#act-call")
    panel = page.locator("section#call-panel")
    await expect(panel).to_have_attribute("data-state", "connected", timeout=30_000)
    first = await panel.get_attribute("data-call-id")
    assert first is not None

    # The home unit's connection dies mid-call: the console says so and offers to call again.
    line = voice.calls[first]
    assert line.socket is not None
    await line.socket.close()
    await expect(panel).to_have_attribute("data-state", "dropped")
    await expect(panel.locator("#call-state")).to_have_text("Call dropped")
    await expect(panel.locator(f"#call-history li[data-call-id='{first}']")).to_contain_text("dropped")
    await page.click("#call-start")
    await expect(panel).to_have_attribute("data-state", "connected", timeout=30_000)
    second = await panel.get_attribute("data-call-id")
    assert second not in (None, first)
    await page.click("#call-hangup")
    await expect(panel.locator(f"#call-history li[data-call-id='{second}']")).to_contain_text("answered")

    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        calls = (await client.get(f"/api/incidents/{incident_id}/calls")).json()
    assert [(c["id"], c["outcome"]) for c in calls] == [(first, "dropped"), (second, "completed")]
    assert page.errors == []  # type: ignore[attr-defined]

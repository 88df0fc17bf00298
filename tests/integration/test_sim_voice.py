"""The demo's simulated neighbourhood talks back: after a resident's SOS, the operator's call reaches the simulated
home unit, which checks the token, answers and speaks (espeak-ng), and the operator hears it through the backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homecare.backend.deps import SESSION_COOKIE
from homecare.contracts.messages import DeviceKind, EventKind
from homecare.gateway.service import Gateway
from homecare.sim.clock import SimClock
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.runner import NeighbourhoodRun, RunOptions, VoiceOptions
from homecare.sim.voice import ConsolePeer, tone_wav
from tests.support.backend import Backend, serving
from tests.support.network import own_address
from tests.support.waiting import eventually
from tests.support.world import World, build_world, signed_in

pytestmark = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)

RESIDENT = 2  # the resident (numbered from 1, as in `homecare sim`) who presses the SOS button


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    return await build_world(database_url, tmp_path / "data")


@pytest.fixture
async def backend(
    database_url: str, broker_url: str, world: World, gateway: Gateway, tmp_path: Path
) -> AsyncIterator[Backend]:
    """The API on this machine's own address (ICE skips loopback); ``world`` comes before ``gateway`` in the
    arguments so the gateway starts after enrolment and knows the devices."""
    async with serving(database_url, host=own_address(), data_dir=tmp_path / "backend") as running:
        yield running


@pytest.fixture
async def simulator(backend: Backend, broker_url: str, world: World, tmp_path: Path) -> AsyncIterator[NeighbourhoodRun]:
    """The same neighbourhood as the enrolled world, played as `homecare sim neighbourhood --api-url` plays it."""
    enrolment = world.enrolment
    hood = build_neighbourhood(len(enrolment.residents), seed=enrolment.seed, background_incidents=False)
    run = NeighbourhoodRun(
        hood,
        parse_mqtt_url(broker_url),
        SimClock(),
        options=RunOptions(tick_s=0.1),
        voice=VoiceOptions(tmp_path / "sim" / "sim-speech", api_url=backend.url),
    )
    playing = asyncio.create_task(run.run())
    try:
        yield run
    finally:
        playing.cancel()
        await asyncio.gather(playing, return_exceptions=True)


async def test_the_operator_calls_a_simulated_home_after_an_sos_and_hears_the_resident(
    simulator: NeighbourhoodRun,
    backend: Backend,
    world: World,
    tmp_path: Path,
) -> None:
    unit = simulator.device(RESIDENT, DeviceKind.HOME_UNIT)
    pendant = simulator.device(RESIDENT, DeviceKind.SOS_PENDANT)
    voices = simulator.voices
    assert voices is not None
    # The units got the platform's key from the API; the idle homes hold no WebRTC peer, only a voice each.
    await eventually(lambda: unit.uid in voices.units and unit.connected and pendant.connected, timeout=30)
    assert len(voices.units) == len(world.enrolment.residents)
    assert all(voice.calls == {} for voice in voices.units.values())

    pendant.publish_event(simulator.clock.now(), EventKind.SOS)
    async with signed_in(backend, world, "operator") as operator:

        async def sos() -> int | None:
            queue = (await operator.get("/api/incidents")).json()
            return next((i["id"] for i in queue if i["resident_id"] == world.resident_ids[RESIDENT - 1]), None)

        incident_id = await eventually(sos, timeout=20)
        response = await operator.post(f"/api/incidents/{incident_id}/calls", json={})
        assert response.status_code == 201, response.text
        placed = response.json()
        call_id = placed["call"]["id"]
        assert placed["call"]["device_uid"] == unit.uid
        console = ConsolePeer(
            backend.ws_url + placed["signal_path"],
            headers={"Cookie": f"{SESSION_COOKIE}={operator.cookies[SESSION_COOKIE]}", "Origin": backend.url},
            speech=tone_wav(tmp_path / "operator.wav"),
        )
        talking = asyncio.create_task(console.run())

        # The simulated unit answered by itself (an alarm call) and both sides hear sound from the other.
        await asyncio.wait_for(console.line.connected.wait(), 30)
        home = voices.units[unit.uid].calls[call_id]
        await eventually(lambda: console.line.ear.loud_frames > 10 and home.ear.loud_frames > 10, timeout=20)
        assert (await operator.get(f"/api/incidents/{incident_id}")).json()["incident"]["status"] == "in_call"

        ended = (await operator.post(f"/api/calls/{call_id}/hangup", json={})).json()
        await asyncio.wait_for(talking, 10)
        await asyncio.wait_for(home.ended.wait(), 10)
        assert (ended["outcome"], ended["ended_by"], home.outcome) == ("completed", "operator", "completed")
    # The resident's words were spoken once by espeak-ng and kept for the next call.
    assert len(list((tmp_path / "sim" / "sim-speech").glob("help-*.wav"))) == 1

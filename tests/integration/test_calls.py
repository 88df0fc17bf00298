"""Voice calls end to end without a browser: a fall, the operator's call, the home unit's token check and answer,
audio both ways through the backend, the record on the incident, and who the signalling socket turns away."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from homecare.backend.calls import service as calls_service
from homecare.backend.calls.settings import CallSettings
from homecare.backend.calls.tokens import signing_key
from homecare.contracts.calltoken import CallClaims, sign
from homecare.contracts.codec import encode
from homecare.contracts.messages import Command, DeviceKind, StartCall
from homecare.gateway.service import Gateway
from homecare.sim.device import SimDevice
from homecare.sim.netloop import PahoBridge
from homecare.sim.voice import ConsolePeer, HomeUnitVoice, tone_wav
from tests.support import homes
from tests.support.backend import AUTH, Backend, serving
from tests.support.mqtt import TestClient
from tests.support.network import own_address
from tests.support.waiting import eventually
from tests.support.world import World

pytestmark = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)


@pytest.fixture
async def backend(
    database_url: str, broker_url: str, world: World, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backend]:
    # world before gateway: the gateway loads the enrolled devices when it starts.
    monkeypatch.setenv("HOMECARE_CALL_RECORD", "true")
    monkeypatch.setenv("HOMECARE_CALL_RING_TIMEOUT_S", "8")
    async with serving(database_url, host=own_address(), data_dir=tmp_path / "backend") as running:
        yield running


@pytest.fixture
async def home_unit(
    world: World, backend: Backend, broker_url: str, bridge: PahoBridge, tmp_path: Path
) -> AsyncIterator[tuple[SimDevice, HomeUnitVoice]]:
    """Resident 0's home unit online, recording what it hears."""
    async with homes.home_unit(world, backend.url, broker_url, bridge, tmp_path, record_dir=tmp_path / "heard") as unit:
        yield unit


async def test_the_operator_talks_to_the_home_unit_and_the_call_is_on_the_incident(
    backend: Backend,
    home_unit: tuple[SimDevice, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
    tmp_path: Path,
) -> None:
    _, voice = home_unit
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        placed = (await client.post(f"/api/incidents/{incident_id}/calls", json={})).json()
        call_id = placed["call"]["id"]
        assert placed["call"]["state"] == "calling"
        console = ConsolePeer(
            backend.ws_url + placed["signal_path"], headers=AUTH, speech=tone_wav(tmp_path / "operator.wav")
        )
        talking = asyncio.create_task(console.run())

        # The unit got a start_call over MQTT, checked its token and answered; both sides hear the other.
        await eventually(lambda: call_id in voice.calls, timeout=20)
        await asyncio.wait_for(console.line.connected.wait(), 20)
        home = voice.calls[call_id]
        await eventually(lambda: home.ear.loud_frames > 10 and console.line.ear.loud_frames > 10, timeout=20)
        assert home.sent_video is False  # no consent to video: the offer carried none
        assert (await client.get(f"/api/incidents/{incident_id}")).json()["incident"]["status"] == "in_call"

        hung_up = (await client.post(f"/api/calls/{call_id}/hangup", json={})).json()
        await asyncio.wait_for(talking, 10)
        await asyncio.wait_for(home.ended.wait(), 10)
        assert (hung_up["state"], hung_up["outcome"], hung_up["ended_by"]) == ("ended", "completed", "service")
        assert hung_up["duration_s"] > 0
        assert home.outcome == "completed"

        calls = (await client.get(f"/api/incidents/{incident_id}/calls")).json()
        assert [(c["id"], c["recorded"]) for c in calls] == [(call_id, True)]
        trail = (await client.get(f"/api/incidents/{incident_id}")).json()
        changes = [(t["detail"] or {}).get("change") for t in trail["transitions"]]
        assert {"in_call", "call_answered", "call_ended"} <= set(changes)

        # The audit recording plays back, and the playback is on the access log.
        recording = await client.get(f"/api/calls/{call_id}/recording/home")
        assert recording.content[:4] == b"OggS"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        logged = await (
            await conn.execute("SELECT count(*) FROM access_log WHERE action = 'call_recording'")
        ).fetchone()
        assert logged == (1,)
        # Past the retention period the recording goes; the call stays on the record.
        later = datetime.now(UTC) + timedelta(days=CallSettings().recording_retention_days + 1)
        assert (
            await calls_service.purge_recordings(
                conn, data_dir=backend_data(backend), now=later, retention_days=CallSettings().recording_retention_days
            )
            == 1
        )
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        assert (await client.get(f"/api/calls/{call_id}/recording/home")).status_code == 404
        assert (await client.get(f"/api/calls/{call_id}")).json()["recorded"] is False
    assert not (backend_data(backend) / "call-recordings" / call_id).exists()


def _command(call_id: str, token: str, url: str, cmd_id: int) -> bytes:
    body = StartCall(call_id=call_id, token=token, signalling_url=url)
    return encode(Command(cmd_id=cmd_id, ts=int(time.time() * 1000), body=body))


async def test_the_home_unit_refuses_forged_expired_and_foreign_call_tokens(
    backend: Backend,
    home_unit: tuple[SimDevice, HomeUnitVoice],
    broker_url: str,
    world: World,
) -> None:
    device, voice = home_unit
    other_uid, _ = homes.device_of(world, 1, DeviceKind.HOME_UNIT)
    now = int(time.time())
    forger = Ed25519PrivateKey.generate()
    # The genuine key signs the expired and the foreign tokens: only the signature, expiry or uid is wrong.
    genuine = signing_key(CallSettings(), backend_data(backend))

    def claims(call: str, dev: str, iat: int) -> CallClaims:
        return CallClaims(call=call, dev=dev, inc=1, iat=iat, exp=iat + 60)

    attempts = {
        "forged-call-1": sign(forger, claims("forged-call-1", device.uid, now)),
        "expired-call-1": sign(genuine, claims("expired-call-1", device.uid, now - 120)),
        "foreign-call-1": sign(genuine, claims("foreign-call-1", other_uid, now)),
    }
    platform = TestClient(broker_url)
    try:
        for n, (call_id, token) in enumerate(attempts.items(), start=900_001):
            platform.publish(
                f"homecare/v1/dev/{device.uid}/cmd",
                _command(call_id, token, f"{backend.ws_url}/api/calls/{call_id}/signal", n),
            )
        await eventually(lambda: len(voice.refused) == 3, timeout=20)
    finally:
        platform.close()
    assert dict(voice.refused) == {
        "forged-call-1": "bad signature",
        "expired-call-1": "token expired",
        "foreign-call-1": f"token is for device {other_uid}",
    }
    assert voice.calls == {}  # it never opened a line for any of them


def backend_data(backend: Backend) -> Path:
    app: Any = backend.server.config.app
    return Path(app.state.runtime.settings.data_dir)


async def _login(backend: Backend, world: World, username: str) -> str:
    async with httpx.AsyncClient(base_url=backend.url) as client:
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": world.password(username)}
        )
        response.raise_for_status()
        return response.headers["set-cookie"].split(";")[0]


async def test_the_signalling_socket_turns_away_family_responders_and_bad_tokens(
    backend: Backend,
    database_url: str,
    broker_url: str,
    world: World,
    home_unit: tuple[SimDevice, HomeUnitVoice],
) -> None:
    # The unit is online so it takes this call's start_call now: left at the broker, a later test's unit would get
    # it (and the outbox ids of a fresh database start again at 1, so the unit would drop that test's as a repeat).
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        placed = (await client.post(f"/api/incidents/{incident_id}/calls", json={"auto_answer": False})).json()
    url = backend.ws_url + placed["signal_path"]
    for username in ("family", "responder"):
        cookie = await _login(backend, world, username)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers={"Cookie": cookie, "Origin": backend.url}):
                pass
        assert refused.value.response.status_code == 403

    # A device that presents a token the platform did not sign for this call is turned away after its hello.
    forged = sign(
        Ed25519PrivateKey.generate(),
        CallClaims(
            call=placed["call"]["id"],
            dev=placed["call"]["device_uid"],
            inc=incident_id,
            iat=int(time.time()),
            exp=int(time.time()) + 60,
        ),
    )
    async with connect(url) as socket:
        await socket.send(json.dumps({"type": "hello", "token": forged}))
        reply = json.loads(await socket.recv())
        assert (reply["type"], reply["detail"]) == ("refused", "call token refused: bad signature")
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008

    # A message far larger than any signalling needs closes the socket unread ("message too big").
    async with connect(url, max_size=None) as socket:
        await socket.send(json.dumps({"type": "hello", "token": "x" * 100_000}))
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_the_camera_goes_on_only_with_the_residents_consent(
    backend: Backend,
    home_unit: tuple[SimDevice, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
    tmp_path: Path,
) -> None:
    _, voice = home_unit
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    speech = tone_wav(tmp_path / "operator.wav")

    async def call_with_video(consent: bool) -> tuple[dict[str, Any], ConsolePeer]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(
                "UPDATE residents SET consent_video = %s WHERE id = %s", (consent, world.resident_ids[0])
            )
        placed = (await client.post(f"/api/incidents/{incident_id}/calls", json={"video": True})).json()
        console = ConsolePeer(backend.ws_url + placed["signal_path"], headers=AUTH, speech=speech)
        calls.append(asyncio.create_task(console.run()))
        await asyncio.wait_for(console.line.connected.wait(), 20)
        return placed["call"], console

    calls: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        # Without consent, asking for video still places a voice-only call: the home unit is never asked.
        call, _ = await call_with_video(consent=False)
        assert call["video"] is False
        assert voice.calls[call["id"]].offered_video is False
        await client.post(f"/api/calls/{call['id']}/hangup")
        await asyncio.wait_for(calls[0], 10)

        # With consent, the unit's camera reaches the console through the backend.
        call, console = await call_with_video(consent=True)
        assert call["video"] is True
        home = voice.calls[call["id"]]
        assert (home.offered_video, home.sent_video) == (True, True)
        await eventually(lambda: console.line.video_frames > 5, timeout=20)
        await client.post(f"/api/calls/{call['id']}/hangup")
        await asyncio.wait_for(calls[1], 10)


async def test_without_auto_answer_the_unit_rings_until_picked_up_declined_or_timed_out(
    backend: Backend,
    home_unit: tuple[SimDevice, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
    tmp_path: Path,
) -> None:
    _, voice = home_unit
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    speech = tone_wav(tmp_path / "operator.wav")
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        outcomes = []
        for resident_does in ("nothing", "declines", "picks up"):
            placed = (await client.post(f"/api/incidents/{incident_id}/calls", json={"auto_answer": False})).json()
            call_id = placed["call"]["id"]
            console = ConsolePeer(backend.ws_url + placed["signal_path"], headers=AUTH, speech=speech)
            talking = asyncio.create_task(console.run())
            await eventually(
                lambda call_id=call_id: call_id in voice.calls and voice.calls[call_id].state == "ringing", timeout=20
            )
            if resident_does == "declines":
                await voice.calls[call_id].send({"type": "refuse"})
            elif resident_does == "picks up":
                await voice.pick_up(call_id)
                await asyncio.wait_for(console.line.connected.wait(), 20)
                await eventually(lambda call_id=call_id: voice.calls[call_id].ear.loud_frames > 5, timeout=20)
                await client.post(f"/api/calls/{call_id}/hangup")
            await asyncio.wait_for(talking, 20)  # the console hears how it ended
            outcomes.append((console.line.outcome, voice.calls[call_id].outcome))
        assert outcomes == [("no_answer", "no_answer"), ("refused", "refused"), ("completed", "completed")]
        calls = (await client.get(f"/api/incidents/{incident_id}/calls")).json()
    assert [(c["outcome"], c["ended_by"], c["answered_at"] is not None) for c in calls] == [
        ("no_answer", "system", False),
        ("refused", "home_unit", False),
        ("completed", "service", True),
    ]


@pytest.fixture
def one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """This backend carries one call at a time (set before the backend starts)."""
    monkeypatch.setenv("HOMECARE_CALL_MAX_CALLS", "1")


async def test_a_home_unit_takes_one_call_and_a_missing_incident_is_missing_even_when_lines_are_full(
    one_line: None,
    backend: Backend,
    home_unit: tuple[SimDevice, HomeUnitVoice],
    database_url: str,
    broker_url: str,
    world: World,
) -> None:
    incident_id = await homes.device_alarm(database_url, broker_url, world)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as client:
        first = await client.post(f"/api/incidents/{incident_id}/calls", json={"auto_answer": False})
        assert first.status_code == 201
        call_id = first.json()["call"]["id"]
        # Every line of this backend is taken, yet an incident that does not exist is simply not there.
        missing = await client.post("/api/incidents/999/calls", json={})
        assert (missing.status_code, missing.json()["detail"]) == (404, "incident 999 does not exist")
        # A second call to the same home unit names the call in progress.
        again = await client.post(f"/api/incidents/{incident_id}/calls", json={"auto_answer": False})
        assert again.status_code == 409
        assert call_id in again.json()["detail"]
        await client.post(f"/api/calls/{call_id}/hangup")

        # Five operators call the home at once: one call goes out, the others are told which one.
        tries = await asyncio.gather(
            *(client.post(f"/api/incidents/{incident_id}/calls", json={"auto_answer": False}) for _ in range(5))
        )
        assert sorted(r.status_code for r in tries) == [201, 409, 409, 409, 409]
        placed = next(r.json()["call"]["id"] for r in tries if r.status_code == 201)
        assert all(placed in r.json()["detail"] for r in tries if r.status_code == 409)
        await client.post(f"/api/calls/{placed}/hangup")
        calls = (await client.get(f"/api/incidents/{incident_id}/calls")).json()
    assert [c["id"] for c in calls] == [call_id, placed]
    assert all(c["state"] == "ended" for c in calls)

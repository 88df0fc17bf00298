"""Call benchmark: time from placing a call to audio flowing both ways, and how many relayed, recorded calls
one backend keeps before audio breaks.

The API runs as its own process (recording on) with the gateway and the embedded broker beside it; this process
plays both ends of every call: the operator's console (an aiortc peer joining with the service token) and the
home unit (the simulator's voice, which gets its start_call over MQTT and checks the token). Part 1 places 10
calls one after another and times "POST /calls" to the first non-silent frame heard at both ends. Part 2 adds
calls in steps and, after each step, counts the frames each end received over a window: a call whose ends get
less than 90% of the 50 frames/s Opus sends, or mostly silence, is broken. Writes bench/results/calls.json.
Run: ``python -m bench.calls``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
from rich.console import Console

from bench.services import start_homecare, wait_for_api, with_services, write_results
from homecare.backend.calls.bridge import speed_up_audio_level
from homecare.contracts.calltoken import load_public_key
from homecare.contracts.codec import decode_command
from homecare.contracts.messages import StartCall
from homecare.sim.voice import ConsolePeer, HomeUnitVoice, Line, tone_wav
from homecare.storage.maintenance import prepare_storage
from homecare.storage.settings import StorageSettings
from tests.support.brokers import free_port
from tests.support.mqtt import TestClient
from tests.support.network import own_address

RESULTS = Path(__file__).parent / "results" / "calls.json"
TOKEN = "bench-token-" + "x" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FRAMES_PER_S = 50  # 20 ms Opus frames
console = Console()


@dataclass
class Placed:
    call_id: str
    operator: ConsolePeer
    home: Line
    task: asyncio.Task[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-calls", type=int, default=10)
    parser.add_argument("--max-calls", type=int, default=30, help="stop the ramp here even if audio holds")
    parser.add_argument("--step", type=int, default=2, help="calls added per ramp step")
    parser.add_argument("--window", type=float, default=3.0, help="seconds each step is measured over")
    parser.add_argument("--no-record", action="store_true", help="relay only (the deployment does not record)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = with_services("calls", lambda work, dsn, broker_url: _measure(work, dsn, broker_url, args), broker="amqtt")
    write_results(args.output, result)
    latency = result["time_to_audio_ms"]
    console.print(
        f"[bold]call → audio both ways[/]: median {latency['median']:.0f} ms "
        f"(min {latency['min']:.0f}, max {latency['max']:.0f}) over {latency['calls']} calls"
    )
    capacity = result["capacity"]
    kind = "relayed + recorded" if capacity["recorded"] else "relayed"
    console.print(
        f"[bold]simultaneous {kind} calls[/]: {capacity['calls_with_intact_audio']} "
        f"with intact audio; {capacity['limit']}"
    )
    console.print(f"written to {args.output}")


class CpuClock:
    """CPU seconds used by a process (from /proc), to turn into a share of one core over a window."""

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/stat")
        self._tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields = self._path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick


async def _measure(work: Path, dsn: str, broker_url: str, args: argparse.Namespace) -> dict[str, Any]:
    residents = args.latency_calls + args.max_calls
    speed_up_audio_level()  # the load generator's peers too, or it saturates long before the backend does
    await prepare_storage(dsn, StorageSettings(_env_file=None, database_url=dsn))  # type: ignore[call-arg]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO residents (display_name) SELECT 'resident ' || g FROM generate_series(1, %s) g", (residents,)
        )
        async with conn.cursor() as cur:
            for kind, prefix in (("sos_pendant", "sos"), ("home_unit", "hu")):
                await cur.executemany(
                    "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, %s, %s)",
                    [(f"{prefix}-bench-{i:04d}", kind, i) for i in range(1, residents + 1)],
                )
    host, port = own_address(), free_port()
    env = {
        **os.environ,
        "HOMECARE_DATABASE_URL": dsn,
        "HOMECARE_MQTT_URL": broker_url,
        "HOMECARE_API_TOKEN": TOKEN,
        "HOMECARE_API_HOST": host,
        "HOMECARE_API_PORT": str(port),
        "HOMECARE_DATA_DIR": str(work / "api"),
        "HOMECARE_CALL_RECORD": "false" if args.no_record else "true",
        "HOMECARE_CALL_MAX_CALLS": str(residents + 10),
        "PYTHONWARNINGS": "ignore",
    }
    gateway = start_homecare(work, "gateway", ["gateway"], {**env, "HOMECARE_GATEWAY_CLIENT_ID": "bench-calls-gateway"})
    api = start_homecare(work, "api", ["api"], env)
    base = f"http://{host}:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            await wait_for_api(base)
            key = load_public_key((await client.get("/api/calls/signing-key")).json()["public_key"])
            incidents = await _alarms(client, broker_url, residents)
            speech = tone_wav(work / "tone.wav", seconds=5.0)
            units = {
                f"hu-bench-{i:04d}": HomeUnitVoice(f"hu-bench-{i:04d}", public_key=key, speech=speech, camera=False)
                for i in range(1, residents + 1)
            }
            commands = _CommandRouter(broker_url, units, asyncio.get_running_loop())
            try:
                latencies = [
                    await _time_one_call(client, base, incidents[i], units, speech) for i in range(args.latency_calls)
                ]
                capacity = await _ramp(
                    client,
                    base,
                    [incidents[i] for i in range(args.latency_calls, residents)],
                    units,
                    speech,
                    CpuClock(api.pid),
                    args,
                )
            finally:
                commands.close()
                for unit in units.values():
                    await unit.close()
    finally:
        for process in (api, gateway):
            process.terminate()
            process.wait(30)
    return {
        "time_to_audio_ms": {
            "median": round(statistics.median(latencies), 1),
            "min": round(min(latencies), 1),
            "max": round(max(latencies), 1),
            "calls": len(latencies),
            "measured": "POST /api/incidents/{id}/calls until both ends hear non-silent audio "
            "(start_call over MQTT, token check, two offer/answer legs, ICE, DTLS)",
        },
        "capacity": capacity,
    }


class _CommandRouter:
    """One MQTT subscriber for every simulated home unit's command topic, handing start_call to its voice."""

    def __init__(self, broker_url: str, units: dict[str, HomeUnitVoice], loop: asyncio.AbstractEventLoop) -> None:
        def deliver(message: mqtt.MQTTMessage) -> None:
            body = decode_command(message.payload).body
            uid = message.topic.split("/")[3]
            if isinstance(body, StartCall) and uid in units:
                loop.call_soon_threadsafe(units[uid].ring, body)

        self._client = TestClient(broker_url, on_message=deliver)
        self._client.subscribe("homecare/v1/dev/+/cmd")

    def close(self) -> None:
        self._client.close()


async def _alarms(client: httpx.AsyncClient, broker_url: str, residents: int) -> list[int]:
    """Every resident presses SOS; their incidents' ids in resident order once all are open."""
    pendants = TestClient(broker_url)
    try:
        for i in range(1, residents + 1):
            uid = f"sos-bench-{i:04d}"
            pendants.publish(
                f"homecare/v1/dev/{uid}/event",
                json.dumps({"v": 1, "device_id": uid, "seq": 1, "ts": int(time.time() * 1000), "kind": "sos"}),
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queue = (await client.get("/api/incidents")).json()
            if len(queue) >= residents:
                return [i["id"] for i in sorted(queue, key=lambda i: i["resident_id"])]
            await asyncio.sleep(0.3)
    finally:
        pendants.close()
    raise TimeoutError("the SOS alarms did not all open incidents")


async def _place(
    client: httpx.AsyncClient, base: str, incident_id: int, units: dict[str, HomeUnitVoice], speech: Path
) -> Placed:
    placed = (await client.post(f"/api/incidents/{incident_id}/calls", json={})).json()
    call_id, uid = placed["call"]["id"], placed["call"]["device_uid"]
    operator = ConsolePeer(base.replace("http", "ws", 1) + placed["signal_path"], headers=AUTH, speech=speech)
    task = asyncio.create_task(operator.run())
    deadline = time.monotonic() + 30
    while call_id not in units[uid].calls:
        if time.monotonic() > deadline:
            raise TimeoutError(f"home unit {uid} never took call {call_id}")
        await asyncio.sleep(0.005)
    return Placed(call_id, operator, units[uid].calls[call_id], task)


async def _hang_up(client: httpx.AsyncClient, call: Placed) -> None:
    with contextlib.suppress(httpx.HTTPStatusError):
        (await client.post(f"/api/calls/{call.call_id}/hangup", json={})).raise_for_status()
    await asyncio.wait_for(call.task, 15)


async def _time_one_call(
    client: httpx.AsyncClient, base: str, incident_id: int, units: dict[str, HomeUnitVoice], speech: Path
) -> float:
    started = time.monotonic()
    call = await _place(client, base, incident_id, units, speech)
    while call.operator.line.ear.first_sound_at is None or call.home.ear.first_sound_at is None:
        if time.monotonic() - started > 30:
            raise TimeoutError(f"no audio on call {call.call_id}")
        await asyncio.sleep(0.002)
    both = max(call.operator.line.ear.first_sound_at, call.home.ear.first_sound_at)
    await _hang_up(client, call)
    return (both - started) * 1000


async def _flowing(calls: list[Placed], timeout: float) -> bool:
    """Whether every call's both ends hear sound within the timeout."""
    deadline = time.monotonic() + timeout
    while any(c.operator.line.ear.first_sound_at is None or c.home.ear.first_sound_at is None for c in calls):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _heard(calls: list[Placed]) -> list[tuple[int, int]]:
    return [(c.operator.line.ear.frames, c.home.ear.frames) for c in calls] + [
        (c.operator.line.ear.loud_frames, c.home.ear.loud_frames) for c in calls
    ]


async def _ramp(
    client: httpx.AsyncClient,
    base: str,
    incidents: list[int],
    units: dict[str, HomeUnitVoice],
    speech: Path,
    api_cpu: CpuClock,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Add calls in steps until one breaks, the backend's core is saturated, or --max-calls; hang all up."""
    me = CpuClock(os.getpid())
    idle0, t0 = api_cpu.seconds(), time.monotonic()
    await asyncio.sleep(args.window)
    idle = (api_cpu.seconds() - idle0) / (time.monotonic() - t0)  # the pipeline and maintenance, no calls
    active: list[Placed] = []
    steps: list[dict[str, Any]] = []
    intact, limit = 0, f"stopped at --max-calls {args.max_calls} with audio intact"
    try:
        while len(active) < min(args.max_calls, len(incidents)):
            for incident_id in incidents[len(active) : len(active) + args.step]:
                active.append(await _place(client, base, incident_id, units, speech))
            if not await _flowing(active, timeout=15):
                limit = f"new calls no longer connected within 15 s at {len(active)} calls"
                break
            await asyncio.sleep(0.5)  # the jitter buffers of the new calls settle
            before, api0, me0, t0 = _heard(active), api_cpu.seconds(), me.seconds(), time.monotonic()
            await asyncio.sleep(args.window)
            after, elapsed = _heard(active), time.monotonic() - t0
            api_share, my_share = (api_cpu.seconds() - api0) / elapsed, (me.seconds() - me0) / elapsed
            n = len(active)
            frames = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after[:n], before[:n], strict=True)]
            loud = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after[n:], before[n:], strict=True)]
            expected = FRAMES_PER_S * elapsed
            worst = min(min(f) for f in frames) / expected
            loudest_gap = min(
                min(lf / max(f, 1) for lf, f in zip(lo, fr, strict=True)) for lo, fr in zip(loud, frames, strict=True)
            )
            step = {
                "calls": n,
                "worst_frame_rate": round(worst, 3),
                "worst_sound_share": round(loudest_gap, 3),
                "backend_cpu_core_share": round(api_share, 2),
                "load_generator_cpu_core_share": round(my_share, 2),
            }
            steps.append(step)
            console.print(step)
            if worst < 0.9 or loudest_gap < 0.8:
                limit = (
                    f"audio broke at {n} calls (worst end: {worst:.0%} of the frames due, as little as "
                    f"{loudest_gap:.0%} of them with sound); backend at {api_share:.0%} of a core, load generator "
                    f"at {my_share:.0%}, on a machine of {os.cpu_count()} cores"
                )
                break
            intact = n
            if api_share > 0.9:
                limit = f"the backend process saturated one core ({api_share:.0%}) at {n} calls"
                break
            if my_share > 0.95:
                limit = (
                    f"the load generator (both ends of every call, one Python process) saturated a core at {n} "
                    f"calls while the backend used {api_share:.0%} of one"
                )
                break
    finally:
        await asyncio.gather(*(_hang_up(client, call) for call in active), return_exceptions=True)
    last = next((s for s in reversed(steps) if s["calls"] == intact), None)
    per_call = None if last is None else (last["backend_cpu_core_share"] - idle) / intact
    return {
        "calls_with_intact_audio": intact,
        "limit": limit,
        "recorded": not args.no_record,
        "backend_idle_cpu_core_share": round(idle, 2),
        "backend_cpu_core_share_per_call": None if per_call is None else round(per_call, 3),
        "calls_per_backend_core_projected": None if not per_call else int((0.9 - idle) / per_call),
        "steps": steps,
        "per_call_work": "two aiortc peers in the backend (DTLS-SRTP, RTP, jitter buffers in Python), "
        "2 Opus decodes, 2 encodes" + ("" if args.no_record else ", 2 recording encodes"),
    }


if __name__ == "__main__":
    main()

"""Alarm benchmark: device publish → operator WebSocket latency while the fleet pushes telemetry.

Pendants press SOS one after another (each from a different resident, so each alarm opens its own
incident) through real Mosquitto, the gateway, the alarm pipeline and the API's live feed, while a
load fleet sends telemetry at the ingest target. Prints p50/p99 and writes bench/results/alarms.json.
Run: ``make bench-alarms``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import psycopg
import websockets
from rich.console import Console

from bench.services import start_homecare, wait_for_api, with_services, write_results
from homecare.sim.fleet import fleet_devices
from homecare.storage.maintenance import prepare_storage
from homecare.storage.settings import StorageSettings
from tests.support.brokers import free_port
from tests.support.mqtt import TestClient

RESULTS = Path(__file__).parent / "results" / "alarms.json"
TOKEN = "bench-token-" + "x" * 24
console = Console()

# The first stage on its own: from the pendant's clock to the gateway's transaction that stores the alarm.
STAGES = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY stored), percentile_cont(0.99) WITHIN GROUP (ORDER BY stored)
FROM (SELECT extract(epoch FROM received_at - ts) * 1000 AS stored FROM events WHERE kind = 'sos') AS alarm
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two alarms")
    parser.add_argument("--fleet-devices", type=int, default=2000)
    parser.add_argument("--fleet-rate", type=float, default=20_000.0, help="telemetry messages/s (0: none)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    latencies, stored_points = with_services(
        "alarms", lambda work, dsn, broker_url: _measure(work, dsn, broker_url, args), broker="mosquitto"
    )
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    result = {
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
        "alarms": len(ordered),
        "telemetry_msgs_per_s_offered": args.fleet_rate,
        "telemetry_points_stored_meanwhile": stored_points,
    }
    write_results(args.output, result)
    console.print(
        f"[bold]alarm → operator screen[/]: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms "
        f"over {len(ordered)} alarms, with {args.fleet_rate:,.0f} telemetry messages/s offered"
    )
    console.print(f"written to {args.output}")


async def _measure(work: Path, dsn: str, broker_url: str, args: argparse.Namespace) -> tuple[list[float], int]:
    settings = StorageSettings(_env_file=None, database_url=dsn)  # type: ignore[call-arg]
    await prepare_storage(dsn, settings)
    fleet = fleet_devices(args.fleet_devices, prefix="bench")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO residents (display_name) SELECT 'resident ' || g FROM generate_series(1, %s) g",
            (args.alarms + len(fleet),),
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'sos_pendant', %s)",
                [(f"pendant-{i:05d}", i) for i in range(1, args.alarms + 1)],
            )
            await cur.executemany(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s)",
                [(d.uid, args.alarms + i + 1) for i, d in enumerate(fleet)],
            )
    api_port = free_port()
    env = {
        **os.environ,
        "HOMECARE_DATABASE_URL": dsn,
        "HOMECARE_MQTT_URL": broker_url,
        "HOMECARE_API_TOKEN": TOKEN,
        "HOMECARE_API_PORT": str(api_port),
    }
    # As deployed under load: one gateway process for telemetry, one for alarms and the rest.
    processes = [
        start_homecare(
            work,
            f"gateway-{channels}",
            ["gateway"],
            {**env, "HOMECARE_GATEWAY_CHANNELS": channels, "HOMECARE_GATEWAY_CLIENT_ID": f"bench-{channels}"},
        )
        for channels in ("telemetry", "alarms")
    ]
    processes.append(start_homecare(work, "api", ["api"], env))
    try:
        await wait_for_api(f"http://127.0.0.1:{api_port}")
        if args.fleet_rate > 0:
            duration = args.alarms * args.interval + 30
            processes.append(
                start_homecare(
                    work,
                    "fleet",
                    [
                        "sim",
                        "fleet",
                        "--devices",
                        str(args.fleet_devices),
                        "--rate",
                        str(args.fleet_rate),
                        "--duration",
                        f"{duration:.0f}",
                        "--mqtt-url",
                        broker_url,
                        "--prefix",
                        "bench",
                        "--burst",
                        "4",
                    ],
                    env,
                )
            )
            await asyncio.sleep(8)  # the fleet connects and reaches its rate
        latencies = await _alarms(broker_url, api_port, args)
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            row = await (await conn.execute("SELECT count(*) FROM telemetry")).fetchone()
            stages = await (await conn.execute(STAGES)).fetchone()
        if stages is not None:
            console.print("of which device → stored by the gateway: p50 {:.0f} ms, p99 {:.0f} ms".format(*stages))
        return latencies, int(row[0]) if row else 0
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)


async def _alarms(broker_url: str, api_port: int, args: argparse.Namespace) -> list[float]:
    """Publish the SOS presses and time each one until its incident appears on the operators' feed."""
    sent_at: dict[int, float] = {}  # resident → when the pendant published
    seen_at: dict[int, float] = {}
    all_seen = asyncio.Event()
    uri = f"ws://127.0.0.1:{api_port}/api/incidents/feed?after=0"
    async with websockets.connect(uri, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as feed:

        async def listen() -> None:
            async for text in feed:
                change = json.loads(text)
                resident = int(change["snapshot"]["resident_id"])
                seen_at.setdefault(resident, time.time())
                if len(seen_at) >= args.alarms:
                    all_seen.set()

        listener = asyncio.create_task(listen())
        pendant = TestClient(broker_url)
        try:
            with console.status("") as status:
                for i in range(1, args.alarms + 1):
                    now = time.time()
                    event = {"v": 1, "device_id": f"pendant-{i:05d}", "seq": 1, "ts": int(now * 1000), "kind": "sos"}
                    sent_at[i] = now
                    pendant.publish(f"homecare/v1/dev/pendant-{i:05d}/event", json.dumps(event), qos=1)
                    status.update(f"alarm {i}/{args.alarms}, {len(seen_at)} on the operators' screens")
                    await asyncio.sleep(args.interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_seen.wait(), timeout=30)
        finally:
            pendant.close()
            listener.cancel()
    missing = set(sent_at) - set(seen_at)
    if missing:
        raise RuntimeError(f"{len(missing)} alarms never reached the operators' feed")
    return [(seen_at[r] - sent_at[r]) * 1000 for r in sent_at]


if __name__ == "__main__":
    main()

"""Connection benchmark: 10,000 devices signing in to production Mosquitto at once, and what each costs the broker.

Mosquitto runs from deploy/mosquitto with every device's secret in its password file and ACL (as enrolment
writes them). The devices connect in a storm, as after a broker restart, a thousand handshakes in flight at a
time, each signing in with its id and secret and subscribing to its own command topic; the benchmark reports
the storm's length and connection latencies, then the broker's memory per connected device. The devices are
bare asyncio sockets speaking the two MQTT 3.1.1 packets they need, so that the figure is the broker's and not
a client library's (10,000 paho clients would need 10,000 threads on two cores). Prints the figures and writes
bench/results/connections.json. Run: ``python -m bench.connections [--devices N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import statistics
import struct
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from bench.services import write_results
from tests.support.brokers import production_mosquitto

RESULTS = Path(__file__).parent / "results" / "connections.json"
IN_FLIGHT = 1000
"""Handshakes under way at once: a storm, but within the listen backlog, as devices with backoff make it."""
KEEPALIVE_S = 600


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _packet(kind: int, body: bytes) -> bytes:
    """A packet with its fixed header: the type byte, then the remaining length as MQTT's variable-length number."""
    length, encoded = len(body), bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([kind]) + bytes(encoded) + body


def connect_packet(device: str, secret: str) -> bytes:
    """CONNECT (3.1.1, clean session) with the device's id as client id and user name, and its secret."""
    header = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", KEEPALIVE_S)
    return _packet(0x10, header + _string(device) + _string(device) + _string(secret))


def subscribe_packet(device: str) -> bytes:
    """SUBSCRIBE (packet id 1) to the device's own command topic at QoS 1."""
    return _packet(0x82, struct.pack("!H", 1) + _string(f"homecare/v1/dev/{device}/cmd") + bytes([1]))


async def sign_in(host: str, port: int, device: str, secret: str) -> tuple[asyncio.StreamWriter, float]:
    """Connect, sign in and subscribe like a device; the open connection and how long it took (s)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(connect_packet(device, secret))
    connack = await reader.readexactly(4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise RuntimeError(f"{device} refused: CONNACK {connack.hex()}")
    writer.write(subscribe_packet(device))
    suback = await reader.readexactly(5)
    if suback[0] != 0x90 or suback[4] > 2:
        raise RuntimeError(f"{device} not subscribed: SUBACK {suback.hex()}")
    return writer, time.perf_counter() - started


def rss_kib(pid: int) -> int:
    """Resident memory of a process (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def storm(url: str, pid: int, devices: dict[str, str]) -> dict[str, Any]:
    """Every device at once (``IN_FLIGHT`` handshakes at a time); the storm's figures and the broker's memory."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 1883
    before = rss_kib(pid)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(device: str, secret: str) -> tuple[asyncio.StreamWriter, float]:
        async with gate:
            return await sign_in(host, port, device, secret)

    started = time.perf_counter()
    signed_in = await asyncio.gather(*(one(device, secret) for device, secret in devices.items()))
    storm_s = time.perf_counter() - started
    await asyncio.sleep(2)  # the broker settles its buffers
    after = rss_kib(pid)
    latencies = sorted(seconds for _, seconds in signed_in)
    for writer, _ in signed_in:
        writer.close()
    return {
        "devices": len(devices),
        "in_flight": IN_FLIGHT,
        "storm_s": round(storm_s, 2),
        "connections_per_s": round(len(devices) / storm_s),
        "sign_in_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "sign_in_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1),
        "broker_rss_before_mib": round(before / 1024, 1),
        "broker_rss_after_mib": round(after / 1024, 1),
        "broker_kib_per_connection": round((after - before) / len(devices), 2),
    }


def measure(n_devices: int) -> dict[str, Any]:
    """Start production Mosquitto knowing ``n_devices`` devices and run the storm against it."""
    devices = {f"bench-{i:05d}": secrets.token_urlsafe(24) for i in range(n_devices)}
    with tempfile.TemporaryDirectory(prefix="homecare-bench-connections-") as tmp:
        work = Path(tmp)
        with production_mosquitto(work, devices) as broker:
            pid = int(broker.pid_file.read_text())
            return asyncio.run(storm(broker.devices_url, pid, devices))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000, help="how many devices sign in (default 10000)")
    args = parser.parse_args()
    # A socket each here and in the broker (which inherits the limit): raise it to what the system allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.devices + 100:
        parser.error(f"{args.devices} devices need {args.devices + 100} open files; this system allows {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    console = Console()
    console.print(f"{args.devices} devices sign in to production Mosquitto, {IN_FLIGHT} handshakes at a time …")
    figures = measure(args.devices)
    console.print(
        f"all signed in and subscribed in {figures['storm_s']} s ({figures['connections_per_s']}/s; "
        f"sign-in p50 {figures['sign_in_p50_ms']} ms, p99 {figures['sign_in_p99_ms']} ms); broker memory "
        f"{figures['broker_rss_before_mib']} → {figures['broker_rss_after_mib']} MiB, "
        f"{figures['broker_kib_per_connection']} KiB per connection"
    )
    write_results(RESULTS, {"broker": "mosquitto (deploy/mosquitto/mosquitto.conf, password file and ACL)", **figures})
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

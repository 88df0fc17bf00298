"""Dynamic-security enrolment benchmark: how long Mosquitto's plugin takes to take on a thousand devices.

Mosquitto runs from deploy/mosquitto/mosquitto-dynsec.conf. Online, the devices are enrolled as the API does it
(`DynamicSecurity.apply`: a client and a role each, 20 commands to a control message) in steps, and each step's
time shows the cost growing with the devices already there: Mosquitto 2.0 saves its whole file after every
command, however many commands a message carries (measured again here with 1, 20 and 200 to a message). Offline,
the same devices go from a password file into the plugin's file (`homecare devices to-dynsec`, the broker
stopped) and the broker starts with them. Prints the figures and writes bench/results/dynsec.json. Run:
``python -m bench.dynsec [--devices N] [--step N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.services import write_results
from homecare.backend.enrolment.mosquitto_dynsec import COMMANDS_PER_MESSAGE, DynamicSecurity, add_to_plugin_file
from homecare.backend.enrolment.mosquitto_passwords import PasswordFile
from tests.support.brokers import dynsec_mosquitto
from tests.support.mqtt import TestClient

RESULTS = Path(__file__).parent / "results" / "dynsec.json"
BATCHES = (1, COMMANDS_PER_MESSAGE, 200)
BATCH_DEVICES = 250
"""Devices enrolled at each commands-to-a-message size, on a broker of its own."""


def _devices(first: int, count: int) -> dict[str, str]:
    return {f"wr-bench-{n:06d}": f"secret of device {n}" for n in range(first, first + count)}


def online(devices: int, step: int) -> list[dict[str, Any]]:
    """Enrol `devices` in steps of `step` on one broker: each step's seconds."""
    steps = []
    with tempfile.TemporaryDirectory() as workdir, dynsec_mosquitto(Path(workdir)) as broker:
        plugin = DynamicSecurity((broker.admin_url,), timeout=120)
        for first in range(0, devices, step):
            started = time.perf_counter()
            plugin.apply(_devices(first, min(step, devices - first)))
            seconds = time.perf_counter() - started
            steps.append({"already": first, "enrolled": min(step, devices - first), "s": round(seconds, 2)})
    return steps


def by_batch() -> dict[str, float]:
    """BATCH_DEVICES enrolled at once with each commands-to-a-message size: the seconds."""
    seconds = {}
    for per_message in BATCHES:
        with tempfile.TemporaryDirectory() as workdir, dynsec_mosquitto(Path(workdir)) as broker:
            started = time.perf_counter()
            DynamicSecurity((broker.admin_url,), timeout=120, per_message=per_message).apply(_devices(0, BATCH_DEVICES))
            seconds[str(per_message)] = round(time.perf_counter() - started, 2)
    return seconds


def offline(devices: int) -> dict[str, float]:
    """The devices moved from a password file into the plugin's file, then the broker started and one signed in."""
    with tempfile.TemporaryDirectory() as workdir:
        passwd = Path(workdir) / "homecare.passwd"
        secrets = _devices(0, devices)
        PasswordFile(passwd, None).apply(secrets)
        timings: dict[str, float] = {}

        def move(plugin_file: Path) -> None:
            started = time.perf_counter()
            add_to_plugin_file(plugin_file, PasswordFile(passwd, None).hashes())
            timings["file_s"] = round(time.perf_counter() - started, 2)
            timings["started"] = time.perf_counter()

        with dynsec_mosquitto(Path(workdir), before_start=move) as broker:
            last = max(secrets)
            TestClient(broker.devices_url, client_id=last, username=last, password=secrets[last]).close()
            timings["start_and_sign_in_s"] = round(time.perf_counter() - timings.pop("started"), 2)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000, help="devices enrolled online (default 1000)")
    parser.add_argument("--step", type=int, default=250, help="devices enrolled in one request (default 250)")
    args = parser.parse_args()
    console = Console()
    console.print(f"{args.devices} devices enrolled in Mosquitto's dynamic security, {args.step} at a time …")
    steps = online(args.devices, args.step)
    for step in steps:
        console.print(f"  {step['enrolled']} more with {step['already']} there: {step['s']} s")
    total = round(sum(step["s"] for step in steps), 2)
    console.print(f"{args.devices} devices in {total} s online")
    batches = by_batch()
    console.print(f"{BATCH_DEVICES} devices by commands to a message: {batches} (seconds)")
    moved = offline(args.devices)
    console.print(
        f"offline: {args.devices} devices written into the plugin's file in {moved['file_s']} s; the broker "
        f"started and one signed in {moved['start_and_sign_in_s']} s later"
    )
    write_results(
        RESULTS,
        {
            "broker": "mosquitto (deploy/mosquitto/mosquitto-dynsec.conf)",
            "devices": args.devices,
            "online_steps": steps,
            "online_s": total,
            "online_s_per_1000": round(total * 1000 / args.devices, 1),
            "batch_devices": BATCH_DEVICES,
            "batch_s_by_commands_per_message": batches,
            "offline": moved,
        },
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

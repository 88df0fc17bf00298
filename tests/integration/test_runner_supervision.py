"""``homecare run`` keeps the platform up: it restarts any part that stops, the database too, and takes its
children with it when it is killed; a gateway started while the database is down waits for it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from homecare.storage.embedded import EmbeddedPostgres
from tests.support.brokers import free_port
from tests.support.waiting import eventually

SMALL = {"shared_buffers": "32MB", "max_connections": "20"}


@dataclass
class RunningSystem:
    """`homecare run` as a service manager starts it, with a gateway metrics port that something else holds."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    output: Path
    api_url: str
    ports: list[int]
    squatter: socket.socket

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def postmaster(self) -> int:
        return int((self.data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def homecare(args: list[str], work: Path, env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    """``homecare <args>`` in ``work`` with only these HOMECARE_* variables, its output in ``output``."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HOMECARE_")}
    with output.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "homecare.launcher.cli", *args],
            cwd=work,
            env=clean | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found |= {int(child), *descendants(int(child))}
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    work = tmp_path_factory.mktemp("homecare-run")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    api_port, broker_port = free_port(), free_port()
    env = {
        "HOMECARE_DATA_DIR": str(work / "var"),
        "HOMECARE_API_PORT": str(api_port),
        "HOMECARE_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        # Both gateways fail at start while the squatter holds their metrics port.
        "HOMECARE_GATEWAY_METRICS_PORT": str(squatter.getsockname()[1]),
    }
    output = work / "run.out"
    process = homecare(["run", "--residents", "2"], work, env, output)
    running = RunningSystem(
        process, work / "var", output, f"http://127.0.0.1:{api_port}", [api_port, broker_port], squatter
    )
    try:
        deadline = time.monotonic() + 120
        while not running.healthy():
            assert process.poll() is None, running.said()
            assert time.monotonic() < deadline, running.said()
            time.sleep(0.5)
        yield running
    finally:
        squatter.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_a_part_that_keeps_failing_is_retried_with_an_alert_never_a_shutdown(system: RunningSystem) -> None:
    # Before: after five restarts of one child in five minutes the runner stopped every child.
    await eventually(lambda: "keeps failing" in system.said(), timeout=120, interval=0.5)
    assert system.process.poll() is None, system.said()
    assert system.healthy()
    port = system.squatter.getsockname()[1]
    system.squatter.close()
    # The telemetry gateway's metrics port was held: once free, its next restart takes it and runs. The alarm
    # gateway serves its metrics on the next port, so the two never fight over one.
    log = system.data_dir / "logs" / "gateway-telemetry.log"
    await eventually(lambda: "gateway running" in log.read_text(errors="replace"), timeout=90, interval=0.5)
    for metrics_port in (port, port + 1):  # each gateway's metrics answer, once it has reached the broker
        await eventually(
            lambda metrics_port=metrics_port: "homecare_gateway_broker_connected 1.0" in (_metrics(metrics_port) or ""),
            timeout=30,
            interval=0.5,
        )
    assert system.process.poll() is None


def _metrics(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None


async def test_the_embedded_database_is_restarted_when_it_is_killed(system: RunningSystem) -> None:
    killed = system.postmaster()
    os.kill(killed, signal.SIGKILL)
    await eventually(lambda: not system.healthy(), timeout=10, interval=0.1)
    await eventually(system.healthy, timeout=60, interval=0.5)
    assert system.postmaster() != killed
    assert system.process.poll() is None


async def test_children_and_the_database_end_with_a_killed_runner(system: RunningSystem) -> None:
    # What a service manager (or the out-of-memory killer) does: SIGTERM, then SIGKILL 2 s later.
    parts = descendants(system.process.pid) | {system.postmaster()}
    ports = [*system.ports, int((system.data_dir / "pg" / "postmaster.pid").read_text().split()[3])]
    # The watchdog, broker, a gateway, API, simulator and the postmaster (the other gateway, which shares the
    # first one's metrics port, may be between two attempts).
    assert len(parts) >= 6
    system.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(2)
    system.process.kill()
    system.process.wait()
    await eventually(lambda: not any(alive(pid) for pid in parts), timeout=60, interval=0.5)
    assert not any(listening(port) for port in ports)


async def test_a_gateway_started_while_the_database_is_down_waits_for_it(tmp_path: Path, amqtt_url: str) -> None:
    database = EmbeddedPostgres(tmp_path / "data", port=free_port(), settings=SMALL)
    dsn = database.start()
    database.stop()
    env = {"HOMECARE_DATABASE_URL": dsn, "HOMECARE_MQTT_URL": amqtt_url, "HOMECARE_GATEWAY_CLIENT_ID": "waiting"}
    log = tmp_path / "gateway.log"
    gateway = homecare(["gateway"], tmp_path, env, log)
    try:
        # Before: the migrations failed at once and the gateway exited.
        await eventually(lambda: "database is not reachable" in log.read_text(), timeout=30, interval=0.2)
        await asyncio.sleep(2)
        assert gateway.poll() is None, log.read_text()
        database.start()
        await eventually(lambda: "gateway running" in log.read_text(), timeout=60, interval=0.2)
    finally:
        gateway.terminate()
        gateway.wait(30)
        database.stop()

"""Real MQTT brokers for tests: the embedded amqtt broker and Debian's Mosquitto, each in its own process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def amqtt_broker(port: int | None = None) -> Iterator[str]:
    """The embedded broker `make run` uses, as its own process; yields its URL."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "homecare.launcher.cli", "broker", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        wait_for_port(port)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        _stop(process)


@contextmanager
def mosquitto_broker(workdir: Path, port: int | None = None, extra: str = "") -> Iterator[str]:
    """Debian's Mosquitto with the project's benchmark configuration; yields its URL."""
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("Mosquitto is not installed: run `make system-packages` (apt-get install mosquitto)")
    port = port or free_port()
    conf = workdir / f"mosquitto-{port}.conf"
    base = (REPO / "deploy" / "mosquitto" / "bench.conf").read_text()
    conf.write_text(f"listener {port} 127.0.0.1\n{base}\n{extra}\n")
    log = (workdir / f"mosquitto-{port}.log").open("wb")
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()

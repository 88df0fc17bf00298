"""What the benchmarks share: a throwaway embedded PostgreSQL and broker, `homecare` child processes, results files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from homecare.storage.embedded import EmbeddedPostgres
from tests.support.brokers import amqtt_broker, mosquitto_broker

T = TypeVar("T")
Measure = Callable[[Path, str, str], Awaitable[T]]


def with_services(name: str, measure: Measure[T], *, broker: Literal["amqtt", "mosquitto"] | None) -> T:
    """Run ``measure(work_dir, dsn, broker_url)`` against a fresh embedded PostgreSQL and broker (none: the URL is
    empty), then remove both."""
    with tempfile.TemporaryDirectory(prefix=f"homecare-bench-{name}-") as tmp:
        work = Path(tmp)
        database = EmbeddedPostgres(work / "data")
        dsn = database.start()
        try:
            if broker is None:
                return asyncio.run(measure(work, dsn, ""))
            with mosquitto_broker(work) if broker == "mosquitto" else amqtt_broker(dsn) as broker_url:
                return asyncio.run(measure(work, dsn, broker_url))
        finally:
            database.stop()


def start_homecare(
    work: Path, name: str, args: list[str], env: dict[str, str], wrapper: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """``homecare <args>`` as a child process (run by ``wrapper``, e.g. ``ip netns exec``, which execs it in
    its place), its output in ``work/<name>.log``."""
    log = (work / f"{name}.log").open("wb")
    return subprocess.Popen(
        [*wrapper, sys.executable, "-m", "homecare.launcher.cli", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_for_api(base_url: str, timeout: float = 60.0) -> None:
    """Until the API's health check answers."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the API at {base_url} did not start")


def write_results(path: Path, result: dict[str, Any]) -> None:
    """The figures as JSON, with the machine and the time they were measured on."""
    result = {
        **result,
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")

"""Two API replicas on one database: one runs the alarm pipeline, the other stands by and takes over when it goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from homecare.backend.alarms.leader import LEADER_LOCK
from homecare.gateway.service import Gateway
from homecare.storage.migrate import LOCK_NAMESPACE
from tests.integration.test_metrics import METRICS_TOKEN, scrape, value
from tests.support.backend import TOKEN, Backend, start_backend
from tests.support.brokers import free_port
from tests.support.database import scalar
from tests.support.enrolment import Household, enrol
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually

pytestmark = pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)
PENDANT = "sos-leader-01"


@pytest.fixture
async def home(database_url: str) -> Household:
    return await enrol(database_url, {PENDANT: "sos_pendant"})


@pytest.fixture
async def replicas(database_url: str, home: Household, gateway: Gateway) -> AsyncIterator[list[Backend]]:
    """Two backends, as two API replicas would run (home before gateway: it loads its device registry at start)."""
    started = [await start_backend(database_url, metrics_token=METRICS_TOKEN) for _ in range(2)]
    try:
        yield started
    finally:
        for backend in started:
            if not backend.task.done():
                await backend.stop()


@pytest.fixture
def pendant(broker_url: str) -> Iterator[TestClient]:
    client = TestClient(broker_url)
    yield client
    client.close()


def press(pendant: TestClient, seq: int) -> None:
    body = {"v": 1, "device_id": PENDANT, "seq": seq, "ts": int(time.time() * 1000), "kind": "sos"}
    pendant.publish(f"homecare/v1/dev/{PENDANT}/event", json.dumps(body))


async def role(url: str) -> str | None:
    """What the replica at this URL says of the pipeline in its health answer (None while it does not answer)."""
    async with httpx.AsyncClient(base_url=url) as client:
        try:
            answer = await client.get("/healthz")
        except httpx.TransportError:
            return None
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["pipeline"]
    return status


async def says(url: str, expected: str) -> bool:
    return await role(url) == expected


async def the_leader(running: list[Backend]) -> Backend | None:
    """The one backend that says it leads while every other says it stands by; None while that is not so."""
    roles = [await role(backend.url) for backend in running]
    if sorted(roles) != ["leader"] + ["standby"] * (len(running) - 1):
        return None
    return running[roles.index("leader")]


async def applied(backend: Backend) -> tuple[float, float]:
    """The events this backend's pipeline applied, and its leader gauge, as Prometheus reads them."""
    samples = await asyncio.to_thread(scrape, f"{backend.url}/metrics", METRICS_TOKEN)
    events = value(samples, "homecare_pipeline_items_processed_total", source="event", result="applied")
    return events, value(samples, "homecare_pipeline_leader")


async def opened(database_url: str, count: int) -> bool:
    """Whether ``count`` incidents were opened and ``count`` events applied: a second dispatch of one event would
    show as another pipeline record (or fail on it)."""
    incidents = await scalar(database_url, "SELECT count(*) FROM incidents")
    return incidents == count and await scalar(database_url, "SELECT count(*) FROM pipeline_processed") == count


async def lock_holder(database_url: str) -> int | None:
    """The server process whose session holds the leader lock (the leader's lock connection), if any."""
    pid: int | None = await scalar(
        database_url,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND granted",
        LOCK_NAMESPACE,
        LEADER_LOCK,
    )
    return pid


async def close_incidents(database_url: str) -> None:
    """An operator resolved the alarm, so that the next press opens an incident of its own."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE incidents SET status = 'resolved', closed_at = now()")


async def test_one_replica_runs_the_pipeline_and_the_standby_takes_over_when_it_stops(
    replicas: list[Backend], pendant: TestClient, database_url: str
) -> None:
    leader = await eventually(lambda: the_leader(replicas))
    standby = next(backend for backend in replicas if backend is not leader)
    press(pendant, 1)
    await eventually(lambda: opened(database_url, 1))
    assert await applied(leader) == (1, 1)
    assert await applied(standby) == (0, 0)

    await close_incidents(database_url)
    await leader.stop()
    # Within the 10 s: a standby tries the lock every second.
    assert await eventually(lambda: the_leader([standby]), timeout=10) is standby
    press(pendant, 2)
    await eventually(lambda: opened(database_url, 2))
    assert await applied(standby) == (1, 1)


async def test_a_leader_whose_lock_connection_ends_stops_and_one_replica_leads_again(
    replicas: list[Backend], pendant: TestClient, database_url: str
) -> None:
    first = await eventually(lambda: the_leader(replicas))
    holder = await lock_holder(database_url)
    # What the server does when the leader's host vanishes or its process dies: the session, and the lock, end.
    await scalar(database_url, "SELECT pg_terminate_backend(%s)", holder)

    async def new_holder() -> bool:
        pid = await lock_holder(database_url)
        return pid is not None and pid != holder

    await eventually(new_holder, timeout=10)
    leader = await eventually(lambda: the_leader(replicas), timeout=10)
    before = [await applied(backend) for backend in replicas]
    press(pendant, 1)
    await eventually(lambda: opened(database_url, 1))
    after = [await applied(backend) for backend in replicas]
    moved = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
    assert moved == [1 if backend is leader else 0 for backend in replicas], (moved, first.url, leader.url)
    assert [a[1] for a in after] == [1 if backend is leader else 0 for backend in replicas]


async def test_a_killed_leader_process_is_replaced_within_seconds_and_no_alarm_is_applied_twice(
    database_url: str, home: Household, gateway: Gateway, pendant: TestClient, tmp_path: Path
) -> None:
    """The leader is `homecare api` in a process of its own, SIGKILLed as the out-of-memory killer would."""
    port = free_port()
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HOMECARE_")}
    env = clean | {
        "HOMECARE_DATABASE_URL": database_url,
        "HOMECARE_API_PORT": str(port),
        "HOMECARE_API_TOKEN": TOKEN,
        "HOMECARE_DATA_DIR": str(tmp_path),
    }
    with (tmp_path / "api.log").open("wb") as log:
        leader = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homecare.launcher.cli", "api", env=env, stdout=log, stderr=subprocess.STDOUT
        )
    standby: Backend | None = None
    try:
        await eventually(lambda: says(f"http://127.0.0.1:{port}", "leader"), timeout=60)
        standby = await start_backend(database_url)
        assert await role(standby.url) == "standby"
        press(pendant, 1)
        await eventually(lambda: opened(database_url, 1))

        await close_incidents(database_url)
        leader.kill()
        await leader.wait()
        await eventually(lambda: says(standby.url, "leader"), timeout=10)
        press(pendant, 2)
        await eventually(lambda: opened(database_url, 2))
    finally:
        with contextlib.suppress(ProcessLookupError):
            leader.kill()
        await leader.wait()
        if standby is not None:
            await standby.stop()

"""Fixtures for integration tests: real brokers (amqtt and Mosquitto), a running gateway, enrolled devices."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from homecare.gateway.service import Gateway
from homecare.sim.netloop import PahoBridge
from tests.support.enrolment import GOLDEN_DEVICES, Household, enrol, gateway_settings


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once against each real broker."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def bridge() -> AsyncIterator[PahoBridge]:
    """The simulator's network loop for simulated devices, running beside the test."""
    network = PahoBridge(asyncio.get_running_loop())
    task = asyncio.create_task(network.run(0.05))
    yield network
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
def gateway(database_url: str, broker_url: str) -> Iterator[Gateway]:
    """A gateway for this test's database and broker, started and stopped around the test."""
    running = Gateway(gateway_settings(database_url, broker_url), database_url)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def golden_household(database_url: str) -> Household:
    """The resident whose devices the golden examples come from."""
    return await enrol(database_url, GOLDEN_DEVICES)

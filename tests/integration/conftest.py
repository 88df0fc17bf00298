"""Fixtures for integration tests: real brokers (amqtt and Mosquitto), a running gateway, enrolled devices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from homecare.gateway.service import Gateway
from tests.support.enrolment import GOLDEN_DEVICES, Household, enrol, gateway_settings
from tests.support.mqtt import TestClient


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once against each real broker."""
    return str(request.getfixturevalue(f"{request.param}_url"))


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


@pytest.fixture
def device(broker_url: str) -> Iterator[TestClient]:
    """A client publishing as the platform's service account would (every topic), for messages of any shape."""
    client = TestClient(broker_url)
    yield client
    client.close()


@pytest.fixture
def commands(broker_url: str) -> Iterator[TestClient]:
    """Every command the platform sends to any device, in arrival order (see tests.support.mqtt.acks)."""
    client = TestClient(broker_url)
    client.subscribe("homecare/v1/dev/+/cmd")
    yield client
    client.close()

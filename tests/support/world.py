"""A small simulated neighbourhood with the demo accounts, enrolled as `homecare run` does, for web tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from homecare.backend.accounts.demo import DemoLogin, demo_logins
from homecare.launcher.runner import enrol_neighbourhood
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.records import Enrolment
from tests.support.backend import Backend


@dataclass(frozen=True)
class World:
    """What was enrolled: ids in enrolment order, and each demo user's password."""

    enrolment: Enrolment
    resident_ids: list[int]
    station_ids: list[int]
    passwords: dict[str, str]
    user_ids: dict[str, int]

    def password(self, username: str) -> str:
        return self.passwords[username]


async def build_world(database_url: str, data_dir: Path, *, residents: int = 6, seed: int = 7) -> World:
    """Enrol ``residents`` simulated residents, their stations and devices, and the demo sign-ins:
    admin, supervisor, operator, responder (first station), family (follows the first resident),
    family2 (follows the second)."""
    enrolment = build_neighbourhood(residents, seed=seed, background_incidents=False).enrolment
    logins: list[DemoLogin] = demo_logins(data_dir)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await enrol_neighbourhood(conn, enrolment, logins)
        resident_ids = [
            r[0] for r in await (await conn.execute("SELECT id FROM residents ORDER BY external_ref")).fetchall()
        ]
        station_ids = [r[0] for r in await (await conn.execute("SELECT id FROM stations ORDER BY id")).fetchall()]
        user_ids = dict(await (await conn.execute("SELECT username, id FROM users")).fetchall())
    return World(enrolment, resident_ids, station_ids, {login.username: login.password for login in logins}, user_ids)


@contextlib.asynccontextmanager
async def signed_in(backend: Backend, world: World, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client holding ``username``'s session cookie and sending our Origin, as the browser would."""
    async with httpx.AsyncClient(base_url=backend.url, headers={"Origin": backend.url}, timeout=10) as client:
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": world.password(username)}
        )
        assert response.status_code == 200, response.text
        yield client


Login = Callable[[str], Awaitable[httpx.AsyncClient]]
"""The ``login`` fixture: login("family") → an HTTP client with that user's session, closed after the test."""

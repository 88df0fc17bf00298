"""The real API (lifespan, pipeline, pages) served by uvicorn on a free port inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn

from homecare.backend.accounts.models import SERVICE_NAME, Actor, Role
from homecare.backend.alarms.pipeline import ManualClock
from homecare.backend.app import create_app, server_options
from homecare.backend.settings import Settings
from tests.support.brokers import free_port
from tests.support.waiting import eventually

TOKEN = "test-token-0123456789-abcdefghij"
SERVICE = Actor(name=SERVICE_NAME, role=Role.ADMIN, user_id=None, display_name="Service token")
"""Who calls a service function directly in a test: the service token's administrator."""
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Backend:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start_backend(
    database_url: str, clock: ManualClock | None = None, host: str = "127.0.0.1", **settings: object
) -> Backend:
    """Serve the app until ``stop()``; ``clock`` (a manual one) drives the pipeline's timers when given."""
    config_settings = Settings(
        _env_file=None,
        database_url=database_url,
        api_token=TOKEN,  # type: ignore[call-arg]
        **settings,
    )
    app = create_app(config_settings)
    if clock is not None:
        app.state.clock = clock
    port = free_port()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
        **server_options(config_settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    await eventually(started, timeout=20)
    return Backend(f"http://{host}:{port}", server, task)


@contextlib.asynccontextmanager
async def serving(
    database_url: str, clock: ManualClock | None = None, host: str = "127.0.0.1", **settings: object
) -> AsyncIterator[Backend]:
    """``start_backend`` for the length of a block (a fixture's life), stopped after it unless it already ended."""
    running = await start_backend(database_url, clock, host, **settings)
    try:
        yield running
    finally:
        if not running.task.done():
            await running.stop()

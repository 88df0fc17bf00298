"""The FastAPI application: lifespan (pool, migrations, maintenance), routers, and health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from homecare.backend.db.maintenance import prepare_database, run_maintenance
from homecare.backend.deps import ConnDep
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from homecare.backend.telemetry.router import router as vitals_router

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The backend for these settings; nothing is connected until the lifespan starts."""
    if settings.database_url is None:
        raise ValueError("the API needs a database: set HOMECARE_DATABASE_URL (homecare run does)")
    dsn = settings.database_url

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(dsn, min_size=2, max_size=20, open=False)
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await prepare_database(conn, settings=settings)
        app.state.runtime = Runtime(settings=settings, pool=pool)
        stop = asyncio.Event()
        maintenance = asyncio.create_task(run_maintenance(pool, settings, stop), name="storage-maintenance")
        try:
            yield
        finally:
            stop.set()
            await maintenance
            await pool.close()

    app = FastAPI(
        title="homecare",
        summary="Home-based elderly care: devices, vitals, alarms and the people who answer them.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(vitals_router, prefix="/api")

    @app.get("/healthz", tags=["health"], summary="The API is up and its database answers")
    async def health(conn: ConnDep) -> dict[str, str]:
        await conn.execute("SELECT 1")
        return {"status": "ok"}

    return app

"""The FastAPI application: lifespan (pool, migrations, maintenance), routers, and health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from psycopg_pool import AsyncConnectionPool

from homecare.backend.accounts.router import router as accounts_router
from homecare.backend.alarms.pipeline import start_pipeline
from homecare.backend.calls.router import router as calls_router
from homecare.backend.deps import ConnDep
from homecare.backend.dispatch.router import router as dispatch_router
from homecare.backend.enrolment.router import router as enrolment_router
from homecare.backend.family.router import router as family_router
from homecare.backend.http import install as install_error_handler
from homecare.backend.incidents.router import router as incidents_router
from homecare.backend.notifications.delivery import run_delivery
from homecare.backend.notifications.router import router as notifications_router
from homecare.backend.notifications.settings import NotificationSettings
from homecare.backend.reports.router import router as reports_router
from homecare.backend.residents.router import router as residents_router
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from homecare.backend.stations.router import router as station_router
from homecare.backend.telemetry.router import router as vitals_router
from homecare.backend.web import pages
from homecare.storage.maintenance import prepare_database, run_maintenance

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The backend for these settings; nothing is connected until the lifespan starts."""
    if settings.database_url is None:
        raise ValueError("the API needs a database: set HOMECARE_DATABASE_URL (homecare run does)")
    dsn = settings.database_url
    notification_settings = NotificationSettings()  # HOMECARE_NOTIFY_*; fails fast on unsafe values

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(dsn, min_size=2, max_size=20, open=False)
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await prepare_database(conn, settings=settings)
        app.state.runtime = Runtime(settings=settings, pool=pool)
        stop = asyncio.Event()
        maintenance = asyncio.create_task(run_maintenance(pool, settings, stop), name="storage-maintenance")
        delivery = asyncio.create_task(
            run_delivery(pool, settings=notification_settings, stop_event=stop), name="notification-delivery"
        )
        # The alarm pipeline; tests put a manual clock on app.state.clock before the lifespan starts.
        app.state.alarm_pipeline = await start_pipeline(
            settings=settings, dsn=dsn, clock=getattr(app.state, "clock", None)
        )
        try:
            yield
        finally:
            await app.state.alarm_pipeline.stop()
            stop.set()
            await maintenance
            await delivery  # finishes the messages in hand; pending ones wait in the outbox
            await pool.close()

    app = FastAPI(
        title="homecare",
        summary="Home-based elderly care: devices, vitals, alarms and the people who answer them.",
        version="0.1.0",
        lifespan=lifespan,
    )
    # The console's first load is mostly the queue's JSON: compressed, 500 incidents fit in a few dozen KiB.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    install_error_handler(app)  # every domain exception → its HTTP status; routers do not translate
    app.include_router(accounts_router, prefix="/api")
    app.include_router(vitals_router, prefix="/api")
    app.include_router(incidents_router, prefix="/api")
    app.include_router(notifications_router, prefix="/api")
    app.include_router(reports_router, prefix="/api")
    app.include_router(dispatch_router, prefix="/api")
    app.include_router(residents_router, prefix="/api")
    app.include_router(station_router, prefix="/api")
    app.include_router(family_router, prefix="/api")
    app.include_router(enrolment_router, prefix="/api")
    app.include_router(calls_router, prefix="/api")

    @app.get("/healthz", tags=["health"], summary="The API is up and its database answers")
    async def health(conn: ConnDep) -> dict[str, str]:
        await conn.execute("SELECT 1")
        return {"status": "ok"}

    pages.mount(app)
    return app

"""The FastAPI application: lifespan (pool, migrations, maintenance), routers, and health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi_offline import FastAPIOffline
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homecare.backend.accounts.router import router as accounts_router
from homecare.backend.alarms.pipeline import start_pipeline
from homecare.backend.calls.router import router as calls_router
from homecare.backend.care.router import router as care_router
from homecare.backend.deps import ConnDep
from homecare.backend.dispatch.router import router as dispatch_router
from homecare.backend.enrolment.router import router as enrolment_router
from homecare.backend.family.router import router as family_router
from homecare.backend.fhir.router import router as fhir_admin_router
from homecare.backend.fhir.router import token_router as fhir_token_router
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


# The largest message a WebSocket client may send: a complete SDP offer or answer is a few kilobytes.
WS_MAX_MESSAGE_BYTES: Final = 64 * 1024
SECURITY_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),  # a file is what its Content-Type says, never sniffed as a script
    # No other site frames our pages (clickjacking the console's buttons); the pages' own Content-Security-Policy
    # says it too (frame-ancestors 'none'), this says it to every answer and to older browsers.
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response: pages, assets, the API and its documentation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app (the launcher and the tests alike): a WebSocket message is at most
    WS_MAX_MESSAGE_BYTES (uvicorn's default is 16 MiB), and X-Forwarded-For is believed only from the configured
    proxies; with none (the default) a client cannot name the address its requests are counted against."""
    if not settings.trusted_proxies:
        return {"ws_max_size": WS_MAX_MESSAGE_BYTES, "proxy_headers": False}
    return {"ws_max_size": WS_MAX_MESSAGE_BYTES, "proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


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

    # Swagger UI (at /docs) from files in the fastapi-offline wheel: no page of ours loads a script from a CDN.
    app = FastAPIOffline(
        redoc_url=None,
        title="homecare",
        summary="Home-based elderly care: devices, vitals, alarms and the people who answer them.",
        version="0.1.0",
        lifespan=lifespan,
    )
    # The console's first load is mostly the queue's JSON: compressed, 500 incidents fit in a few dozen KiB.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(SecurityHeaders)
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
    app.include_router(care_router, prefix="/api")
    app.include_router(fhir_admin_router, prefix="/api")
    app.include_router(fhir_token_router)

    @app.get("/healthz", tags=["health"], summary="The API is up and its database answers")
    async def health(conn: ConnDep) -> dict[str, str]:
        await conn.execute("SELECT 1")
        return {"status": "ok"}

    pages.mount(app)
    return app

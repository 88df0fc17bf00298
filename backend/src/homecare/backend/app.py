"""The FastAPI application: lifespan (pool, migrations, maintenance), routers, and health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from typing import Any, Final, cast

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi_offline import FastAPIOffline
from prometheus_client import Gauge
from prometheus_client.exposition import choose_encoder
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homecare.backend.accounts.router import router as accounts_router
from homecare.backend.alarms.pipeline import RunningPipeline, lag_seconds, start_pipeline
from homecare.backend.calls.bridge import CallHub
from homecare.backend.calls.router import router as calls_router
from homecare.backend.care.router import router as care_router
from homecare.backend.deps import ConnDep, MetricsReader
from homecare.backend.dispatch.router import router as dispatch_router
from homecare.backend.enrolment.router import router as enrolment_router
from homecare.backend.family.router import router as family_router
from homecare.backend.fhir.router import r4_router as fhir_r4_router
from homecare.backend.fhir.router import router as fhir_admin_router
from homecare.backend.fhir.router import token_router as fhir_token_router
from homecare.backend.http import install as install_error_handler
from homecare.backend.incidents.feed import ChangeHub
from homecare.backend.incidents.repository import count_due_timers
from homecare.backend.incidents.router import router as incidents_router
from homecare.backend.locations.router import router as locations_router
from homecare.backend.medication.router import router as medication_router
from homecare.backend.metrics import BackendMetrics
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


class CountWebSockets:
    """Keeps the WebSocket clients gauge: one more from the accept to the end of the connection, by the route's
    path template (never the path itself, which may name a call)."""

    def __init__(self, app: ASGIApp, clients: Gauge) -> None:
        self.app = app
        self.clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        counted: list[Gauge] = []

        async def send_counting(message: Message) -> None:
            await send(message)
            if message["type"] == "websocket.accept":
                # The router has put the matched route on the scope by the time the endpoint accepts.
                counted.append(self.clients.labels(getattr(scope.get("route"), "path", "unrouted")))
                counted[0].inc()

        try:
            await self.app(scope, receive, send_counting)
        finally:
            for gauge in counted:
                gauge.dec()


async def read_figures(app: FastAPI, metrics: BackendMetrics) -> None:
    """Set the gauges read at each scrape: the pool, the calls carried, and the database's figures (NaN, with
    homecare_database_up 0, when the database cannot be read within 2 s)."""
    pool = cast(Runtime, app.state.runtime).pool
    metrics.read_pool(pool)  # before the scrape takes a connection of its own
    metrics.calls_in_progress.set(len(cast(CallHub, app.state.calls).bridges))
    alarms = cast(RunningPipeline, app.state.alarm_pipeline)
    try:
        async with pool.connection(timeout=2.0) as conn:
            lag = await lag_seconds(conn)
            due: float = await count_due_timers(conn, now=alarms.clock.now())
    except (psycopg.Error, PoolTimeout) as err:
        log.warning("metrics: the database's figures could not be read (%s)", err)
        metrics.database_up.set(0)
        lag = due = math.nan
    else:
        metrics.database_up.set(1)
    metrics.pipeline_lag.set(lag)
    metrics.timers_due.set(due)


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
    metrics = BackendMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(dsn, min_size=2, max_size=20, open=False)
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await prepare_database(conn, settings=settings)
        app.state.runtime = Runtime(settings=settings, pool=pool)
        app.state.incident_changes = ChangeHub(dsn, pool)  # the consoles' live feeds share its one connection
        await app.state.incident_changes.start()
        stop = asyncio.Event()
        maintenance = asyncio.create_task(run_maintenance(pool, settings, stop), name="storage-maintenance")
        delivery = asyncio.create_task(
            run_delivery(pool, settings=notification_settings, metrics=metrics, stop_event=stop),
            name="notification-delivery",
        )
        # The alarm pipeline; tests put a manual clock on app.state.clock before the lifespan starts.
        app.state.alarm_pipeline = await start_pipeline(
            settings=settings, dsn=dsn, metrics=metrics, clock=getattr(app.state, "clock", None)
        )
        try:
            yield
        finally:
            await app.state.alarm_pipeline.stop()
            await app.state.incident_changes.stop()
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
    app.add_middleware(CountWebSockets, clients=metrics.websocket_clients)
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
    app.include_router(locations_router, prefix="/api")
    app.include_router(enrolment_router, prefix="/api")
    app.include_router(calls_router, prefix="/api")
    app.include_router(care_router, prefix="/api")
    app.include_router(medication_router, prefix="/api")
    app.include_router(fhir_admin_router, prefix="/api")
    app.include_router(fhir_token_router)
    app.include_router(fhir_r4_router)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="The API is up and its database answers; whether this replica runs the alarm pipeline",
    )
    async def health(conn: ConnDep) -> dict[str, str]:
        await conn.execute("SELECT 1")
        return {"status": "ok", "pipeline": cast(RunningPipeline, app.state.alarm_pipeline).role.value}

    if settings.metrics_token is not None:

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics(request: Request, reader: MetricsReader) -> Response:
            """The process's metrics, for the metrics token only (see deploy/README.md), in the format the scraper
            asks for, as the gateway's metrics port answers."""
            await read_figures(app, metrics)
            encode, content_type = choose_encoder(request.headers.get("accept", ""))
            return Response(encode(metrics.registry), headers={"Content-Type": content_type})

    pages.mount(app)
    return app

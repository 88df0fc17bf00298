"""Named FastAPI dependency aliases for every router: the runtime, its pool, a connection, the caller, role guards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from homecare.backend.accounts import Forbidden, NotAuthenticated
from homecare.backend.accounts import service as accounts
from homecare.backend.accounts.models import SERVICE_NAME, STAFF_ROLES, Actor, Role
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from homecare.storage.connections import Conn


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_pool(runtime: RuntimeDep) -> AsyncConnectionPool[Any]:
    return runtime.pool


PoolDep = Annotated[AsyncConnectionPool[Any], Depends(get_pool)]


async def get_connection(pool: PoolDep) -> AsyncIterator[Conn]:
    """A pooled connection for one request, returned before the response is sent."""
    async with pool.connection() as conn:
        yield conn


ConnDep = Annotated[Conn, Depends(get_connection, scope="function")]

SESSION_COOKIE = "homecare_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_bearer = HTTPBearer(auto_error=False, description="The service token (HOMECARE_API_TOKEN); acts as an administrator.")


def _is_token(presented: str | None, token: SecretStr | None) -> bool:
    """Whether a token is configured and ``presented`` is it (compared in constant time)."""
    if token is None or presented is None:
        return False
    return secrets.compare_digest(presented.encode(), token.get_secret_value().encode())


def service_actor(settings: Settings, presented: str | None) -> Actor | None:
    """The administrator the service token stands for, when ``presented`` is that token."""
    if not _is_token(presented, settings.api_token):
        return None
    return Actor(
        name=SERVICE_NAME, role=Role.ADMIN, user_id=None, display_name="Service token", timezone=settings.timezone
    )


def metrics_reader(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Lets through only whoever presents the metrics token (HOMECARE_METRICS_TOKEN); the API token does not
    open /metrics, so Prometheus never holds an administrator's token."""
    if not _is_token(None if credentials is None else credentials.credentials, settings.metrics_token):
        raise NotAuthenticated("present the metrics token (HOMECARE_METRICS_TOKEN) as a bearer token")


MetricsReader = Annotated[None, Depends(metrics_reader)]


def refuse_cross_site(origin: str | None, host: str | None) -> None:
    """Raise NotAuthenticated for a browser request from another site's page (a request without an Origin header is
    not a cross-site browser request)."""
    if origin is not None and (host is None or urlsplit(origin).netloc != host):
        raise NotAuthenticated("cross-site request refused")


def same_site_write(request: Request) -> None:
    """A dependency for the writes that have no caller to authenticate (signing in and out): another site's page may
    neither end a user's session nor sign the browser in to an account of its choosing."""
    refuse_cross_site(request.headers.get("origin"), request.headers.get("host"))


async def authenticate(
    runtime: Runtime,
    *,
    bearer: str | None,
    cookie: str | None,
    origin: str | None,
    host: str | None,
    unsafe: bool,
    conn: Conn | None = None,
) -> Actor:
    """The caller behind a bearer token or a session cookie; raises NotAuthenticated.

    A cookie-authenticated request that changes something must come from our own origin (with the SameSite=Strict
    cookie this is a second wall against cross-site request forgery); WebSockets count as changing. The session is
    looked up on ``conn`` (the request's own connection) when given, else on one borrowed from the pool.
    """
    if bearer is not None:
        actor = service_actor(runtime.settings, bearer)
        if actor is None:
            raise NotAuthenticated("the bearer token is not valid")
        return actor
    if cookie is None:
        raise NotAuthenticated("sign in first")
    if unsafe:
        refuse_cross_site(origin, host)
    if conn is not None:
        return await accounts.session_actor(conn, settings=runtime.settings, token=cookie, now=datetime.now(UTC))
    async with runtime.pool.connection() as borrowed:
        return await accounts.session_actor(borrowed, settings=runtime.settings, token=cookie, now=datetime.now(UTC))


async def get_actor(
    request: Request,
    runtime: RuntimeDep,
    conn: ConnDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Who is calling; 401 without a valid session cookie or bearer token. The session is read on the request's
    connection (the one its route gets too), so a request takes one pooled connection, not two."""
    return await authenticate(
        runtime,
        bearer=None if credentials is None else credentials.credentials,
        cookie=request.cookies.get(SESSION_COOKIE),
        origin=request.headers.get("origin"),
        host=request.headers.get("host"),
        unsafe=request.method in UNSAFE_METHODS,
        conn=conn,
    )


CurrentActor = Annotated[Actor, Depends(get_actor)]


def require_role(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that lets only these roles through (403 for the others)."""
    allowed = frozenset(roles)

    def check(actor: CurrentActor) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(f"{actor.role.value} may not do this")
        return actor

    return check


StaffActor = Annotated[Actor, Depends(require_role(*STAFF_ROLES))]
"""Administrators, supervisors and operators: the call centre."""
ManagerActor = Annotated[Actor, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]
"""Administrators and supervisors: reports and the plan figures."""
AdminActor = Annotated[Actor, Depends(require_role(Role.ADMIN))]
"""Administrators: enrolment and accounts."""


async def limited_body(request: Request, *, limit: int) -> bytes:
    """An uploaded body, read no further than one byte past ``limit`` (the service refuses it then)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body)

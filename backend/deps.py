"""Named FastAPI dependency aliases for every router: the runtime, its pool, a connection, the caller."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from homecare.backend.db.connections import Conn
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings


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

_bearer = HTTPBearer(auto_error=False, description="The service token (HOMECARE_API_TOKEN).")


def get_actor(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """Who is calling, for authorisation and the access log; 401 without a valid bearer token.

    Until staff accounts exist, the only credential is the service token, whose holder is ``service``.
    """
    token = settings.api_token
    if (
        token is not None
        and credentials is not None
        and secrets.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode())
    ):
        return "service"
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentActor = Annotated[str, Depends(get_actor)]

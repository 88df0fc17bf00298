"""The one object a running backend holds: settings and shared resources, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from homecare.backend.settings import Settings


@dataclass(slots=True, kw_only=True)
class Runtime:
    """Held on ``app.state.runtime``; routers reach it through the aliases in ``homecare.backend.deps``."""

    settings: Settings
    pool: AsyncConnectionPool[Any]

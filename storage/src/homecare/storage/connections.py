"""Connection helpers shared by the storage code: typing alias and temporary autocommit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import psycopg

from homecare.storage import DatabaseError

Conn: TypeAlias = psycopg.AsyncConnection[Any]


@contextlib.asynccontextmanager
async def autocommit(conn: Conn) -> AsyncIterator[Conn]:
    """Run the block in autocommit mode (for session locks, CALL and CONCURRENTLY), then restore the mode."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise DatabaseError("this operation needs a connection that is not inside a transaction")
    previous = conn.autocommit
    if not previous:
        await conn.set_autocommit(True)
    try:
        yield conn
    finally:
        if not previous and not conn.closed:
            await conn.set_autocommit(False)

"""Daily time partitions of the plain-mode telemetry tables: create ahead, drop past retention."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from homecare.storage.connections import Conn, autocommit

log = logging.getLogger(__name__)

PARTITIONED_TABLES: Final = ("telemetry", "telemetry_1m")
DAYS_AHEAD: Final = 3
ENSURE_SQL: Final = "SELECT ensure_partitions(%s, %s)"
_SUFFIX = re.compile(r"_p(\d{8})$")


async def ensure_partitions(conn: Conn, *, raw_retention_days: int, days_ahead: int = DAYS_AHEAD) -> int:
    """Create the missing daily partitions from (now − retention) to (now + days_ahead); how many were made.

    Runs its own transaction unless the connection is already in one; a no-op under TimescaleDB.
    """
    async with conn.transaction():
        row = await (await conn.execute(ENSURE_SQL, (raw_retention_days, days_ahead))).fetchone()
    created = int(row[0]) if row else 0
    if created:
        log.info("created %d daily partitions", created)
    return created


def ensure_partitions_sync(
    conn: psycopg.Connection[Any], *, raw_retention_days: int, days_ahead: int = DAYS_AHEAD
) -> int:
    """The same as ``ensure_partitions`` for threaded code with a blocking connection (the gateway)."""
    with conn.transaction():
        row = conn.execute(ENSURE_SQL, (raw_retention_days, days_ahead)).fetchone()
    return int(row[0]) if row else 0


async def list_partitions(conn: Conn, table: str) -> list[tuple[str, date, bool]]:
    """(name, first day, detach pending) of each daily partition of a partitioned table, oldest first."""
    cursor = await conn.execute(
        """
        SELECT child.relname, inh.inhdetachpending
        FROM pg_inherits inh
        JOIN pg_class child ON child.oid = inh.inhrelid
        WHERE inh.inhparent = to_regclass(%s)
        """,
        (table,),
    )
    found = []
    for name, pending in await cursor.fetchall():
        match = _SUFFIX.search(name)
        if match is not None and name == f"{table}_p{match.group(1)}":
            found.append((name, datetime.strptime(match.group(1), "%Y%m%d").date(), bool(pending)))
    return sorted(found, key=lambda item: item[1])


async def drop_expired_partitions(
    conn: Conn, *, raw_retention_days: int, now: datetime | None = None, lock_timeout_s: float = 5.0
) -> list[str]:
    """Drop the daily partitions that lie wholly before (now − retention); the names dropped.

    DETACH ... CONCURRENTLY, then DROP, so writers into other partitions are never blocked; a detach
    interrupted earlier is finalised. A partition whose lock cannot be had in time waits for the next run.
    """
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=raw_retention_days)).astimezone(UTC).date()
    dropped = []
    async with autocommit(conn):
        await conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_s * 1000)}ms")))
        try:
            for table in PARTITIONED_TABLES:
                for name, day, pending in await list_partitions(conn, table):
                    if day + timedelta(days=1) > cutoff:
                        break
                    detach = "DETACH PARTITION {} FINALIZE" if pending else "DETACH PARTITION {} CONCURRENTLY"
                    try:
                        await conn.execute(
                            sql.SQL("ALTER TABLE {} " + detach).format(sql.Identifier(table), sql.Identifier(name))
                        )
                        await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                    except psycopg.errors.LockNotAvailable:
                        log.warning("partition %s is busy; it will be dropped on a later run", name)
                        break
                    dropped.append(name)
        finally:
            await conn.execute("RESET lock_timeout")
    if dropped:
        log.info("dropped %d expired partitions: %s", len(dropped), ", ".join(dropped))
    return dropped

"""Periodic storage upkeep (partitions, rollups, retention, TimescaleDB policies), one process at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from homecare.storage import DatabaseError
from homecare.storage.connections import Conn, autocommit
from homecare.storage.migrate import LOCK_NAMESPACE, RequestedMode, StorageMode, migrate, read_storage_mode
from homecare.storage.partitions import drop_expired_partitions, ensure_partitions
from homecare.storage.rollups import RefreshReport, refresh_rollups
from homecare.storage.settings import StorageSettings

log = logging.getLogger(__name__)

MAINTENANCE_LOCK: Final = 2
DELETE_BATCH: Final = 10_000
_EVERY_ROW: Final = sql.SQL("true")
# (table, time column, which rows) deleted row-wise after raw_retention_days.
# Kept for raw_retention_days: device health, refused messages, sign-in attempts, sessions after they expired, and
# the alarm pipeline's record of events that opened or changed no incident (one row per device event: the bulk of
# its growth; a row naming an incident stays as the link from the event to it), and notifications delivered (with
# their attempts; one that failed or waits stays for someone to look at).
_RETAINED_ROWS: Final = (
    ("heartbeats", "ts", _EVERY_ROW),
    ("dead_letters", "received_at", _EVERY_ROW),
    ("login_attempts", "at", _EVERY_ROW),
    ("sessions", "expires_at", _EVERY_ROW),
    ("pipeline_processed", "processed_at", sql.SQL("incident_id IS NULL")),
    ("notification_outbox", "sent_at", sql.SQL("status = 'sent'")),
)


@dataclass(slots=True)
class MaintenanceReport:
    """What one maintenance run did."""

    mode: StorageMode
    rollups: RefreshReport | None = None
    partitions_created: int = 0
    partitions_dropped: list[str] = field(default_factory=list)
    rows_deleted: dict[str, int] = field(default_factory=dict)


async def prepare_database(conn: Conn, *, settings: StorageSettings, mode: RequestedMode = "auto") -> StorageMode:
    """Everything a process needs before it writes: migrations applied, today's partitions present."""
    report = await migrate(conn, mode=mode)
    await ensure_partitions(conn, raw_retention_days=settings.raw_retention_days)
    if report.mode is StorageMode.TIMESCALE:
        await sync_timescale_policies(conn, settings=settings)
    return report.mode


async def prepare_storage(dsn: str, settings: StorageSettings) -> None:
    """Connect, apply migrations and create the partitions a process is about to write into."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await prepare_database(conn, settings=settings)


async def prepare_storage_when_reachable(dsn: str, settings: StorageSettings, *, max_delay_s: float = 10.0) -> None:
    """``prepare_storage``, waiting for a database that is down or still starting (doubling delays up to
    ``max_delay_s``, each logged): a process started during an outage comes up with the database, not exits."""
    delay = 0.5
    while True:
        try:
            await prepare_storage(dsn, settings)
            return
        except psycopg.OperationalError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            log.warning("the database is not reachable (%s); retrying in %.1f s", reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)


async def maintain_once(
    conn: Conn, *, settings: StorageSettings, housekeeping: bool = True, now: datetime | None = None
) -> MaintenanceReport | None:
    """One maintenance pass, or None when another process holds the maintenance lock.

    Always refreshes the rollups; with ``housekeeping`` also creates and drops partitions and
    deletes expired rows. Needs a connection outside a transaction.
    """
    async with autocommit(conn):
        row = await (
            await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, MAINTENANCE_LOCK))
        ).fetchone()
        if row is None or not row[0]:
            return None
        try:
            return await _maintain(conn, settings=settings, housekeeping=housekeeping, now=now)
        finally:
            if not conn.closed:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, MAINTENANCE_LOCK))


async def _maintain(
    conn: Conn, *, settings: StorageSettings, housekeeping: bool, now: datetime | None
) -> MaintenanceReport:
    mode = await read_storage_mode(conn)
    if mode is None:
        raise DatabaseError("the database is not migrated; call prepare_database first")
    report = MaintenanceReport(mode)
    if housekeeping:
        report.partitions_created = await ensure_partitions(conn, raw_retention_days=settings.raw_retention_days)
    report.rollups = await refresh_rollups(conn, raw_retention_days=settings.raw_retention_days, now=now)
    if not housekeeping:
        return report
    if mode is StorageMode.PLAIN:
        report.partitions_dropped = await drop_expired_partitions(
            conn, raw_retention_days=settings.raw_retention_days, now=now
        )
        report.rows_deleted["telemetry_1h"] = await _delete_older(
            conn, "telemetry_1h", "bucket", _cutoff(now, settings.rollup_retention_days)
        )
    else:
        await sync_timescale_policies(conn, settings=settings)
    for table, column, which in _RETAINED_ROWS:
        report.rows_deleted[table] = await _delete_older(
            conn, table, column, _cutoff(now, settings.raw_retention_days), which=which
        )
    # Raw GPS fixes are kept for as long as the administrator set (location_policy), not the telemetry's period.
    row = await (await conn.execute("SELECT retention_days FROM location_policy")).fetchone()
    assert row is not None  # the migration inserts the one row
    report.rows_deleted["location_fixes"] = await _delete_older(conn, "location_fixes", "ts", _cutoff(now, row[0]))
    return report


def _cutoff(now: datetime | None, days: int) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def _delete_older(
    conn: Conn, table: str, column: str, cutoff: datetime, *, which: sql.Composable = _EVERY_ROW
) -> int:
    """Delete rows older than the cutoff (of those ``which`` selects) in short batches, so no long transaction holds
    the table."""
    statement = sql.SQL(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        "SELECT ctid FROM {table} WHERE {column} < %s AND ({which}) LIMIT {batch}))"
    ).format(table=sql.Identifier(table), column=sql.Identifier(column), which=which, batch=sql.Literal(DELETE_BATCH))
    total = 0
    while True:
        cursor = await conn.execute(statement, (cutoff,))
        total += cursor.rowcount
        if cursor.rowcount < DELETE_BATCH:
            break
    if total:
        log.info("deleted %d expired rows from %s", total, table)
    return total


async def sync_timescale_policies(conn: Conn, *, settings: StorageSettings) -> None:
    """Align the TimescaleDB retention policies with the settings (the migration set defaults).

    A continuous aggregate's job names the aggregate's view since TimescaleDB 2.20, its materialisation
    hypertable before; either is recognised, so a policy that already fits is left alone.
    """
    wanted = {
        "telemetry": settings.raw_retention_days,
        "telemetry_1m": settings.raw_retention_days,
        "telemetry_1h": settings.rollup_retention_days,
    }
    async with autocommit(conn):
        for relation, days in wanted.items():
            cursor = await conn.execute(
                """
                SELECT (j.config ->> 'drop_after')::interval = make_interval(days => %(days)s)
                FROM timescaledb_information.jobs j
                WHERE j.proc_name = 'policy_retention'
                  AND ((j.hypertable_schema, j.hypertable_name) = (current_schema(), %(relation)s)
                       OR (j.hypertable_schema, j.hypertable_name) IN (
                           SELECT materialization_hypertable_schema, materialization_hypertable_name
                           FROM timescaledb_information.continuous_aggregates
                           WHERE view_schema = current_schema() AND view_name = %(relation)s))
                """,
                {"relation": relation, "days": days},
            )
            row = await cursor.fetchone()
            if row is not None and row[0]:
                continue
            async with conn.transaction():
                await conn.execute("SELECT remove_retention_policy(%s, if_exists => true)", (relation,))
                await conn.execute(
                    "SELECT add_retention_policy(%s, drop_after => make_interval(days => %s))",
                    (relation, days),
                )
            log.info("TimescaleDB retention for %s set to %d days", relation, days)


async def run_maintenance(
    pool: AsyncConnectionPool[Any],
    settings: StorageSettings,
    stop_event: asyncio.Event,
    *,
    interval_s: float = 30.0,
    housekeeping_every_s: float = 3600.0,
) -> None:
    """Run maintenance every ``interval_s`` until ``stop_event`` is set; for the backend's lifespan.

    Only one process works at a time (advisory lock); the others skip their turn. Errors are logged
    and retried with backoff, so a database restart does not end the loop.
    """
    last_housekeeping = -math.inf
    failures = 0
    while not stop_event.is_set():
        housekeeping = time.monotonic() - last_housekeeping >= housekeeping_every_s
        try:
            async with pool.connection() as conn:
                report = await maintain_once(conn, settings=settings, housekeeping=housekeeping)
            if report is not None and housekeeping:
                last_housekeeping = time.monotonic()
            failures = 0
        except Exception:
            failures += 1
            log.exception("storage maintenance failed (%d in a row); retrying", failures)
        delay = interval_s if failures == 0 else min(interval_s * 2**failures, 600.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=delay)

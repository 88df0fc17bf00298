"""Telemetry stored as the gateway stores a late upload, and the rollups refreshed, in either storage mode."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from homecare.contracts.messages import Metric
from homecare.storage.migrate import StorageMode, read_storage_mode
from homecare.storage.rollups import floor_time, refresh_rollups
from homecare.storage.settings import StorageSettings

Conn = psycopg.AsyncConnection[Any]
Point = tuple[datetime, int, int | None, Metric, float]
"""(ts, device id, resident id, metric, value): one data point as the gateway writes it."""

COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["timestamptz", "int4", "int4", "int2", "float8", "int8"]
_DAY = timedelta(days=1)


async def store_telemetry(db: Conn, points: Iterable[Point], *, now: datetime) -> None:
    """Store the points (binary COPY, a daily partition made for any day plain mode does not keep around
    the wall clock), flag their hours as the gateway flags a late upload, and refresh the rollups as the
    maintenance loop would at ``now``. ``db`` must be outside a transaction."""
    points = list(points)
    if await read_storage_mode(db) is StorageMode.PLAIN:
        for day in sorted({floor_time(ts, _DAY) for ts, *_ in points}):
            await _day_partitions(db, day)
    async with db.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
        copy.set_types(COPY_TYPES)
        for seq, (ts, device, resident, metric, value) in enumerate(points, start=1):
            await copy.write_row((ts, device, resident, int(metric), value, seq))
    hours = sorted({(resident, floor_time(ts, timedelta(hours=1))) for ts, _, resident, *_ in points if resident})
    async with db.cursor() as cur:
        await cur.executemany(
            "INSERT INTO rollup_dirty (resident_id, hour) VALUES (%s, %s) ON CONFLICT DO NOTHING", hours
        )
    retention = StorageSettings(_env_file=None).raw_retention_days  # type: ignore[call-arg]
    await refresh_rollups(db, raw_retention_days=retention, now=now)


async def _day_partitions(db: Conn, day: datetime) -> None:
    for table in ("telemetry", "telemetry_1m"):
        await db.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(f"{table}_p{day:%Y%m%d}"),
                sql.Identifier(table),
                sql.Literal(day.astimezone(UTC)),
                sql.Literal((day + _DAY).astimezone(UTC)),
            )
        )

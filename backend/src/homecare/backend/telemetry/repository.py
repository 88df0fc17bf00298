"""SQL reads of telemetry and its rollups; the same statements serve plain and TimescaleDB storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from psycopg import sql
from psycopg.rows import class_row

from homecare.backend.telemetry.models import Resolution
from homecare.storage.connections import Conn

ROLLUP_TABLES: Final = {Resolution.MINUTE: "telemetry_1m", Resolution.HOUR: "telemetry_1h"}


@dataclass(frozen=True, slots=True)
class PointRow:
    """One raw data point."""

    metric: int
    ts: datetime
    value: float
    device_id: int


@dataclass(frozen=True, slots=True)
class BucketRow:
    """One rollup bucket."""

    bucket: datetime
    avg: float
    min: float
    max: float
    n: int


async def latest_per_metric(
    conn: Conn, *, resident_id: int, device_ids: list[int], since: datetime, metrics: list[int] | None
) -> list[PointRow]:
    """The newest point of each metric since a time, from the given devices' rows for this resident."""
    async with conn.cursor(row_factory=class_row(PointRow)) as cur:
        await cur.execute(
            """
            SELECT DISTINCT ON (metric) metric, ts, value, device_id
            FROM telemetry
            WHERE device_id = ANY(%(devices)s::int[]) AND resident_id = %(resident)s AND ts >= %(since)s
              AND (%(metrics)s::smallint[] IS NULL OR metric = ANY(%(metrics)s::smallint[]))
            ORDER BY metric, ts DESC, seq DESC
            """,
            {"devices": device_ids, "resident": resident_id, "since": since, "metrics": metrics},
        )
        return await cur.fetchall()


async def raw_points(
    conn: Conn,
    *,
    resident_id: int,
    device_ids: list[int],
    since: datetime,
    metrics: list[int] | None,
    limit: int,
) -> list[PointRow]:
    """Points since a time, oldest first, at most ``limit``."""
    async with conn.cursor(row_factory=class_row(PointRow)) as cur:
        await cur.execute(
            """
            SELECT metric, ts, value, device_id
            FROM telemetry
            WHERE device_id = ANY(%(devices)s::int[]) AND resident_id = %(resident)s AND ts >= %(since)s
              AND (%(metrics)s::smallint[] IS NULL OR metric = ANY(%(metrics)s::smallint[]))
            ORDER BY ts, metric, device_id, seq
            LIMIT %(limit)s
            """,
            {
                "devices": device_ids,
                "resident": resident_id,
                "since": since,
                "metrics": metrics,
                "limit": limit,
            },
        )
        return await cur.fetchall()


async def rollup_buckets(
    conn: Conn, *, resident_id: int, metric: int, resolution: Resolution, start: datetime, end: datetime
) -> list[BucketRow]:
    """Buckets of one metric with start <= bucket < end, in time order; avg = sum / n."""
    query = sql.SQL(
        """
        SELECT bucket, sum / n AS avg, min, max, n
        FROM {table}
        WHERE resident_id = %(resident)s AND metric = %(metric)s AND bucket >= %(start)s AND bucket < %(end)s
        ORDER BY bucket
        """
    ).format(table=sql.Identifier(ROLLUP_TABLES[resolution]))
    async with conn.cursor(row_factory=class_row(BucketRow)) as cur:
        await cur.execute(query, {"resident": resident_id, "metric": metric, "start": start, "end": end})
        return await cur.fetchall()

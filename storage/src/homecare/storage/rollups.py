"""Keeps telemetry's minute and hour rollups: refreshed tables in plain mode, continuous aggregates otherwise.

Plain mode recomputes (never adds to) every minute bucket from the watermark minus ``LATE_WINDOW``
up to the current minute, then the hour buckets those minutes fall in, with
``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``. Rows that arrive later than that window are
announced by the gateway in ``rollup_dirty`` (resident, UTC hour), in the same transaction as the
rows; their hours are recomputed here. Under TimescaleDB the continuous aggregates' policies do the
work; dirty hours are refreshed explicitly (the policy window only reaches back 7 days) and cleared.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from psycopg import sql

from homecare.storage import DatabaseError
from homecare.storage.connections import Conn, autocommit
from homecare.storage.migrate import LOCK_NAMESPACE, StorageMode, read_storage_mode

log = logging.getLogger(__name__)

# Every refresh recomputes this far back before the watermark. The gateway marks rows older than
# its own LATE_AFTER (4 min) dirty; the margin covers batching and commit delays between the two.
LATE_WINDOW: Final = timedelta(minutes=10)
SLICE: Final = timedelta(hours=6)  # one transaction recomputes at most this much raw time
DIRTY_BATCH: Final = 500
MAX_DIRTY_BATCHES: Final = 20
WATERMARK: Final = "telemetry_1m"
REFRESH_LOCK: Final = 4

_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_MINUTES_FROM_RAW: Final = """
INSERT INTO telemetry_1m AS r (bucket, resident_id, metric, n, sum, min, max)
SELECT date_bin('1 minute', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'), resident_id, metric,
       count(*), sum(value), min(value), max(value)
FROM telemetry
WHERE ts >= %(start)s AND ts < %(end)s AND resident_id IS NOT NULL {residents}
GROUP BY 1, 2, 3
ON CONFLICT (resident_id, metric, bucket) DO UPDATE
SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max
WHERE (r.n, r.sum, r.min, r.max) IS DISTINCT FROM (excluded.n, excluded.sum, excluded.min, excluded.max)
"""

_HOURS_FROM_MINUTES: Final = """
INSERT INTO telemetry_1h AS r (bucket, resident_id, metric, n, sum, min, max)
SELECT date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), resident_id, metric,
       sum(n)::bigint, sum(sum), min(min), max(max)
FROM telemetry_1m
WHERE bucket >= %(start)s AND bucket < %(end)s {residents}
GROUP BY 1, 2, 3
ON CONFLICT (resident_id, metric, bucket) DO UPDATE
SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max
WHERE (r.n, r.sum, r.min, r.max) IS DISTINCT FROM (excluded.n, excluded.sum, excluded.min, excluded.max)
"""

_RESIDENTS_FILTER: Final = "AND resident_id = ANY(%(residents)s)"


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did."""

    mode: StorageMode
    start: datetime | None = None
    end: datetime | None = None
    minute_rows: int = 0
    hour_rows: int = 0
    dirty_rows: int = 0  # rollup_dirty rows processed


def floor_time(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC bucket of width ``step`` (a divisor of a day) that holds ``moment``."""
    moment = moment.astimezone(UTC)
    return _EPOCH + ((moment - _EPOCH) // step) * step


def _ceil_time(moment: datetime, step: timedelta) -> datetime:
    floor = floor_time(moment, step)
    return floor if floor == moment else floor + step


async def refresh_rollups(conn: Conn, *, raw_retention_days: int, now: datetime | None = None) -> RefreshReport:
    """Bring telemetry_1m and telemetry_1h up to date with the raw rows, late rows included.

    Needs a connection outside a transaction; it commits slice by slice, so an interrupted refresh
    keeps its progress. ``now`` is for tests; the database clock is used otherwise.
    """
    async with autocommit(conn):
        mode = await read_storage_mode(conn)
        if mode is StorageMode.TIMESCALE:
            return await _refresh_timescale(conn)
        if mode is not StorageMode.PLAIN:
            raise DatabaseError("refresh_rollups needs a migrated database")
        return await _refresh_plain(conn, raw_retention_days=raw_retention_days, now=now)


async def _refresh_plain(conn: Conn, *, raw_retention_days: int, now: datetime | None) -> RefreshReport:
    if now is None:
        row = await (await conn.execute("SELECT now()")).fetchone()
        assert row is not None
        now = row[0]
    assert now is not None
    current_minute = floor_time(now, _MINUTE)
    end = current_minute + _MINUTE  # the current, still filling minute is recomputed next time too
    row = await (await conn.execute("SELECT watermark FROM rollup_state WHERE name = %s", (WATERMARK,))).fetchone()
    if row is None:
        start = floor_time(now - timedelta(days=raw_retention_days), _HOUR)
    else:
        start = floor_time(min(row[0], current_minute) - LATE_WINDOW, _MINUTE)
    minute_rows = hour_rows = 0
    slice_start = start
    while slice_start < end:
        slice_end = min(slice_start + SLICE, end)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, REFRESH_LOCK))
            minutes = await _execute(conn, _MINUTES_FROM_RAW, slice_start, slice_end)
            hours = await _execute(
                conn, _HOURS_FROM_MINUTES, floor_time(slice_start, _HOUR), _ceil_time(slice_end, _HOUR)
            )
            # Progress is saved when there is some (an empty slice then commits without writing WAL).
            if minutes or hours or slice_end >= end:
                await conn.execute(
                    "INSERT INTO rollup_state (name, watermark) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET watermark = excluded.watermark",
                    (WATERMARK, min(slice_end, current_minute)),
                )
        minute_rows, hour_rows = minute_rows + minutes, hour_rows + hours
        slice_start = slice_end
    dirty = await _refresh_dirty_plain(conn)
    return RefreshReport(StorageMode.PLAIN, start, end, minute_rows, hour_rows, dirty)


async def _execute(
    conn: Conn, statement: str, start: datetime, end: datetime, residents: list[int] | None = None
) -> int:
    query = statement.format(residents=_RESIDENTS_FILTER if residents is not None else "")
    cursor = await conn.execute(query.encode(), {"start": start, "end": end, "residents": residents})
    return max(cursor.rowcount, 0)


async def _take_dirty(conn: Conn) -> dict[datetime, list[int]]:
    """Claim a batch of dirty (resident, hour) rows inside the caller's transaction, grouped by hour."""
    cursor = await conn.execute(
        """
        DELETE FROM rollup_dirty d
        USING (SELECT resident_id, hour FROM rollup_dirty
               ORDER BY hour LIMIT %s FOR UPDATE SKIP LOCKED) claimed
        WHERE d.resident_id = claimed.resident_id AND d.hour = claimed.hour
        RETURNING d.resident_id, d.hour
        """,
        (DIRTY_BATCH,),
    )
    by_hour: dict[datetime, list[int]] = defaultdict(list)
    for resident_id, hour in await cursor.fetchall():
        by_hour[floor_time(hour, _HOUR)].append(resident_id)
    return by_hour


async def _refresh_dirty_plain(conn: Conn) -> int:
    """Recompute the minutes and hours of the dirty (resident, hour) pairs; how many pairs."""
    total = 0
    for _ in range(MAX_DIRTY_BATCHES):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, REFRESH_LOCK))
            by_hour = await _take_dirty(conn)
            for hour, residents in sorted(by_hour.items()):
                await _execute(conn, _MINUTES_FROM_RAW, hour, hour + _HOUR, residents)
                await _execute(conn, _HOURS_FROM_MINUTES, hour, hour + _HOUR, residents)
        count = sum(len(residents) for residents in by_hour.values())
        total += count
        if count < DIRTY_BATCH:
            break
    if total:
        log.info("rollups: recomputed %d late (resident, hour) pairs", total)
    return total


async def _refresh_timescale(conn: Conn) -> RefreshReport:
    """Refresh the continuous aggregates over the dirty hours, then clear them."""
    rows = 0
    for _ in range(MAX_DIRTY_BATCHES):
        cursor = await conn.execute("SELECT resident_id, hour FROM rollup_dirty ORDER BY hour LIMIT %s", (DIRTY_BATCH,))
        claimed = await cursor.fetchall()
        batch_hours = sorted({floor_time(hour, _HOUR) for _, hour in claimed})
        for hour in batch_hours:
            for view in ("telemetry_1m", "telemetry_1h"):  # the hourly aggregate reads the minute one
                await conn.execute(
                    sql.SQL("CALL refresh_continuous_aggregate({}, {}, {})").format(
                        sql.Literal(view), sql.Literal(hour), sql.Literal(hour + _HOUR)
                    )
                )
        await conn.execute(
            "DELETE FROM rollup_dirty WHERE (resident_id, hour) IN "
            "(SELECT * FROM unnest(%s::int[], %s::timestamptz[]))",
            ([r for r, _ in claimed], [h for _, h in claimed]),
        )
        rows += len(claimed)
        if len(claimed) < DIRTY_BATCH:
            break
    return RefreshReport(StorageMode.TIMESCALE, dirty_rows=rows)

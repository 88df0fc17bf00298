"""Keeps telemetry's minute and hour rollups: refreshed tables in plain mode, continuous aggregates otherwise.

Plain mode recomputes (never adds to) every minute bucket from the watermark minus ``LATE_WINDOW``
up to the current minute, then the hour buckets those minutes fall in, with
``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``. Rows that arrive later than that window are
announced by the gateway in ``rollup_dirty`` (resident, UTC hour), in the same transaction as the
rows; their hours are recomputed here. Under TimescaleDB each refresh materialises the continuous
aggregates' complete buckets from where they stand, the late window and the dirty hours included (the
policies do the same every minute but reach back only 7 days).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import psycopg
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
_NEVER_MATERIALISED: Final = -210866803200000000  # TimescaleDB's watermark before the first refresh (4714 BC)

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
            return await _refresh_timescale(conn, raw_retention_days=raw_retention_days, now=now)
        if mode is not StorageMode.PLAIN:
            raise DatabaseError("refresh_rollups needs a migrated database")
        return await _refresh_plain(conn, raw_retention_days=raw_retention_days, now=now)


async def _refresh_plain(conn: Conn, *, raw_retention_days: int, now: datetime | None) -> RefreshReport:
    now = now or await _database_now(conn)
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


async def _refresh_timescale(conn: Conn, *, raw_retention_days: int, now: datetime | None) -> RefreshReport:
    """Materialise the continuous aggregates' complete buckets, late rows and dirty hours included.

    A refresh moves an aggregate's watermark to the end of its window, and buckets below the watermark
    are read from the materialisation only. So each aggregate is first refreshed from where it stands
    (its watermark, or the raw retention horizon) to its last complete bucket — never a filling one —
    in slices, then over the dirty hours (below the horizon, where the policies do not reach).
    """
    now = now or await _database_now(conn)
    horizon = floor_time(now - timedelta(days=raw_retention_days), _HOUR)
    ends = {"telemetry_1m": floor_time(now, _MINUTE), "telemetry_1h": floor_time(now, _HOUR)}
    await conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, REFRESH_LOCK))
    try:
        # Claimed first: a late row committed after this claim flags its hour again for the next refresh.
        claimed = await (await conn.execute("DELETE FROM rollup_dirty RETURNING resident_id, hour")).fetchall()
        try:
            # Hours behind the horizon stay as they are: their raw rows and minutes are dropped or about to
            # be, and a refresh over them would empty their stored hours.
            dirty = sorted({floor_time(hour, _HOUR) for _, hour in claimed if hour >= horizon})
            watermarks = [await _watermark(conn, view) or horizon for view in ends]
            start = floor_time(max(min(*watermarks, now - LATE_WINDOW), horizon), _HOUR)
            for view, end in ends.items():  # the hourly aggregate is computed from the minute one
                for window_start, window_end in _slices([(start, end), *_ranges(dirty)], end):
                    await conn.execute(
                        sql.SQL("CALL refresh_continuous_aggregate({}, {}, {})").format(
                            sql.Literal(view), sql.Literal(window_start), sql.Literal(window_end)
                        )
                    )
        except BaseException:
            await _unclaim(conn, claimed)
            raise
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, REFRESH_LOCK))
    return RefreshReport(StorageMode.TIMESCALE, start, ends["telemetry_1m"], dirty_rows=len(claimed))


async def _database_now(conn: Conn) -> datetime:
    row = await (await conn.execute("SELECT now()")).fetchone()
    assert row is not None
    now: datetime = row[0]
    return now


async def _watermark(conn: Conn, view: str) -> datetime | None:
    """Where the aggregate's materialisation ends, or None before its first refresh."""
    cursor = await conn.execute(
        """
        SELECT CASE WHEN w.watermark > %(never)s THEN _timescaledb_functions.to_timestamp(w.watermark) END
        FROM _timescaledb_catalog.continuous_agg c
        JOIN _timescaledb_catalog.continuous_aggs_watermark w ON w.mat_hypertable_id = c.mat_hypertable_id
        WHERE c.user_view_schema = current_schema() AND c.user_view_name = %(view)s
        """,
        {"view": view, "never": _NEVER_MATERIALISED},
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def _unclaim(conn: Conn, claimed: list[tuple[int, datetime]]) -> None:
    """Put claimed dirty hours back after a failed refresh (best effort: the connection may be gone)."""
    with contextlib.suppress(psycopg.Error):
        await conn.execute(
            "INSERT INTO rollup_dirty (resident_id, hour) SELECT * FROM unnest(%s::int[], %s::timestamptz[]) "
            "ON CONFLICT DO NOTHING",
            ([r for r, _ in claimed], [h for _, h in claimed]),
        )


def _ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hour starts merged into contiguous [start, end) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + _HOUR)
        else:
            ranges.append((hour, hour + _HOUR))
    return ranges


def _slices(ranges: list[tuple[datetime, datetime]], end: datetime) -> list[tuple[datetime, datetime]]:
    """The ranges cut at ``end`` (no filling bucket is stored) and into pieces of at most ``SLICE``."""
    out = []
    for start, stop in ranges:
        stop = min(stop, end)
        while start < stop:
            out.append((start, min(start + SLICE, stop)))
            start += SLICE
    return out

"""Rollups: every minute and hour bucket equals the same aggregate over the raw rows, late rows included."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from homecare.backend.settings import Settings
from homecare.storage.maintenance import MAINTENANCE_LOCK, maintain_once, run_maintenance
from homecare.storage.migrate import LOCK_NAMESPACE
from homecare.storage.rollups import LATE_WINDOW, floor_time, refresh_rollups

Conn = psycopg.AsyncConnection[Any]
Row = tuple[datetime, int, int | None, int, float, int]

COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["timestamptz", "int4", "int4", "int2", "float8", "int8"]
RETENTION_DAYS = 30


async def copy_rows(conn: Conn, rows: Iterable[Row]) -> None:
    """Write rows exactly as the gateway does."""
    async with conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            await copy.write_row(row)


async def mark_late(conn: Conn, rows: Iterable[Row]) -> None:
    """What the gateway does for rows past the late window: flag (resident, UTC hour)."""
    hours = sorted({(r, floor_time(ts, timedelta(hours=1))) for ts, _, r, _, _, _ in rows if r is not None})
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO rollup_dirty (resident_id, hour) VALUES (%s, %s) ON CONFLICT DO NOTHING", hours
        )


async def db_now(conn: Conn) -> datetime:
    row = await (await conn.execute("SELECT now()")).fetchone()
    assert row is not None
    return row[0].astimezone(UTC)


class Fleet:
    """Residents and devices, and a generator of telemetry rows with per-device growing seq."""

    def __init__(self, devices: dict[int, int | None]) -> None:
        self.devices = devices  # device id → resident id
        self.seq = dict.fromkeys(devices, 0)
        self.rng = random.Random(20240601)

    def rows(self, count: int, start: datetime, end: datetime, metrics: tuple[int, ...] = (1, 2, 3, 5)) -> list[Row]:
        out = []
        span = (end - start).total_seconds()
        for _ in range(count):
            device = self.rng.choice(list(self.devices))
            self.seq[device] += 1
            ts = start + timedelta(seconds=self.rng.uniform(0, span))
            value = round(self.rng.uniform(40, 140), 1) if self.rng.random() < 0.8 else self.rng.uniform(-5, 5)
            out.append((ts, device, self.devices[device], self.rng.choice(metrics), value, self.seq[device]))
        return out


async def make_fleet(conn: Conn) -> Fleet:
    residents = []
    for name in ("Li Wei", "Zhang Min", "Chen Jing"):
        row = await (
            await conn.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))
        ).fetchone()
        assert row is not None
        residents.append(row[0])
    owners = [residents[0], residents[0], residents[1], residents[2], None]  # the last one is unassigned
    devices = {}
    for number, owner in enumerate(owners):
        row = await (
            await conn.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s) RETURNING id",
                (f"wr-{number:06d}", owner),
            )
        ).fetchone()
        assert row is not None
        devices[row[0]] = owner
    return Fleet(devices)


async def compare_with_raw(conn: Conn, table: str, width: str) -> tuple[int, list[Any]]:
    """(buckets compared, mismatches) between a rollup and the same aggregate over raw telemetry."""
    query = sql.SQL(
        """
        WITH raw AS (
            SELECT date_bin({width}::interval, ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                   resident_id, metric, count(*) AS n, sum(value) AS sum, min(value) AS min, max(value) AS max
            FROM telemetry WHERE resident_id IS NOT NULL GROUP BY 1, 2, 3
        )
        SELECT raw.bucket, raw.resident_id, raw.metric, raw.n, raw.sum, raw.min, raw.max,
               r.bucket, r.n, r.sum, r.min, r.max, r.sum / r.n
        FROM raw FULL JOIN {table} r
          ON r.bucket = raw.bucket AND r.resident_id = raw.resident_id AND r.metric = raw.metric
        """
    ).format(width=sql.Literal(width), table=sql.Identifier(table))
    rows = await (await conn.execute(query)).fetchall()
    bad = []
    for row in rows:
        raw, rolled = row[:7], row[7:]
        if raw[0] is None or rolled[0] is None:
            bad.append(("missing", row))
        elif not (
            raw[3] == rolled[1]
            and math.isclose(raw[4], rolled[2], rel_tol=1e-12, abs_tol=1e-9)
            and raw[5] == rolled[3]
            and raw[6] == rolled[4]
            and math.isclose(rolled[5], raw[4] / raw[3], rel_tol=1e-12, abs_tol=1e-9)
        ):
            bad.append(("differs", row))
    return len(rows), bad


async def assert_rollups_match(conn: Conn) -> None:
    for table, width in (("telemetry_1m", "1 minute"), ("telemetry_1h", "1 hour")):
        compared, bad = await compare_with_raw(conn, table, width)
        assert compared > 0, table
        assert bad == [], f"{table}: {len(bad)} of {compared} buckets differ, e.g. {bad[:3]}"


async def test_rollups_equal_the_raw_data_including_late_rows(db: Conn) -> None:
    fleet = await make_fleet(db)
    now = await db_now(db)
    # Recent rows across several hours, some two days old (first refresh backfills), rows without a resident.
    await copy_rows(db, fleet.rows(3000, now - timedelta(hours=3), now))
    await copy_rows(db, fleet.rows(300, now - timedelta(days=2, hours=1), now - timedelta(days=2)))
    await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    await assert_rollups_match(db)

    # Late rows behind the refresher's window, flagged like the gateway flags them, into existing
    # and new buckets; and rows inside the window, not flagged.
    late = fleet.rows(400, now - timedelta(hours=2, minutes=30), now - LATE_WINDOW - timedelta(minutes=5))
    late += fleet.rows(20, now - timedelta(days=2, hours=5), now - timedelta(days=2, hours=4), metrics=(4,))
    await copy_rows(db, late)
    await mark_late(db, late)
    await copy_rows(db, fleet.rows(200, now - timedelta(minutes=4), await db_now(db)))
    await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    await assert_rollups_match(db)
    assert (await (await db.execute("SELECT count(*) FROM rollup_dirty")).fetchone()) == (0,)

    # A refresh recomputes rather than adds: running it again changes nothing.
    await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    await assert_rollups_match(db)


@pytest.mark.storage_mode("timescale")
async def test_continuous_aggregates_store_only_complete_buckets_and_lose_no_older_one(db: Conn) -> None:
    """A refresh over one late hour used to move the watermark past every bucket not yet materialised (they
    vanished from the views) and to store the current, still filling hour."""
    fleet = await make_fleet(db)
    now = await db_now(db)
    current_hour = floor_time(now, timedelta(hours=1))
    await copy_rows(db, fleet.rows(300, now - timedelta(days=2, hours=3), now - timedelta(days=2)))
    late = fleet.rows(100, current_hour - timedelta(hours=5), current_hour - timedelta(hours=4))
    late += fleet.rows(50, current_hour, now)
    await copy_rows(db, late)
    await mark_late(db, late)
    report = await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    assert report.dirty_rows > 0
    await assert_rollups_match(db)
    for view, width in (("telemetry_1m", timedelta(minutes=1)), ("telemetry_1h", timedelta(hours=1))):
        cursor = await db.execute(
            "SELECT materialization_hypertable_schema, materialization_hypertable_name "
            "FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
            (view,),
        )
        stored = await cursor.fetchone()
        assert stored is not None
        cursor = await db.execute(sql.SQL("SELECT max(bucket) FROM {}").format(sql.Identifier(*stored)))
        [newest] = await cursor.fetchone() or [None]
        assert newest is not None, f"{view} materialised nothing"
        assert newest < floor_time(now, width), f"{view} stored a bucket that is still filling"


@pytest.mark.storage_mode("plain")  # continuous aggregates track late rows through their invalidation log
async def test_late_rows_are_recomputed_once_flagged(db: Conn) -> None:
    fleet = await make_fleet(db)
    now = await db_now(db)
    await copy_rows(db, fleet.rows(500, now - timedelta(hours=2), now))
    await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    late = fleet.rows(50, now - timedelta(hours=2), now - timedelta(hours=1))
    await copy_rows(db, late)
    await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    _, bad = await compare_with_raw(db, "telemetry_1m", "1 minute")
    assert bad, "without the flag, rows behind the late window wait (this is the gateway's contract)"
    await mark_late(db, late)
    report = await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    assert report.dirty_rows > 0
    await assert_rollups_match(db)


@pytest.mark.storage_mode("plain")  # the watermark is the plain-mode refresher's
async def test_refresh_resumes_from_its_watermark(db: Conn) -> None:
    fleet = await make_fleet(db)
    now = await db_now(db)
    first = await refresh_rollups(db, raw_retention_days=RETENTION_DAYS, now=now - timedelta(hours=1))
    assert first.start == floor_time(now - timedelta(days=RETENTION_DAYS, hours=1), timedelta(hours=1))
    await copy_rows(db, fleet.rows(300, now - timedelta(minutes=50), now))
    second = await refresh_rollups(db, raw_retention_days=RETENTION_DAYS)
    assert second.start == floor_time(now - timedelta(hours=1), timedelta(minutes=1)) - LATE_WINDOW
    await assert_rollups_match(db)


def test_buckets_are_utc_aligned() -> None:
    shanghai = datetime.fromisoformat("2025-03-01T08:59:59.999+08:00")
    assert floor_time(shanghai, timedelta(hours=1)) == datetime(2025, 3, 1, 0, tzinfo=UTC)
    assert floor_time(shanghai, timedelta(minutes=1)) == datetime(2025, 3, 1, 0, 59, tzinfo=UTC)
    india = datetime.fromisoformat("2025-03-01T05:45:00+05:30")
    assert floor_time(india, timedelta(hours=1)) == datetime(2025, 3, 1, 0, tzinfo=UTC)


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)


async def test_maintenance_runs_in_one_process_at_a_time(database_url: str) -> None:
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as holder,
        await psycopg.AsyncConnection.connect(database_url) as other,
    ):
        await holder.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, MAINTENANCE_LOCK))
        assert await maintain_once(other, settings=settings()) is None
        await holder.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, MAINTENANCE_LOCK))
        report = await maintain_once(other, settings=settings())
        assert report is not None
        assert report.rollups is not None


async def _incident(db: Conn, now: datetime) -> int:
    resident = await (await db.execute("INSERT INTO residents (display_name) VALUES ('r') RETURNING id")).fetchone()
    assert resident is not None
    incident = await (
        await db.execute(
            "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, opened_at, "
            "last_seen_at) VALUES (%s, 'sos', 1, 'open', 'e', 'z', %s, %s) RETURNING id",
            (resident[0], now, now),
        )
    ).fetchone()
    assert incident is not None
    return int(incident[0])


async def test_housekeeping_deletes_delivered_notifications_after_the_retention_with_their_attempts(db: Conn) -> None:
    now = await db_now(db)
    incident = await _incident(db, now)
    # Delivered 40 days ago (past keeping), delivered yesterday, failed 40 days ago, still waiting from 40 days ago.
    outbox = {}
    for name, status, age_days in (
        ("old", "sent", 40),
        ("recent", "sent", 1),
        ("failed", "failed", 40),
        ("due", "pending", 40),
    ):
        at = now - timedelta(days=age_days)
        row = await (
            await db.execute(
                "INSERT INTO notification_outbox (incident_id, audience, channel, recipient, reason, subject, body, "
                "payload, status, attempts, created_at, next_attempt_at, sent_at, failed_at) VALUES (%s, 'staff', "
                "'email', 'duty@example.org', 'opened', 's', 'b', '{}', %s, 1, %s, %s, %s, %s) RETURNING id",
                (incident, status, at, at, at if status == "sent" else None, at if status == "failed" else None),
            )
        ).fetchone()
        assert row is not None
        outbox[name] = row[0]
        await db.execute(
            "INSERT INTO notification_attempts (outbox_id, attempt, started_at, finished_at, ok) "
            "VALUES (%s, 1, %s, %s, %s)",
            (row[0], at, at, status == "sent"),
        )
    report = await maintain_once(db, settings=settings(raw_retention_days=30))
    assert report is not None
    assert report.rows_deleted["notification_outbox"] == 1
    kept = await (await db.execute("SELECT id FROM notification_outbox ORDER BY id")).fetchall()
    assert kept == [(outbox["recent"],), (outbox["failed"],), (outbox["due"],)]
    attempts = await (await db.execute("SELECT outbox_id FROM notification_attempts ORDER BY outbox_id")).fetchall()
    assert attempts == kept


async def test_housekeeping_deletes_expired_heartbeats_dead_letters_and_unlinked_pipeline_records(db: Conn) -> None:
    fleet = await make_fleet(db)
    device = next(iter(fleet.devices))
    now = await db_now(db)
    incident = await _incident(db, now)
    # The pipeline's record of three events: an old one that changed nothing, an old one that opened the incident,
    # a recent one that changed nothing. Only the first is past keeping.
    for item_id, age_days, incident_id in ((1, 40, None), (2, 40, incident), (3, 1, None)):
        await db.execute(
            "INSERT INTO pipeline_processed (source, item_id, incident_id, outcome, processed_at) "
            "VALUES ('event', %s, %s, 'informational', %s)",
            (item_id, incident_id, now - timedelta(days=age_days)),
        )
    for age_days, seq in ((40, 1), (1, 2)):
        at = now - timedelta(days=age_days)
        await db.execute(
            "INSERT INTO heartbeats (ts, device_id, seq, battery, charging, firmware, uptime_s, "
            "heartbeat_interval_s, received_at) VALUES (%s, %s, %s, 80, false, '1.0.0', 10, 300, %s)",
            (at, device, seq, at),
        )
        await db.execute(
            "INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES (%s, 'hc/x', 'test', '\\x00')",
            (at,),
        )
    report = await maintain_once(db, settings=settings(raw_retention_days=30))
    assert report is not None
    assert report.rows_deleted["heartbeats"] == 1
    assert report.rows_deleted["dead_letters"] == 1
    assert report.rows_deleted["pipeline_processed"] == 1
    assert (await (await db.execute("SELECT seq FROM heartbeats")).fetchall()) == [(2,)]
    kept = await (await db.execute("SELECT item_id FROM pipeline_processed ORDER BY item_id")).fetchall()
    assert kept == [(2,), (3,)]


async def test_the_maintenance_loop_refreshes_until_stopped(database_url: str, db: Conn) -> None:
    fleet = await make_fleet(db)
    now = await db_now(db)
    await copy_rows(db, fleet.rows(200, now - timedelta(minutes=30), now))
    stop = asyncio.Event()
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool:
        task = asyncio.create_task(run_maintenance(pool, settings(), stop, interval_s=0.05))
        for _ in range(200):
            row = await (await db.execute("SELECT count(*) FROM telemetry_1m WHERE n > 0")).fetchone()
            if row and row[0] > 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    await assert_rollups_match(db)

"""Time partitions (plain mode) and the gateway's binary COPY into telemetry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from homecare.storage.partitions import (
    drop_expired_partitions,
    ensure_partitions,
    ensure_partitions_sync,
    list_partitions,
)

Conn = psycopg.AsyncConnection[Any]

COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["timestamptz", "int4", "int4", "int2", "float8", "int8"]


async def copy_rows(conn: Conn, rows: list[tuple[datetime, int, int | None, int, float, int]]) -> None:
    async with conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            await copy.write_row(row)


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.mark.storage_mode("plain")  # TimescaleDB creates and drops chunks itself
async def test_partitions_cover_the_retention_window_and_three_days_ahead(db: Conn) -> None:
    for table in ("telemetry", "telemetry_1m"):
        days = [day for _, day, _ in await list_partitions(db, table)]
        assert days[0] == (today() - timedelta(days=30)).date()
        assert days[-1] == (today() + timedelta(days=3)).date()
        assert len(days) == len(set(days)) == 34
    assert await ensure_partitions(db, raw_retention_days=30) == 0, "already there: nothing to do"


@pytest.mark.storage_mode("plain")  # TimescaleDB creates and drops chunks itself
async def test_expired_partitions_are_dropped_and_recent_data_stays(db: Conn) -> None:
    assert await ensure_partitions(db, raw_retention_days=40) == 20  # ten older days, two tables
    old, recent = today() - timedelta(days=38, hours=-3), datetime.now(UTC) - timedelta(minutes=1)
    await copy_rows(db, [(old, 1, None, 1, 70.0, 1), (recent, 1, None, 1, 71.0, 2)])
    dropped = await drop_expired_partitions(db, raw_retention_days=30)
    assert len(dropped) == 20
    assert all(name.startswith(("telemetry_p", "telemetry_1m_p")) for name in dropped)
    oldest = next(day for _, day, _ in await list_partitions(db, "telemetry"))
    assert oldest == (today() - timedelta(days=30)).date()
    assert (await (await db.execute("SELECT seq FROM telemetry")).fetchall()) == [(2,)]
    assert await drop_expired_partitions(db, raw_retention_days=30) == []


@pytest.mark.storage_mode("plain")  # TimescaleDB creates and drops chunks itself
async def test_a_row_without_a_partition_is_refused_until_partitions_exist(db: Conn) -> None:
    future = today() + timedelta(days=5, hours=1)
    with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
        await copy_rows(db, [(future, 1, None, 1, 70.0, 1)])
    assert await ensure_partitions(db, raw_retention_days=30, days_ahead=6) == 6
    await copy_rows(db, [(future, 1, None, 1, 70.0, 1)])


def test_the_gateway_can_prepare_partitions_from_a_blocking_connection(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert ensure_partitions_sync(conn, raw_retention_days=30) == 0
        assert ensure_partitions_sync(conn, raw_retention_days=31) in (
            0,
            2,
        )  # 2 in plain mode, 0 under TimescaleDB


async def test_binary_copy_stores_rows_and_the_unique_index_catches_resends(db: Conn) -> None:
    now = datetime.now(UTC)
    rows = [(now - timedelta(seconds=i), 7, 3, 1 + i % 4, 60.0 + i, 100 + i) for i in range(1000)]
    await copy_rows(db, rows)
    count = await (await db.execute("SELECT count(*), sum(value) FROM telemetry WHERE device_id = 7")).fetchone()
    assert count == (1000, sum(r[4] for r in rows))
    with pytest.raises(psycopg.errors.UniqueViolation):
        await copy_rows(db, rows[:1])

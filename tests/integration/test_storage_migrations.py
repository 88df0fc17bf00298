"""Migrations: applied once, safe when several processes start together, and the schema the gateway writes."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from homecare.storage import MigrationError
from homecare.storage.migrate import StorageMode, load_migrations, migrate, read_storage_mode

Conn = psycopg.AsyncConnection[Any]

# (data type, nullable) per column, as information_schema reports them.
TS, INT, SMALL, BIG, TEXT, BOOL = (
    "timestamp with time zone",
    "integer",
    "smallint",
    "bigint",
    "text",
    "boolean",
)
DOUBLE, REAL, BYTEA, JSONB = "double precision", "real", "bytea", "jsonb"
EXPECTED: dict[str, dict[str, tuple[str, bool]]] = {
    "residents": {
        "id": (INT, False),
        "display_name": (TEXT, False),
        "timezone": (TEXT, False),
        "created_at": (TS, False),
    },
    "devices": {
        "id": (INT, False),
        "uid": (TEXT, False),
        "kind": (TEXT, False),
        "resident_id": (INT, True),
        "secret_hash": (TEXT, True),
        "enrolled_at": (TS, False),
        "revoked_at": (TS, True),
        "heartbeat_interval_s": (INT, False),
    },
    "telemetry": {
        "ts": (TS, False),
        "device_id": (INT, False),
        "resident_id": (INT, True),
        "metric": (SMALL, False),
        "value": (DOUBLE, False),
        "seq": (BIG, False),
    },
    "events": {
        "id": (BIG, False),
        "device_id": (INT, False),
        "resident_id": (INT, True),
        "seq": (BIG, False),
        "ts": (TS, False),
        "received_at": (TS, False),
        "kind": (TEXT, False),
        "priority": (SMALL, False),
        "room": (TEXT, True),
        "confidence": (REAL, True),
        "cancels_seq": (BIG, True),
    },
    "imu_bursts": {
        "id": (BIG, False),
        "device_id": (INT, False),
        "resident_id": (INT, True),
        "seq": (BIG, False),
        "event_seq": (BIG, False),
        "ts": (TS, False),
        "t0": (TS, False),
        "fs": (REAL, False),
        "acc_full_scale_mg": (INT, False),
        "acc": (BYTEA, False),
        "gyr": (BYTEA, True),
        "received_at": (TS, False),
    },
    "heartbeats": {
        "ts": (TS, False),
        "device_id": (INT, False),
        "seq": (BIG, False),
        "battery": (SMALL, False),
        "charging": (BOOL, False),
        "rssi": (SMALL, True),
        "firmware": (TEXT, False),
        "uptime_s": (BIG, False),
        "heartbeat_interval_s": (INT, False),
        "received_at": (TS, False),
    },
    "device_state": {
        "device_id": (INT, False),
        "online": (BOOL, False),
        "online_changed_at": (TS, True),
        "last_seen_at": (TS, True),
        "battery": (SMALL, True),
        "charging": (BOOL, True),
        "rssi": (SMALL, True),
        "firmware": (TEXT, True),
        "last_heartbeat_at": (TS, True),
    },
    "dead_letters": {
        "id": (BIG, False),
        "received_at": (TS, False),
        "topic": (TEXT, False),
        "device_uid": (TEXT, True),
        "reason": (TEXT, False),
        "payload": (BYTEA, False),
    },
    "access_log": {
        "id": (BIG, False),
        "at": (TS, False),
        "actor": (TEXT, False),
        "resident_id": (INT, True),
        "action": (TEXT, False),
        "detail": (JSONB, True),
    },
    "rollup_dirty": {"resident_id": (INT, False), "hour": (TS, False)},
}
# Rollups are tables in plain mode and continuous aggregates (views) under TimescaleDB: compare types only.
ROLLUP_COLUMNS = {
    "bucket": TS,
    "resident_id": INT,
    "metric": SMALL,
    "n": BIG,
    "sum": DOUBLE,
    "min": DOUBLE,
    "max": DOUBLE,
}


async def columns(conn: Conn, table: str) -> dict[str, tuple[str, bool]]:
    cursor = await conn.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return {name: (kind, nullable) for name, kind, nullable in await cursor.fetchall()}


async def test_migrations_apply_once_and_record_the_storage_mode(empty_database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(empty_database_url) as conn:
        first = await migrate(conn)
        again = await migrate(conn)
        assert [label.split(".")[0] for label in first.applied] == [
            m.label.split(".")[0] for m in load_migrations(first.mode)
        ]
        assert again.applied == ()
        assert again.mode == first.mode == await read_storage_mode(conn)
        rows = await (await conn.execute("SELECT version FROM schema_migrations ORDER BY version")).fetchall()
        assert [v for (v,) in rows] == [m.version for m in load_migrations(first.mode)]


async def test_concurrent_starts_apply_each_migration_once(empty_database_url: str) -> None:
    conns = [await psycopg.AsyncConnection.connect(empty_database_url) for _ in range(5)]
    try:
        reports = await asyncio.gather(*(migrate(conn) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()
    applied = [report.applied for report in reports if report.applied]
    assert len(applied) == 1, "exactly one process applies the migrations"
    assert len({report.mode for report in reports}) == 1


async def test_schema_is_what_the_gateway_writes(db: Conn) -> None:
    for table, expected in EXPECTED.items():
        # Later migrations may add columns (residents grow with every domain); these must stay as they are.
        actual = await columns(db, table)
        assert {name: actual.get(name) for name in expected} == expected, table
    for rollup in ("telemetry_1m", "telemetry_1h"):
        assert {name: kind for name, (kind, _) in (await columns(db, rollup)).items()} == ROLLUP_COLUMNS
    cursor = await db.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'telemetry' "
        "AND indexdef LIKE 'CREATE UNIQUE%%'"
    )
    assert [row[0].split(" USING ")[1] for row in await cursor.fetchall()] == ["btree (device_id, ts, metric, seq)"]


async def test_an_edited_migration_is_refused(db: Conn) -> None:
    await db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        await migrate(db)


async def test_the_storage_mode_never_changes(db: Conn) -> None:
    mode = await read_storage_mode(db)
    other = StorageMode.TIMESCALE if mode is StorageMode.PLAIN else StorageMode.PLAIN
    with pytest.raises(MigrationError, match="cannot switch"):
        await migrate(db, mode=other.value)
    assert (await migrate(db, mode=mode.value if mode else "auto")).mode == mode


def test_every_migration_exists_for_both_modes() -> None:
    plain, timescale = load_migrations(StorageMode.PLAIN), load_migrations(StorageMode.TIMESCALE)
    assert [m.version for m in plain] == [m.version for m in timescale]
    assert [m.version for m in plain] == sorted({m.version for m in plain})


async def test_device_changes_are_announced(db: Conn, database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener:
        await listener.execute("LISTEN homecare_devices")
        await db.execute("INSERT INTO residents (display_name) VALUES ('Wang Fang')")
        await db.execute("INSERT INTO devices (uid, kind, resident_id) VALUES ('wr-000001', 'wristband', 1)")
        await db.execute("UPDATE devices SET uid = 'wr-000002' WHERE uid = 'wr-000001'")
        await db.execute("DELETE FROM devices")
        payloads = []
        async for notify in listener.notifies(timeout=2, stop_after=4):
            payloads.append((notify.channel, notify.payload))
    assert payloads == [("homecare_devices", uid) for uid in ("wr-000001", "wr-000001", "wr-000002", "wr-000002")]


async def test_device_kinds_are_checked(db: Conn) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        await db.execute("INSERT INTO devices (uid, kind) VALUES ('tv-000001', 'television')")

"""TimescaleDB storage: retention policies kept when they fit, and plain storage on a server that has the
extension's files but does not preload it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest

from homecare.backend.settings import Settings
from homecare.storage import MigrationError
from homecare.storage.embedded import EmbeddedPostgres
from homecare.storage.maintenance import sync_timescale_policies
from homecare.storage.migrate import StorageMode, migrate

pytestmark = pytest.mark.storage_mode("timescale")
Conn = psycopg.AsyncConnection[Any]


async def retention_jobs(db: Conn) -> dict[str, tuple[int, str]]:
    """Relation (a continuous aggregate by its view's name) → (job id, drop_after)."""
    cursor = await db.execute(
        """
        SELECT coalesce(c.view_name, j.hypertable_name), j.job_id, j.config ->> 'drop_after'
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.continuous_aggregates c
          ON j.hypertable_name IN (c.view_name, c.materialization_hypertable_name)
        WHERE j.proc_name = 'policy_retention'
        """
    )
    return {name: (job, drop_after) for name, job, drop_after in await cursor.fetchall()}


async def test_retention_policies_are_replaced_only_when_the_settings_change(db: Conn) -> None:
    settings = Settings(_env_file=None, raw_retention_days=30, rollup_retention_days=730)
    await sync_timescale_policies(db, settings=settings)
    first = await retention_jobs(db)
    assert {name: days for name, (_, days) in first.items()} == {
        "telemetry": "30 days",
        "telemetry_1m": "30 days",
        "telemetry_1h": "730 days",
    }
    await sync_timescale_policies(db, settings=settings)
    assert await retention_jobs(db) == first, "a policy that fits is left alone"

    await sync_timescale_policies(db, settings=Settings(_env_file=None, raw_retention_days=14))
    changed = await retention_jobs(db)
    assert {name: days for name, (_, days) in changed.items()} == {
        "telemetry": "14 days",
        "telemetry_1m": "14 days",
        "telemetry_1h": "730 days",
    }
    assert changed["telemetry_1h"] == first["telemetry_1h"]
    assert changed["telemetry"][0] != first["telemetry"][0]


async def test_a_server_that_does_not_preload_timescaledb_gets_plain_storage(
    timescale_bin: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedPostgres(tmp_path / "data", bin_dir=timescale_bin, settings={"max_connections": "20"})
    dsn = server.start()
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
            await admin.execute("CREATE DATABASE asked_for_timescale")
            assert await (
                await admin.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
            ).fetchone() == (1,)
        with caplog.at_level(logging.WARNING, logger="homecare.storage.migrate"):
            async with await psycopg.AsyncConnection.connect(dsn) as conn:
                assert (await migrate(conn)).mode is StorageMode.PLAIN
                assert not conn.closed
                assert await (await conn.execute("SELECT mode FROM storage_mode")).fetchone() == ("plain",)
        assert "does not preload it" in caplog.text
        asked = psycopg.conninfo.make_conninfo(dsn, dbname="asked_for_timescale")
        async with await psycopg.AsyncConnection.connect(asked) as conn:
            with pytest.raises(MigrationError, match="TimescaleDB storage was asked for, but the server does not"):
                await migrate(conn, mode="timescale")
    finally:
        server.stop()

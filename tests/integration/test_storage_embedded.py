"""The embedded server: starts, survives a crash and a stale postmaster.pid, is shared, runs PostgreSQL 15 and
TimescaleDB."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
import pytest

from homecare.backend.settings import Settings
from homecare.storage.embedded import EmbeddedPostgres, serve_database
from homecare.storage.maintenance import prepare_database
from homecare.storage.migrate import StorageMode
from homecare.storage.rollups import refresh_rollups
from tests.support.timescale import PRELOAD

PG15_BIN = Path(os.environ.get("HOMECARE_TEST_PG15_BIN", "/usr/lib/postgresql/15/bin"))
HAVE_PG15 = (PG15_BIN / "postgres").exists()
SMALL = {"shared_buffers": "32MB", "max_connections": "20"}  # durability settings as in production


def postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])


def server_processes(pgdata: Path) -> list[int]:
    """Processes whose working directory is the cluster: the postmaster and its backends."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.path.samefile(proc / "cwd", pgdata):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"


def crash(server: EmbeddedPostgres) -> None:
    """Kill the postmaster outright and wait for its backends to notice and exit."""
    os.kill(postmaster_pid(server), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server_processes(server.pgdata) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (server.pgdata / "postmaster.pid").exists(), "a crash leaves its pid file behind"


def plant_stale_pid_file(server: EmbeddedPostgres) -> None:
    """A pid file naming a live process that is not this cluster's server (here: the test itself)."""
    (server.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{server.pgdata}\n0\n5432\n/tmp\n\n\nready\n")


def row_of(dsn: str, query: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row


def scalar(dsn: str, query: str) -> Any:
    return row_of(dsn, query)[0]


def test_a_second_process_adopts_the_running_server(pg_server: Any) -> None:
    if pg_server.embedded is None:
        pytest.skip("the tests run against an external server")
    running = pg_server.embedded
    adopter = EmbeddedPostgres(running.data_dir, bin_dir=running.bin_dir, database="postgres")
    dsn = adopter.start()
    assert dsn == running.dsn
    adopter.stop()  # not its server: it keeps running
    assert scalar(dsn, "SELECT current_setting('listen_addresses')") == "127.0.0.1"
    assert scalar(adopter.socket_dsn, "SELECT current_setting('data_checksums')") == "on"
    wrong = psycopg.conninfo.make_conninfo(dsn, password="wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


async def test_an_external_database_url_starts_nothing(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url="postgresql://app@db.example/homecare")
    async with serve_database(settings) as dsn:
        assert dsn == "postgresql://app@db.example/homecare"
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a directory listing in a test


async def test_a_cluster_migrates_rolls_up_and_survives_a_crash_and_a_stale_pid_file(
    tmp_path: Path, storage_mode: StorageMode, request: pytest.FixtureRequest
) -> None:
    """In the run's storage mode: plain on PostgreSQL 15 when its binaries are here (the oldest version
    supported), else on the embedded one; TimescaleDB on the embedded one with the extension preloaded."""
    if storage_mode is StorageMode.TIMESCALE:
        bin_dir, settings = request.getfixturevalue("timescale_bin"), {**SMALL, **PRELOAD}
    else:
        bin_dir, settings = PG15_BIN if HAVE_PG15 else None, SMALL
    server = EmbeddedPostgres(tmp_path / "data", bin_dir=bin_dir, settings=settings)
    dsn = server.start()
    try:
        if bin_dir == PG15_BIN:
            assert server.major_version == 15
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            assert await prepare_database(conn, settings=Settings(_env_file=None)) is storage_mode
            await conn.set_autocommit(True)
            await conn.execute("INSERT INTO residents (display_name) VALUES ('Zhao Lei')")
            now = datetime.now(UTC)
            async with (
                conn.cursor() as cur,
                cur.copy(COPY_TELEMETRY) as copy,
            ):
                copy.set_types(["timestamptz", "int4", "int4", "int2", "float8", "int8"])
                for i in range(120):
                    await copy.write_row((now - timedelta(seconds=30 * i), 1, 1, 1, 60.0 + i % 7, i))
            await refresh_rollups(conn, raw_retention_days=30)
        assert row_of(dsn, "SHOW fsync") == ("on",)
        expected = (120, sum(60.0 + i % 7 for i in range(120)))
        assert row_of(dsn, "SELECT sum(n), sum(sum) FROM telemetry_1h") == expected

        crash(server)
        server.stop()  # nothing left to stop, and no error about it
        assert not (server.pgdata / "postmaster.pid").exists()
        server = EmbeddedPostgres(tmp_path / "data", bin_dir=bin_dir, settings=settings)
        dsn = server.start()
        assert row_of(dsn, "SELECT count(*), sum(value) FROM telemetry")[0] == 120, "committed rows survive"
        server.stop()

        plant_stale_pid_file(server)
        dsn = server.start()
        assert row_of(dsn, "SELECT sum(n), sum(sum) FROM telemetry_1h") == expected
    finally:
        server.stop()

"""Applies the plain-SQL migrations in order, each once, under an advisory lock, in the recorded storage mode.

Migration files are ``NNNN_name.sql`` (both storage modes) or a pair ``NNNN_name.plain.sql`` /
``NNNN_name.timescale.sql`` (one per mode). The mode is chosen by the first migration — TimescaleDB
when the extension can be created, plain PostgreSQL otherwise — and recorded in ``storage_mode``; it
never changes afterwards.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import psycopg

from homecare.storage import MigrationError
from homecare.storage.connections import Conn, autocommit

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
LOCK_NAMESPACE: Final = 7142001  # advisory lock class shared by the storage code
MIGRATION_LOCK: Final = 1

_NOT_INSTALLED: Final = "the timescaledb extension is not installed on the server"
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<variant>plain|timescale))?\.sql$")

_BOOTSTRAP: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    variant    text,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS 'Migrations applied to this database (homecare.storage.migrate).';
CREATE TABLE IF NOT EXISTS storage_mode (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    mode      text NOT NULL CHECK (mode IN ('plain', 'timescale')),
    chosen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE storage_mode IS 'How telemetry is stored: plain partitions or TimescaleDB; chosen once.';
"""


class StorageMode(enum.StrEnum):
    """How the time series are stored."""

    PLAIN = "plain"
    TIMESCALE = "timescale"


RequestedMode = Literal["auto", "plain", "timescale"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file, as it applies to a storage mode."""

    version: int
    name: str
    variant: StorageMode | None
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}" + (f".{self.variant}" if self.variant else "")


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What ``migrate`` found and did."""

    mode: StorageMode
    applied: tuple[str, ...]


def load_migrations(mode: StorageMode, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations for a storage mode, in order; every version must exist for both modes."""
    common: dict[int, Path] = {}
    variants: dict[int, dict[StorageMode, Path]] = {}
    names: dict[int, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name[.plain|.timescale].sql")
        version, name = int(match["version"]), match["name"]
        if names.setdefault(version, name) != name:
            raise MigrationError(f"migration {version:04d} has two names: {names[version]} and {name}")
        if match["variant"] is None:
            common[version] = path
        else:
            variants.setdefault(version, {})[StorageMode(match["variant"])] = path
    migrations = []
    for version in sorted(names):
        if version in common and version in variants:
            raise MigrationError(f"migration {version:04d} has both a common file and per-mode files")
        if version in common:
            migrations.append(Migration(version, names[version], None, common[version].read_text()))
        else:
            per_mode = variants[version]
            if set(per_mode) != set(StorageMode):
                raise MigrationError(f"migration {version:04d} needs both a .plain.sql and a .timescale.sql file")
            migrations.append(Migration(version, names[version], mode, per_mode[mode].read_text()))
    return migrations


async def read_storage_mode(conn: Conn) -> StorageMode | None:
    """The recorded storage mode, or None before the first migration."""
    exists = await (await conn.execute("SELECT to_regclass('storage_mode') IS NOT NULL")).fetchone()
    if exists is None or not exists[0]:
        return None
    row = await (await conn.execute("SELECT mode FROM storage_mode")).fetchone()
    return None if row is None else StorageMode(row[0])


async def migrate(conn: Conn, *, mode: RequestedMode = "auto") -> MigrationReport:
    """Bring the schema up to date; safe to call from several processes at once (advisory lock).

    ``mode`` only matters on the first run: ``auto`` uses TimescaleDB when the extension can be
    created. Asking for a mode that differs from the recorded one is an error.
    """
    async with autocommit(conn):
        await conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, MIGRATION_LOCK))
        try:
            await conn.execute(_BOOTSTRAP)
            chosen = await _storage_mode(conn, mode)
            applied = await _apply_pending(conn, load_migrations(chosen))
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, MIGRATION_LOCK))
    if applied:
        log.info("database migrated (%s mode): %s", chosen, ", ".join(applied))
    return MigrationReport(chosen, tuple(applied))


async def _storage_mode(conn: Conn, requested: RequestedMode) -> StorageMode:
    recorded = await read_storage_mode(conn)
    if recorded is not None:
        if requested != "auto" and requested != recorded:
            raise MigrationError(f"the database uses {recorded} storage; it cannot switch to {requested}")
        return recorded
    chosen = StorageMode.PLAIN
    if requested != "plain":
        unusable = await _timescale_unusable(conn)
        if unusable is None:
            try:
                async with conn.transaction():
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                chosen = StorageMode.TIMESCALE
            except psycopg.Error as err:
                unusable = f"the extension cannot be enabled: {err}"
        if unusable is not None:
            if requested == "timescale":
                raise MigrationError(f"TimescaleDB storage was asked for, but {unusable}")
            if unusable != _NOT_INSTALLED:  # installed for a reason: say why it is not used
                log.warning("TimescaleDB cannot be used: %s; using plain partitions", unusable)
    await conn.execute("INSERT INTO storage_mode (mode) VALUES (%s)", (chosen.value,))
    log.info("storage mode chosen: %s", chosen)
    return chosen


async def _timescale_unusable(conn: Conn) -> str | None:
    """Why CREATE EXTENSION timescaledb cannot work here, or None when it can be tried.

    Checked beforehand because on a server that has the files but does not preload the library the
    statement ends the session (FATAL), and the plain fallback would be left without a connection.
    """
    # The loader that shared_preload_libraries brings in defines timescaledb.disable_load; unlike
    # shared_preload_libraries itself, any role may read it.
    row = await (
        await conn.execute(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb'), "
            "current_setting('timescaledb.disable_load', true) IS NOT NULL"
        )
    ).fetchone()
    assert row is not None
    available, preloaded = row
    if not available:
        return _NOT_INSTALLED
    if not preloaded:
        return "the server does not preload it (shared_preload_libraries = 'timescaledb')"
    return None


async def _apply_pending(conn: Conn, migrations: list[Migration]) -> list[str]:
    rows = await (await conn.execute("SELECT version, checksum FROM schema_migrations")).fetchall()
    done = {version: checksum for version, checksum in rows}
    applied = []
    for migration in migrations:
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.label} was edited after it was applied; add a new one instead"
                )
            continue
        try:
            async with conn.transaction():
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, variant, checksum) VALUES (%s, %s, %s, %s)",
                    (migration.version, migration.name, migration.variant, migration.checksum),
                )
        except psycopg.Error as err:
            raise MigrationError(f"migration {migration.label} failed: {err}") from err
        applied.append(migration.label)
    unknown = sorted(set(done) - {m.version for m in migrations})
    if unknown:
        log.warning("the database has migrations this code does not know: %s (newer code ran here?)", unknown)
    return applied

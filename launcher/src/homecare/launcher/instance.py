"""One ``homecare run`` per data folder and per port: a second one refuses at once, naming the one that runs.

Exceptions::

    AlreadyRunning       another instance holds this data folder, or a port this one needs (message names both)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Final

from homecare.storage.errors import HomecareError

LOCK_FILE: Final = "run.lock"
_LISTEN: Final = "0A"  # the LISTEN state in /proc/net/tcp


class AlreadyRunning(HomecareError):
    """Another ``homecare run`` (or another program) holds what this one needs; nothing was started or touched."""


@dataclass(frozen=True, slots=True)
class Port:
    """A TCP port the instance will listen on, what for, and the setting that moves it."""

    host: str
    port: int
    what: str
    setting: str


def claim(data_dir: Path, ports: list[Port]) -> IO[str]:
    """Lock the data folder for this process and check that its ports are free; the returned file holds the lock
    until it is closed or the process ends. Raises AlreadyRunning, naming the running instance and its pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    lock = path.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        running = lock.read()
        lock.close()
        raise AlreadyRunning(_running_here(data_dir, running)) from None
    try:
        for port in ports:
            _check_free(port)
    except AlreadyRunning:
        lock.close()
        raise
    lock.seek(0)
    lock.truncate()
    json.dump(
        {"pid": os.getpid(), "started": datetime.now().isoformat(timespec="seconds")}
        | {port.what: f"{port.host}:{port.port}" for port in ports},
        lock,
    )
    lock.flush()
    return lock


def _running_here(data_dir: Path, text: str) -> str:
    try:
        running = json.loads(text)
        pid = int(running.pop("pid"))
        started = running.pop("started")
    except (ValueError, KeyError, TypeError):
        return f"another homecare run is starting with the data folder {data_dir}; stop it first"
    where = ", ".join(f"{what} on {address}" for what, address in running.items())
    return (
        f"already running with the data folder {data_dir}: pid {pid}, since {started} ({where}); "
        f"stop it first (Ctrl-C in its terminal, or kill {pid})"
    )


def _check_free(port: Port) -> None:
    family = socket.AF_INET6 if ":" in port.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no obstacle
        try:
            probe.bind((port.host, port.port))
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
        else:
            return
    holder = _listener(port.port)
    by = f"pid {holder[0]} ({holder[1]})" if holder else "another program"
    raise AlreadyRunning(
        f"port {port.port} for the {port.what} ({port.host}) is in use by {by}: stop it, or set {port.setting} "
        "to another port"
    )


def _listener(port: int) -> tuple[int, str] | None:
    """The process listening on this TCP port and its command line, when this user may see it (Linux /proc)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in sockets:
                pid = int(fd.parts[2])
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return pid, command.strip()[:120]
        except OSError:
            continue
    return None

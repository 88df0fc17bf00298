"""A gateway's MQTT client id from a numbered pool, so that whatever replaces a dead gateway resumes its session."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

import psycopg

log = logging.getLogger(__name__)

POOL_SIZE: Final = 1000
CHECK_INTERVAL_S: Final = 5.0


class ClientIdPool:
    """Client ids ``<prefix>-0``, ``-1``, … each held by one running gateway through a PostgreSQL advisory lock
    on a connection of its own; a gateway takes the lowest free one.

    A gateway killed without stopping leaves its persistent session, and the share of a shared subscription
    the broker keeps queueing for it, under its client id. Its database connection ends with the process, so
    its id is free at once and the next gateway to start (a Deployment's new pod, a restarted container,
    under whatever name) takes it and resumes the session instead of stranding it until it expires. If the
    connection is lost while the gateway runs (a database restart), the id is taken again; if another
    gateway has it by then, `on_lost` is called: the gateway stops rather than fight over the client id, and
    its supervisor starts it again with a free one.
    """

    def __init__(self, dsn: str, prefix: str, on_lost: Callable[[], None]) -> None:
        self._dsn = dsn
        self._prefix = prefix
        self._on_lost = on_lost
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._slot: int | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def take(self) -> str:
        """Hold the lowest free id and return it; keep holding it until release()."""
        self._conn = self._connect()
        for slot in range(POOL_SIZE):
            if self._lock(slot):
                self._slot = slot
                break
        else:
            raise RuntimeError(f"all {POOL_SIZE} gateway client ids {self._prefix}-N are held")
        self._watcher = threading.Thread(target=self._watch, name="client-id-pool", daemon=True)
        self._watcher.start()
        return self.client_id

    @property
    def client_id(self) -> str:
        assert self._slot is not None, "take() first"
        return f"{self._prefix}-{self._slot}"

    def release(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(CHECK_INTERVAL_S + 5)
        if self._conn is not None:
            self._conn.close()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        # The server notices a gateway whose host vanished (no FIN, no RST) within about 10 + 3 × 5 s.
        conn.execute("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3")
        return conn

    def _lock(self, slot: int) -> bool:
        assert self._conn is not None
        row = self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", (self._prefix, slot)).fetchone()
        return bool(row and row[0])

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_INTERVAL_S):
            try:
                assert self._conn is not None
                self._conn.execute("SELECT 1")
                continue
            except psycopg.Error as err:
                log.warning("lost the database connection holding client id %s: %s", self.client_id, err)
            self._retake()

    def _retake(self) -> None:
        """Take the same id again once the database answers; stop this gateway if another one has it."""
        assert self._slot is not None
        while not self._stop.is_set():
            try:
                if self._conn is not None:
                    self._conn.close()
                self._conn = self._connect()
                if self._lock(self._slot):
                    log.info("client id %s held again", self.client_id)
                    return
                log.error("client id %s was taken by another gateway meanwhile: stopping this one", self.client_id)
                self._on_lost()
                return
            except psycopg.Error:
                self._stop.wait(1.0)

"""Enrolled devices known to the gateway, refreshed on the database's change notifications."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

DEVICES_CHANNEL = "homecare_devices"
_FULL_RELOAD_S = 60.0
# A uid looked up in the database and not found is not looked up again for this long, so a stream of
# messages from a revoked or unknown device costs one query a second, not one a message.
_MISS_RECHECK_S = 1.0
_MISSES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class EnrolledDevice:
    """What the hot path needs to know about a device."""

    id: int
    uid: str
    kind: str
    resident_id: int | None


class DeviceRegistry:
    """A uid → device map swapped whole on reload, so readers never lock."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._devices: dict[str, EnrolledDevice] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lookup_lock = threading.Lock()
        self._lookup_conn: psycopg.Connection | None = None
        self._missed: dict[str, float] = {}

    def get(self, uid: str) -> EnrolledDevice | None:
        """The active (enrolled, not revoked) device with this uid. A uid missing from the map is looked up
        in the database before it is refused: a device enrolled a moment ago may publish before the change
        notification has reloaded the map, and its first message (perhaps an alarm) must not be refused."""
        device = self._devices.get(uid)
        return device if device is not None else self._look_up(uid)

    def _look_up(self, uid: str) -> EnrolledDevice | None:
        with self._lookup_lock:
            now = time.monotonic()
            if now - self._missed.get(uid, -_MISS_RECHECK_S) < _MISS_RECHECK_S:
                return None
            try:
                if self._lookup_conn is None or self._lookup_conn.closed:
                    self._lookup_conn = psycopg.connect(self._dsn, autocommit=True)
                row = self._lookup_conn.execute(
                    "SELECT id, uid, kind, resident_id FROM devices WHERE uid = %s AND revoked_at IS NULL", (uid,)
                ).fetchone()
            except psycopg.Error as err:
                log.warning("device registry: looking up %s failed: %s", uid, err)
                if self._lookup_conn is not None:
                    self._lookup_conn.close()
                self._lookup_conn = None
                row = None
            if row is None:
                if len(self._missed) >= _MISSES_KEPT:
                    self._missed.clear()
                self._missed[uid] = now
                return None
            device = EnrolledDevice(*row)
            self._devices = {**self._devices, uid: device}
            return device

    def __len__(self) -> int:
        return len(self._devices)

    def load(self) -> None:
        """Read every active device now."""
        with psycopg.connect(self._dsn) as conn:
            self._devices = _read_devices(conn)
        log.info("device registry: %d active devices", len(self._devices))

    def start(self) -> None:
        """Load, then follow changes in a background thread (LISTEN, plus a periodic full reload)."""
        self.load()
        self._thread = threading.Thread(target=self._follow, name="device-registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lookup_lock:
            if self._lookup_conn is not None:
                self._lookup_conn.close()
                self._lookup_conn = None

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {DEVICES_CHANNEL}")
                    self._devices = _read_devices(conn)
                    loaded_at = time.monotonic()
                    while not self._stop.is_set():
                        # Short waits so stop() is prompt; any change reloads the whole map (enrolment
                        # changes are rare and the map is small), and a burst of them (a CSV import)
                        # is coalesced into one reload.
                        changed = any(True for _ in conn.notifies(timeout=1.0, stop_after=1))
                        if changed:
                            for _ in conn.notifies(timeout=0.2):
                                pass
                        if changed or time.monotonic() - loaded_at > _FULL_RELOAD_S:
                            self._devices = _read_devices(conn)
                            loaded_at = time.monotonic()
            except psycopg.Error as err:
                if not self._stop.is_set():
                    log.warning("device registry: %s; retrying in 2 s", err)
                self._stop.wait(2)


def _read_devices(conn: psycopg.Connection) -> dict[str, EnrolledDevice]:
    rows = conn.execute("SELECT id, uid, kind, resident_id FROM devices WHERE revoked_at IS NULL").fetchall()
    return {uid: EnrolledDevice(id, uid, kind, resident_id) for id, uid, kind, resident_id in rows}

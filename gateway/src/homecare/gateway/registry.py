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

    def get(self, uid: str) -> EnrolledDevice | None:
        """The active (enrolled, not revoked) device with this uid."""
        return self._devices.get(uid)

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

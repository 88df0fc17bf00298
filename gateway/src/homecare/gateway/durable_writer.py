"""Writes events, location fixes, IMU bursts, heartbeats and presence at once, then acknowledges them to the device."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from homecare.contracts.codec import printable
from homecare.contracts.messages import (
    DEFAULT_PRIORITY,
    AckStatus,
    Event,
    Fix,
    Heartbeat,
    ImuBurst,
    LocationFix,
    Presence,
)
from homecare.gateway.metrics import GatewayMetrics
from homecare.gateway.registry import EnrolledDevice
from homecare.gateway.telemetry_writer import DeadLetter, Delivery, store_dead_letters

log = logging.getLogger(__name__)

Durable = Event | LocationFix | ImuBurst | Heartbeat | Presence


@dataclass(frozen=True, slots=True)
class Item:
    """One validated message from an enrolled device, waiting to be made durable."""

    device: EnrolledDevice
    message: Durable
    delivery: Delivery | None
    received_at: datetime
    topic: str
    payload: bytes
    dropped: dict[str, str] = field(default_factory=dict)  # an alarm's fields left out, and why


ReplyToDevice = Callable[[str, int, AckStatus, str | None], None]
Reply = tuple[str, int, AckStatus, str | None]


class DurableWriter:
    """Group-commits whatever is queued, in arrival order, and acknowledges only after the commit."""

    def __init__(
        self,
        dsn: str,
        metrics: GatewayMetrics,
        acknowledge: Callable[[Iterable[Delivery]], None],
        reply: ReplyToDevice,
    ) -> None:
        self._dsn = dsn
        self._metrics = metrics
        self._acknowledge = acknowledge
        self._reply = reply
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="durable-writer", daemon=True)

    def add(self, item: Item) -> None:
        self._queue.put(item)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        items: list[Item] = []
        stopping = False
        while not (stopping and not items):
            if not items:
                first = self._queue.get()
                if first is None:
                    break
                items.append(first)
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                items.append(more)
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._dsn)
                started = time.perf_counter()
                replies = self._write_all(conn, items)
                self._metrics.flush.labels("durable").observe(time.perf_counter() - started)
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                # Alarms are never dropped: keep them and retry until the database takes them.
                log.warning("durable writer: %s; retrying %d messages", err, len(items))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.5)
                continue
            self._after_commit(items, replies)
            items = []
        if conn is not None:
            conn.close()

    def _after_commit(self, items: list[Item], replies: list[Reply]) -> None:
        now = time.time()
        for item in items:
            channel = type(item.message).__name__.lower()
            self._metrics.stored.labels(channel).inc()
            if isinstance(item.message, Event):
                self._metrics.latency.labels("event").observe(max(0.0, now - item.message.ts / 1000))
        for uid, seq, status, reason in replies:
            self._reply(uid, seq, status, reason)
        deliveries = [item.delivery for item in items if item.delivery is not None]
        if deliveries:
            self._acknowledge(deliveries)

    def _write_all(self, conn: psycopg.Connection, items: list[Item]) -> list[Reply]:
        """One transaction for the group; if the database refuses one message, isolate it."""
        try:
            return self._write(conn, items)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as err:
            if len(items) == 1:
                return self._refuse(conn, items[0], err)
            log.warning("durable writer: group refused (%s); writing one by one", err)
            replies = []
            for item in items:
                replies += self._write_all(conn, [item])
            return replies

    def _refuse(self, conn: psycopg.Connection, item: Item, err: psycopg.Error) -> list[Reply]:
        """Dead-letter a message the database refuses, and tell the device so it stops resending."""
        log.error("durable writer: %s from %s refused: %s", type(item.message).__name__, item.device.uid, err)
        letter = DeadLetter(
            printable(item.topic), item.device.uid, f"database refused the message: {err}"[:500], item.payload
        )
        with conn.transaction():
            store_dead_letters(conn, [letter])
        self._metrics.dead_letters.labels("storage").inc()
        if isinstance(item.message, Event):
            return [(item.device.uid, item.message.seq, AckStatus.REJECTED, "the platform could not store it")]
        return []

    def _write(self, conn: psycopg.Connection, items: list[Item]) -> list[Reply]:
        replies: list[Reply] = []
        with conn.transaction(), conn.cursor() as cur:
            for item in items:
                message, device = item.message, item.device
                if isinstance(message, Event):
                    refused = _unknown_schedule(cur, device, message)
                    if refused is not None:
                        store_dead_letters(conn, [DeadLetter(printable(item.topic), device.uid, refused, item.payload)])
                        self._metrics.dead_letters.labels("unknown_schedule").inc()
                        replies.append((device.uid, message.seq, AckStatus.REJECTED, refused))
                        continue
                    cur.execute(
                        "INSERT INTO events (device_id, resident_id, seq, ts, received_at, kind, priority, room, "
                        "confidence, cancels_seq, carer_code, schedule_id, dose_due, dropped) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (device_id, seq) DO NOTHING",
                        (
                            device.id,
                            device.resident_id,
                            message.seq,
                            _time(message.ts),
                            item.received_at,
                            message.kind.value,
                            int(DEFAULT_PRIORITY[message.kind]),
                            message.room,
                            message.confidence,
                            message.cancels_seq,
                            message.carer_code,
                            message.schedule_id,
                            None if message.dose_due is None else _time(message.dose_due),
                            Jsonb(item.dropped) if item.dropped else None,
                        ),
                    )
                    status = AckStatus.STORED if cur.rowcount == 1 else AckStatus.DUPLICATE
                    if status is AckStatus.DUPLICATE:
                        self._metrics.duplicates.labels("event").inc()
                    elif message.fix is not None:  # the watch's last fix, on the track beside its reports
                        _insert_fix(cur, item, message, message.fix, moving=False)
                    replies.append((device.uid, message.seq, status, _dropped_reason(item.dropped)))
                elif isinstance(message, LocationFix):
                    _insert_fix(cur, item, message, message.fix, moving=message.moving)
                elif isinstance(message, ImuBurst):
                    cur.execute(
                        "INSERT INTO imu_bursts (device_id, resident_id, seq, event_seq, ts, t0, fs, "
                        "acc_full_scale_mg, acc, gyr, received_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id, seq) DO NOTHING",
                        (
                            device.id,
                            device.resident_id,
                            message.seq,
                            message.event_seq,
                            _time(message.ts),
                            _time(message.t0),
                            message.fs,
                            message.acc_full_scale_mg,
                            _int16_bytes(message.acc),
                            None if message.gyr is None else _int16_bytes(message.gyr),
                            item.received_at,
                        ),
                    )
                elif isinstance(message, Heartbeat):
                    cur.execute(
                        "INSERT INTO heartbeats (ts, device_id, seq, battery, charging, rssi, firmware, uptime_s, "
                        "heartbeat_interval_s, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (
                            _time(message.ts),
                            device.id,
                            message.seq,
                            message.battery,
                            message.charging,
                            message.rssi,
                            message.firmware,
                            message.uptime_s,
                            message.heartbeat_interval_s,
                            item.received_at,
                        ),
                    )
                    cur.execute(
                        "INSERT INTO device_state (device_id, battery, charging, rssi, firmware, last_heartbeat_at, "
                        "last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO UPDATE SET "
                        "battery = excluded.battery, charging = excluded.charging, rssi = excluded.rssi, "
                        "firmware = excluded.firmware, last_heartbeat_at = excluded.last_heartbeat_at, "
                        "last_seen_at = GREATEST(device_state.last_seen_at, excluded.last_seen_at)",
                        (
                            device.id,
                            message.battery,
                            message.charging,
                            message.rssi,
                            message.firmware,
                            item.received_at,
                            item.received_at,
                        ),
                    )
                else:
                    cur.execute(
                        "INSERT INTO device_state (device_id, online, online_changed_at) VALUES (%s, %s, %s) "
                        "ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, online_changed_at = "
                        "CASE WHEN device_state.online IS DISTINCT FROM excluded.online "
                        "THEN excluded.online_changed_at ELSE device_state.online_changed_at END",
                        (device.id, message.online, item.received_at),
                    )
        return replies


def _insert_fix(cur: psycopg.Cursor, item: Item, message: Event | LocationFix, fix: Fix, *, moving: bool) -> None:
    """One position fix of a GPS watch (its location report, or the fix an alarm of it carried)."""
    cur.execute(
        "INSERT INTO location_fixes (device_id, resident_id, seq, ts, received_at, lat, lon, accuracy_m, source, "
        "moving) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id, seq) DO NOTHING",
        (
            item.device.id,
            item.device.resident_id,
            message.seq,
            _time(message.ts),
            item.received_at,
            fix.lat,
            fix.lon,
            fix.accuracy_m,
            fix.source.value,
            moving,
        ),
    )


def _unknown_schedule(cur: psycopg.Cursor, device: EnrolledDevice, event: Event) -> str | None:
    """Why a dose_taken cannot be stored: its schedule is not one of the device's resident's; None when it can."""
    if event.schedule_id is None:
        return None
    cur.execute(
        "SELECT 1 FROM medication_schedules WHERE id = %s AND resident_id = %s",
        (event.schedule_id, device.resident_id),
    )
    if cur.fetchone() is not None:
        return None
    return f"unknown_schedule: medication schedule {event.schedule_id} is not this device's resident's"


def _dropped_reason(dropped: dict[str, str]) -> str | None:
    """What the device hears about the fields left out of its alarm (the ack's reason has 200 characters)."""
    if not dropped:
        return None
    reason = "stored without " + ", ".join(sorted(dropped)) + ": " + "; ".join(dropped.values())
    return reason if len(reason) <= 200 else reason[:199] + "…"


def _time(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _int16_bytes(samples: list[tuple[int, int, int]]) -> bytes:
    return np.asarray(samples, dtype="<i2").tobytes()

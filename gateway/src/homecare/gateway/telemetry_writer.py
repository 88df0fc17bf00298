"""Batches telemetry rows and dead letters into the database with binary COPY, in a thread of its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import errors as pgerrors

from homecare.contracts.messages import AckStatus
from homecare.gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

Row = tuple[datetime, int, int | None, int, float, int]  # ts, device_id, resident_id, metric, value, seq
Delivery = tuple[int, int]  # (connection generation, MQTT message id) of a QoS-1 delivery to acknowledge

COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ("timestamptz", "int4", "int4", "int2", "float8", "int8")
# Rows older than this are past the rollup refresher's late window: mark their hour for recomputation.
LATE_AFTER = timedelta(minutes=4)
LAST_SEEN_EVERY_S = 5.0


@dataclass(slots=True)
class DeadLetter:
    """A refused message, kept whole with the reason it was refused."""

    topic: str
    device_uid: str | None
    reason: str
    payload: bytes
    # The refused event's seq, when the device must be told (after the commit) to stop resending it.
    refused_event_seq: int | None = None


@dataclass(slots=True)
class _Batch:
    rows: list[Row] = field(default_factory=list)
    sent_ms: list[int] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


class TelemetryWriter:
    """Collects rows from the MQTT thread and commits them every flush interval or batch size."""

    def __init__(
        self,
        dsn: str,
        metrics: GatewayMetrics,
        acknowledge: Callable[[Iterable[Delivery]], None],
        reply: Callable[[str, int, AckStatus, str | None], None],
        prepare_storage: Callable[[psycopg.Connection], object],
        *,
        batch_rows: int,
        flush_ms: int,
        max_buffered_rows: int,
    ) -> None:
        self._dsn = dsn
        self._metrics = metrics
        self._acknowledge = acknowledge
        self._reply = reply
        self._prepare_storage = prepare_storage
        self._batch_rows = batch_rows
        self._flush_s = flush_ms / 1000
        self._max_buffered_rows = max_buffered_rows
        self._lock = threading.Lock()
        self._pending = _Batch()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_seen: dict[int, datetime] = {}
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)

    # --- called from the MQTT thread -------------------------------------------------------------

    def add(self, rows: list[Row], sent_ms: int, delivery: Delivery | None) -> bool:
        """Queue one message's rows; False when the buffer is full and the rows were dropped."""
        with self._lock:
            pending = self._pending
            if len(pending.rows) >= self._max_buffered_rows:
                self._metrics.overflow.inc(len(rows))
                return False
            pending.rows.extend(rows)
            pending.sent_ms.append(sent_ms)
            if delivery is not None:
                pending.deliveries.append(delivery)
            size = len(pending.rows)
        if size >= self._batch_rows:
            self._wake.set()
        return True

    def add_dead_letter(self, letter: DeadLetter, delivery: Delivery | None) -> None:
        with self._lock:
            self._pending.dead.append(letter)
            if delivery is not None:
                self._pending.deliveries.append(delivery)

    def acknowledge_later(self, delivery: Delivery) -> None:
        """Acknowledge a delivery with the next commit (a dropped duplicate, for instance)."""
        with self._lock:
            self._pending.deliveries.append(delivery)

    def seen(self, device_id: int, at: datetime) -> None:
        self._last_seen[device_id] = at

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Flush what is buffered, then end the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    # --- the writer thread -----------------------------------------------------------------------

    def _take(self) -> _Batch:
        with self._lock:
            batch, self._pending = self._pending, _Batch()
        self._metrics.buffered_rows.set(0)
        return batch

    def _put_back(self, batch: _Batch) -> None:
        """Return a batch that could not be written to the front of the buffer, to retry it."""
        with self._lock:
            pending = self._pending
            batch.rows.extend(pending.rows)
            batch.sent_ms.extend(pending.sent_ms)
            batch.dead.extend(pending.dead)
            batch.deliveries.extend(pending.deliveries)
            self._pending = batch
        self._metrics.buffered_rows.set(len(batch.rows))

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        last_seen_flushed = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            if not stopping:
                self._wake.wait(self._flush_s)
                self._wake.clear()
            batch = self._take()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._dsn)
                if batch.rows or batch.dead:
                    started = time.perf_counter()
                    self._write(conn, batch)
                    self._metrics.flush.labels("telemetry").observe(time.perf_counter() - started)
                if time.monotonic() - last_seen_flushed > LAST_SEEN_EVERY_S or stopping:
                    self.flush_last_seen(conn)
                    last_seen_flushed = time.monotonic()
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                log.warning("telemetry writer: database unavailable (%s); retrying", err)
                self._put_back(batch)
                if conn is not None:
                    conn.close()
                conn = None
                if stopping:
                    break
                self._stop.wait(1.0)
                continue
            for letter in batch.dead:
                if letter.refused_event_seq is not None and letter.device_uid is not None:
                    self._reply(letter.device_uid, letter.refused_event_seq, AckStatus.REJECTED, letter.reason[:200])
            if batch.deliveries:
                self._acknowledge(batch.deliveries)
            if stopping:
                break
        if conn is not None:
            conn.close()

    def _write(self, conn: psycopg.Connection, batch: _Batch) -> None:
        try:
            self._write_once(conn, batch)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as err:
            # A row the table refuses (typically no partition for its time yet): prepare the storage
            # and try again; rows refused a second time are dead-lettered, never retried forever.
            log.warning("telemetry writer: batch refused (%s); preparing storage and retrying", err)
            self._prepare_storage(conn)
            try:
                self._write_once(conn, batch)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as again:
                log.error("telemetry writer: batch refused twice, dead-lettering %d rows: %s", len(batch.rows), again)
                self._dead_letter_rows(conn, batch, str(again))

    def _dead_letter_rows(self, conn: psycopg.Connection, batch: _Batch, reason: str) -> None:
        letters = [
            DeadLetter("(stored telemetry row)", None, f"database refused the row: {reason}"[:500], repr(row).encode())
            for row in batch.rows
        ]
        with conn.transaction():
            store_dead_letters(conn, letters + batch.dead)
        self._metrics.dead_letters.labels("storage").inc(len(letters))

    def _write_once(self, conn: psycopg.Connection, batch: _Batch) -> None:
        try:
            with conn.transaction():
                self._copy(conn, batch.rows)
                store_dead_letters(conn, batch.dead)
                self._mark_late(conn, batch.rows)
            stored = len(batch.rows)
        except pgerrors.UniqueViolation:
            # A resend the in-memory window could not catch (after a gateway restart): let the
            # unique index drop exactly the duplicates.
            with conn.transaction():
                stored = self._insert_skipping_duplicates(conn, batch.rows)
                store_dead_letters(conn, batch.dead)
                self._mark_late(conn, batch.rows)
            if stored < len(batch.rows):
                self._metrics.duplicates.labels("telemetry").inc(len(batch.rows) - stored)
        self._metrics.stored_points.inc(stored)
        now_ms = time.time() * 1000
        observe = self._metrics.latency.labels("telemetry").observe
        for sent in batch.sent_ms:
            observe(max(0.0, (now_ms - sent) / 1000))

    @staticmethod
    def _copy(conn: psycopg.Connection, rows: list[Row]) -> None:
        if not rows:
            return
        with conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
            copy.set_types(list(COPY_TYPES))
            for row in rows:
                copy.write_row(row)

    @staticmethod
    def _insert_skipping_duplicates(conn: psycopg.Connection, rows: list[Row]) -> int:
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS telemetry_staging "
            "(ts timestamptz, device_id int, resident_id int, metric smallint, value float8, seq bigint) "
            "ON COMMIT DELETE ROWS"
        )
        with conn.cursor() as cur:
            with cur.copy(COPY_TELEMETRY.replace("telemetry (", "telemetry_staging (", 1)) as copy:
                copy.set_types(list(COPY_TYPES))
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                "INSERT INTO telemetry (ts, device_id, resident_id, metric, value, seq) "
                "SELECT DISTINCT ON (device_id, ts, metric, seq) ts, device_id, resident_id, metric, value, seq "
                "FROM telemetry_staging ON CONFLICT DO NOTHING"
            )
            return cur.rowcount

    @staticmethod
    def _mark_late(conn: psycopg.Connection, rows: list[Row]) -> None:
        cutoff = datetime.now(UTC) - LATE_AFTER
        hours = {
            (resident, ts.replace(minute=0, second=0, microsecond=0))
            for ts, _, resident, _, _, _ in rows
            if resident is not None and ts < cutoff
        }
        if hours:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO rollup_dirty (resident_id, hour) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    sorted(hours),
                )

    def flush_last_seen(self, conn: psycopg.Connection) -> None:
        """Write the devices' last-seen times, in device id order: two gateways writing the same rows in
        different orders would deadlock."""
        seen, self._last_seen = self._last_seen, {}
        if not seen:
            return
        ids = sorted(seen)
        with conn.transaction():
            conn.execute(
                "INSERT INTO device_state (device_id, last_seen_at) "
                "SELECT * FROM unnest(%s::int[], %s::timestamptz[]) "
                "ON CONFLICT (device_id) DO UPDATE SET last_seen_at = "
                "GREATEST(device_state.last_seen_at, excluded.last_seen_at)",
                (ids, [seen[device_id] for device_id in ids]),
            )


def store_dead_letters(conn: psycopg.Connection, dead: list[DeadLetter]) -> None:
    """Insert dead letters in the connection's transaction (their text made printable by whoever wrote them)."""
    if not dead:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO dead_letters (topic, device_uid, reason, payload) VALUES (%s, %s, %s, %s)",
            [(d.topic, d.device_uid, d.reason, d.payload) for d in dead],
        )

"""The alarm pipeline worker: stored events and IMU bursts → signals → incidents; escalation timers.

One loop per backend process, woken by NOTIFY (``homecare_events``, ``homecare_imu_bursts``) and by a
short poll for timers. Downlink commands it queues in ``device_commands`` are sent by the gateway.
Everything it does is keyed in the database (``pipeline_inbox``, filled by triggers as items commit,
``pipeline_processed``, ``incident_timers``), so a restart resumes where it stopped, nothing that commits
late is skipped, and even two backends running it at once would apply each item once (advisory locks and the
incident-writes lock serialise them). With several API replicas only one runs it, the holder of the leader lock
(``alarms/leader.py``); the others stand by and one takes over when it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import psycopg
from psycopg.rows import dict_row

from homecare.backend.alarms.escalation import fire_due_timers
from homecare.backend.alarms.leader import Leadership, LeadershipLost, Role
from homecare.backend.alarms.settings import AlarmSettings
from homecare.backend.alarms.signals import recovery_window, signal_for_event
from homecare.backend.care import carers
from homecare.backend.detection.config import SettingsBook, load_settings
from homecare.backend.detection.fall_confirmation import review_burst
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import DEFAULT_PRIORITY, Cause, Signal, SignalKind
from homecare.backend.incidents import repository as incidents_repo
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.models import CLOSED, Incident, why
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.backend.medication import service as medication
from homecare.backend.metrics import BackendMetrics
from homecare.backend.notifications.service import notify_incident
from homecare.backend.settings import Settings
from homecare.storage.connections import Conn
from homecare.storage.migrate import LOCK_NAMESPACE

log = logging.getLogger(__name__)

CHANNELS: Final = ("homecare_events", "homecare_imu_bursts")
FALL_MODEL: Final = "fall-model"  # the actor of the fall model's verdicts on the audit trail
# One pipeline at a time applies each source, in id order (an "I'm OK" after its fall).
PIPELINE_LOCKS: Final = {"event": 31, "imu_burst": 32}


class Clock(Protocol):
    """Where the pipeline and the incident actions read the time; tests drive a manual one."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: escalation tests advance it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    poll_s: float = 0.2  # how often due timers are checked (by the pipeline's clock)
    periodic_every_s: float = 30.0  # run_periodic_detectors cadence (by the pipeline's clock)
    batch: int = 200


_EVENTS_SQL: Final = """
SELECT e.id, e.device_id, e.resident_id, e.seq, e.ts, e.received_at, e.kind, e.room, e.confidence, e.cancels_seq,
       e.carer_code, e.schedule_id, e.dose_due, e.dropped, d.kind AS device_kind, r.fall_recovery_window_s
FROM pipeline_inbox i JOIN events e ON e.id = i.item_id
JOIN devices d ON d.id = e.device_id LEFT JOIN residents r ON r.id = e.resident_id
WHERE i.source = 'event'
ORDER BY i.item_id LIMIT %(limit)s
"""

_BURSTS_SQL: Final = """
SELECT b.id, b.device_id, b.event_seq, e.id AS event_id, p.incident_id, (p.item_id IS NOT NULL) AS event_done,
       b.received_at < now() - interval '2 minutes' AS stale
FROM pipeline_inbox i JOIN imu_bursts b ON b.id = i.item_id
LEFT JOIN events e ON e.device_id = b.device_id AND e.seq = b.event_seq
LEFT JOIN pipeline_processed p ON p.source = 'event' AND p.item_id = e.id
WHERE i.source = 'imu_burst'
ORDER BY i.item_id LIMIT %(limit)s
"""


@dataclass
class AlarmPipeline:
    """The worker. ``run`` until ``stop`` is set; the ``*_once`` steps are public for tests and tools."""

    dsn: str
    escalation: Escalation
    clock: Clock
    config: PipelineConfig = field(default_factory=PipelineConfig)
    review_burst: Callable[..., Awaitable[Signal | None]] | None = None
    resident_settings: Callable[[Conn], Awaitable[SettingsBook]] | None = None  # per-resident priorities, windows
    periodic: Callable[..., Awaitable[list[Signal]]] | None = None
    metrics: BackendMetrics = field(default_factory=BackendMetrics)
    carer_late_after: timedelta | None = None  # a booked visit not checked in this long after its start is alerted
    # Called inside each transaction that acts (Leadership.fence): raises LeadershipLost once this process no longer
    # holds the leader lock, so an old leader stops at its next step. None: the pipeline runs alone (tests, tools).
    fence: Callable[[Conn], Awaitable[None]] | None = None
    dose_window: timedelta | None = None  # a dose not confirmed this long after it was due is told to the family
    dose_station_after: timedelta = timedelta(minutes=30)  # … and this long after that to the station
    _last_periodic: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Process until stopped: the event loop and, beside it, the periodic detectors (which may be slow
        and must never delay a device alarm), each on its own connection, each restarted on failure."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._supervised("events", self._serve, stop))
            if self.periodic is not None:
                group.create_task(self._supervised("periodic detectors", self._periodic_loop, stop))

    async def _supervised(
        self, name: str, body: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                await body(stop)
            except (psycopg.OperationalError, OSError) as err:
                log.warning("alarm pipeline (%s) lost its database connection (%s); retrying", name, err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def _periodic_loop(self, stop: asyncio.Event) -> None:
        """The detectors in a thread with an event loop of its own: their Python work (numpy, model fits)
        would otherwise hold the alarm path's loop for hundreds of milliseconds, whereas a thread yields
        the interpreter every few milliseconds."""
        stopped = threading.Event()
        relay = asyncio.create_task(_relay_stop(stop, stopped))
        try:
            await asyncio.to_thread(asyncio.run, self._periodic_in_thread(stopped))
        finally:
            relay.cancel()

    async def _periodic_in_thread(self, stopped: threading.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            while not stopped.is_set():
                try:
                    await self.run_periodic_if_due(conn, now=self.clock.now())
                except (psycopg.OperationalError, OSError, LeadershipLost):
                    raise
                except Exception:
                    log.exception("periodic detectors failed; they run again at the next interval")
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        await conn.rollback()
                await asyncio.to_thread(stopped.wait, min(1.0, self.config.poll_s * 5))

    async def _serve(self, stop: asyncio.Event) -> None:
        async with (
            await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as listen,
            await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as work,
        ):
            for channel in CHANNELS:
                await listen.execute(f"LISTEN {channel}")
            while not stop.is_set():
                await self.pass_once(work)
                # Wake on the first notification or after poll_s, whichever is sooner; drain the rest.
                async for _ in listen.notifies(timeout=self.config.poll_s, stop_after=1):
                    pass

    async def pass_once(self, conn: Conn) -> None:
        """One pass: new events, new bursts, due timers, booked visits whose carer has not arrived.

        Each stage is isolated: a failing stage must not hold back the others.
        """
        await self._fenced(conn)
        stages: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("events", lambda: self.process_all_events(conn, now=self.clock.now())),
            ("bursts", lambda: self.process_bursts_once(conn, now=self.clock.now())),
            ("timers", lambda: fire_due_timers(conn, now=self.clock.now(), escalation=self.escalation)),
        ]
        if self.carer_late_after is not None:
            late_after = self.carer_late_after
            stages.append(
                (
                    "carer non-arrivals",
                    lambda: carers.raise_non_arrivals(
                        conn, now=self.clock.now(), late_after=late_after, escalation=self.escalation
                    ),
                )
            )
        if self.dose_window is not None:
            window, station_after = self.dose_window, self.dose_station_after
            stages.append(
                (
                    "medication",
                    lambda: medication.remind_and_escalate(
                        conn,
                        now=self.clock.now(),
                        window=window,
                        station_after=station_after,
                        escalation=self.escalation,
                    ),
                )
            )
        for name, stage in stages:
            try:
                await stage()
            except (psycopg.OperationalError, OSError, LeadershipLost):
                raise
            except Exception:
                log.exception("alarm pipeline stage %s failed; it is retried on the next pass", name)
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    await conn.rollback()

    async def process_all_events(self, conn: Conn, *, now: datetime) -> int:
        total = 0
        while (count := await self.process_events_once(conn, now=now)) > 0:
            total += count
            if count < self.config.batch:
                break
        return total

    # --- events ----------------------------------------------------------------------------------

    async def process_events_once(self, conn: Conn, *, now: datetime) -> int:
        """Apply the next batch of unprocessed events in one transaction; how many."""
        results: Counter[str] = Counter()
        async with conn.transaction():
            await _lock(conn, "event")
            await self._fenced(conn)
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(_EVENTS_SQL, {"limit": self.config.batch})
                rows = await cur.fetchall()
            book = await self.resident_settings(conn) if rows and self.resident_settings else None
            for row in rows:
                try:
                    # The platform's clocks start when the gateway stored the event, not when it is
                    # processed: after a restart the recovery window and the acknowledge clock are
                    # not extended by the time the backend was down.
                    at = min(now, row["received_at"])
                    async with conn.transaction():
                        incident_id, outcome = await self._apply_event(conn, row, now=at, book=book)
                except (psycopg.OperationalError, OSError):
                    # The database failed, not the event (its disk full, its connection lost): recorded as
                    # failed, the alarm would never open its incident. The whole batch is retried instead.
                    raise
                except Exception as err:  # one bad event must not stall every alarm behind it
                    log.exception("event %d could not be applied", row["id"])
                    incident_id, outcome = None, f"failed: {type(err).__name__}: {err}"[:300]
                await conn.execute(
                    "INSERT INTO pipeline_processed (source, item_id, incident_id, outcome, processed_at) "
                    "VALUES ('event', %s, %s, %s, %s)",
                    (row["id"], incident_id, outcome, now),
                )
                results[_result(outcome)] += 1
            await _applied(conn, "event", [row["id"] for row in rows])
        self._count("event", results)
        return len(rows)

    async def _fenced(self, conn: Conn) -> None:
        if self.fence is not None:
            await self.fence(conn)

    def _count(self, source: str, results: Counter[str]) -> None:
        """Count what a committed batch applied (a batch rolled back and retried is counted once)."""
        for result, count in results.items():
            self.metrics.pipeline_processed.labels(source, result).inc(count)

    async def _apply_event(
        self, conn: Conn, row: dict[str, Any], *, now: datetime, book: Any = None
    ) -> tuple[int | None, str]:
        if row["resident_id"] is None:
            return None, "unassigned device"
        if row["kind"] == "im_ok":
            return await self._apply_im_ok(conn, row, now=now)
        if row["kind"] == "carer_present":
            return None, await carers.record_presence(conn, event=row, at=now, escalation=self.escalation)
        if row["kind"] == "dose_taken":
            return None, await medication.record_dose_taken(conn, event=row, at=now, escalation=self.escalation)
        settings = None if book is None else book.for_resident(row["resident_id"])
        window = recovery_window(
            settings,
            column=row["fall_recovery_window_s"],
            policy_default=self.escalation.policies.fall_recovery_window_s,
        )
        priority = None if settings is None else settings.priority
        signal = signal_for_event(row, recovery_window_s=window, priority=priority)
        if signal is None:
            return None, "informational"
        applied = await incidents.apply_signal(conn, signal=signal, now=now, escalation=self.escalation)
        return applied.incident_id, applied.change

    async def _apply_im_ok(self, conn: Conn, row: dict[str, Any], *, now: datetime) -> tuple[int | None, str]:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT p.incident_id FROM events e JOIN pipeline_processed p ON p.source = 'event' "
                "AND p.item_id = e.id WHERE e.device_id = %s AND e.seq = %s",
                (row["device_id"], row["cancels_seq"]),
            )
            named = await cur.fetchone()
        if named is None or named["incident_id"] is None:
            return None, "im_ok names no incident"
        incident = await incidents_repo.get_incident(conn, incident_id=named["incident_id"])
        if incident is None or incident.status in CLOSED:
            return named["incident_id"], "im_ok after close"
        signal = Signal(
            resident_id=row["resident_id"],
            cause=Cause(incident.cause),
            kind=SignalKind.CANCEL,
            priority=DEFAULT_PRIORITY[Cause(incident.cause)],
            explanation_en=f'"I\'m OK" pressed (seq {row["seq"]}).',
            explanation_zh="按下了“我没事”。",
            detected_at=row["ts"],
            device_id=row["device_id"],
            event_id=row["id"],
        )
        applied = await incidents.apply_signal(conn, signal=signal, now=now, escalation=self.escalation)
        return applied.incident_id, applied.change

    # --- IMU bursts ------------------------------------------------------------------------------

    async def process_bursts_once(self, conn: Conn, *, now: datetime) -> int:
        """Have the model review bursts of pending falls; a burst whose event is not applied yet waits."""
        results: Counter[str] = Counter()
        async with conn.transaction():
            await _lock(conn, "imu_burst")
            await self._fenced(conn)
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(_BURSTS_SQL, {"limit": self.config.batch})
                rows = await cur.fetchall()
            done = []
            for row in rows:
                if not row["event_done"] and (row["event_id"] is not None or not row["stale"]):
                    continue  # its event is not stored or not applied yet (topics race): next pass
                try:
                    async with conn.transaction():
                        outcome = await self._review(conn, row, now=now)
                except (psycopg.OperationalError, OSError):
                    raise  # the database failed, not the burst: retried, as events are
                except Exception as err:
                    log.exception("IMU burst %d could not be reviewed", row["id"])
                    outcome = f"failed: {type(err).__name__}: {err}"[:300]
                await conn.execute(
                    "INSERT INTO pipeline_processed (source, item_id, incident_id, outcome, processed_at) "
                    "VALUES ('imu_burst', %s, %s, %s, %s)",
                    (row["id"], row["incident_id"], outcome, now),
                )
                results[_result(outcome)] += 1
                done.append(row["id"])
            await _applied(conn, "imu_burst", done)
        self._count("imu_burst", results)
        return len(done)

    async def _review(self, conn: Conn, row: dict[str, Any], *, now: datetime) -> str:
        if row["incident_id"] is None:
            return "no incident for its event"
        incident = await incidents_repo.get_incident(conn, incident_id=row["incident_id"])
        if incident is None or incident.status in CLOSED:
            return "incident closed"
        if self.review_burst is None:
            return "no fall model in this build"
        verdict: Signal | None = await self.review_burst(conn, burst_id=row["id"], now=now)
        if verdict is None:
            return "model gave no verdict"
        await self._apply_verdict(conn, incident=incident, verdict=verdict, burst_id=row["id"], now=now)
        return "confirmed" if verdict.cause is Cause.FALL_CONFIRMED else "doubted"

    async def _apply_verdict(
        self, conn: Conn, *, incident: Incident, verdict: Signal, burst_id: int, now: datetime
    ) -> None:
        """Confirm → at least as urgent as the model says; reject → downgraded, never dropped: a human
        still sees it, at the model's lower priority, with its reason."""
        detail = {"burst_id": burst_id, "model_priority": int(verdict.priority), "model_cause": verdict.cause.value}
        if verdict.cause is Cause.FALL_CONFIRMED or verdict.priority <= incident.priority:
            priority, code = min(incident.priority, int(verdict.priority)), "fall_model_confirms"
        else:
            priority, code = int(verdict.priority), "fall_model_doubts"
        because = why(code, priority=priority, zh=verdict.explanation_zh, en=verdict.explanation_en)
        await incidents.reprioritise(
            conn, incident_id=incident.id, priority=priority, now=now, actor=FALL_MODEL, because=because, detail=detail
        )

    # --- periodic detectors and commands --------------------------------------------------------

    async def run_periodic_if_due(self, conn: Conn, *, now: datetime) -> int:
        if self.periodic is None:
            return 0
        last = self._last_periodic
        if last is not None and (now - last).total_seconds() < self.config.periodic_every_s:
            return 0
        self._last_periodic = now
        # The detectors' state and the incidents they change commit together: a crash in between would
        # otherwise lose a signal (a "cleared" above all, which the detectors report only once).
        async with conn.transaction():
            await self._fenced(conn)
            signals: list[Signal] = await self.periodic(conn, now=now)
            for signal in signals:
                try:
                    async with conn.transaction():  # a savepoint: one bad signal must not undo the others
                        await incidents.apply_signal(conn, signal=signal, now=now, escalation=self.escalation)
                except Exception:
                    log.exception("periodic signal could not be applied: %s", signal)
        return len(signals)


def _result(outcome: str) -> str:
    return "failed" if outcome.startswith("failed:") else "applied"


async def lag_seconds(conn: Conn) -> float:
    """How long the oldest stored event the pipeline has not applied yet has waited (by the database's clock);
    0 when none waits."""
    cur = await conn.execute(
        "SELECT EXTRACT(EPOCH FROM now() - e.received_at)::float8 FROM pipeline_inbox i "
        "JOIN events e ON e.id = i.item_id WHERE i.source = 'event' ORDER BY i.item_id LIMIT 1"
    )
    row = await cur.fetchone()
    return 0.0 if row is None else max(0.0, float(row[0]))


async def _lock(conn: Conn, source: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, PIPELINE_LOCKS[source]))


async def _applied(conn: Conn, source: str, item_ids: list[int]) -> None:
    """Take applied items out of the inbox, in the transaction that recorded them in pipeline_processed."""
    if item_ids:
        await conn.execute("DELETE FROM pipeline_inbox WHERE source = %s AND item_id = ANY(%s)", (source, item_ids))


@dataclass
class RunningPipeline:
    """A started pipeline: what the API's routers need (escalation, clock), whether this process leads it, and how
    to stop it."""

    pipeline: AlarmPipeline
    leadership: Leadership
    task: asyncio.Task[None]
    stop_event: asyncio.Event

    @property
    def role(self) -> Role:
        return self.leadership.role

    @property
    def escalation(self) -> Escalation:
        return self.pipeline.escalation

    @property
    def clock(self) -> Clock:
        return self.pipeline.clock

    async def stop(self) -> None:
        self.stop_event.set()
        await self.task


async def start_pipeline(
    *,
    settings: Settings,
    dsn: str,
    metrics: BackendMetrics,
    clock: Clock | None = None,
    alarm_settings: AlarmSettings | None = None,
) -> RunningPipeline:
    """Build the pipeline for these settings and start it as a task of the running loop (the API lifespan): it works
    while this process holds the leader lock and stands by otherwise."""
    alarm = alarm_settings or AlarmSettings()
    escalation = Escalation(policies=load_policies(alarm.policy_file), notify=notify_incident)
    leadership = Leadership(dsn=dsn, metrics=metrics, retry_s=alarm.leader_retry_s)
    pipeline = AlarmPipeline(
        dsn=dsn,
        escalation=escalation,
        clock=clock or SystemClock(),
        config=PipelineConfig(poll_s=alarm.poll_s, periodic_every_s=alarm.periodic_every_s),
        review_burst=review_burst,
        resident_settings=load_settings,
        periodic=run_periodic_detectors,
        metrics=metrics,
        carer_late_after=timedelta(minutes=settings.carer_late_after_min),
        fence=leadership.fence,
        dose_window=timedelta(minutes=settings.dose_confirm_window_min),
        dose_station_after=timedelta(minutes=settings.dose_station_after_min),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(pipeline.run, stop), name="alarm-pipeline")
    return RunningPipeline(pipeline, leadership, task, stop)


async def _relay_stop(stop: asyncio.Event, stopped: threading.Event) -> None:
    """Pass the pipeline's stop to a thread that cannot await it."""
    try:
        await stop.wait()
    finally:
        stopped.set()

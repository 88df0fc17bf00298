"""SQL for the family status page: links, open incidents with their station task, activity, steps, bed events,
the personal baseline's last verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from psycopg.rows import class_row

from homecare.backend.detection.activity import MOVEMENT_COUNTS
from homecare.backend.family.models import FamilyIncident, FollowedResident
from homecare.contracts.messages import DeviceKind, Metric
from homecare.storage.connections import Conn

HELPING_TASK_STATUSES: Final = ("accepted", "en_route", "on_scene")
# The emergency service (medical, police, fire) the operator recorded as sending someone for incident i.
_EMERGENCY_SENT: Final = (
    "(SELECT e.detail->>'service' FROM incident_transitions e WHERE e.incident_id = i.id "
    " AND e.detail->>'change' = 'emergency_services' AND e.detail->>'answer' = 'sent' ORDER BY e.id DESC LIMIT 1)"
)
# Home-sensor events that mean someone moved, and what the page calls them.
MOVEMENT_EVENTS: Final = {
    "motion": "motion",
    "door_open": "door",
    "door_closed": "door",
    "bed_exit": "bed",
    "bed_return": "bed",
}


async def followed(conn: Conn, *, user_id: int) -> list[FollowedResident]:
    async with conn.cursor(row_factory=class_row(FollowedResident)) as cur:
        await cur.execute(
            "SELECT l.resident_id, r.display_name, l.relation, r.timezone, l.share_status, l.share_vitals, "
            "       l.share_activity, l.share_incidents, l.share_location "
            "FROM family_links l JOIN residents r ON r.id = l.resident_id WHERE l.user_id = %s "
            "ORDER BY r.display_name, l.resident_id",
            (user_id,),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class ResidentRow:
    display_name: str
    timezone: str


async def resident(conn: Conn, *, resident_id: int) -> ResidentRow | None:
    async with conn.cursor(row_factory=class_row(ResidentRow)) as cur:
        await cur.execute("SELECT display_name, timezone FROM residents WHERE id = %s", (resident_id,))
        return await cur.fetchone()


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: int
    cause: str
    status: str
    opened_at: datetime
    dispatched_at: datetime | None
    on_scene_at: datetime | None
    task_status: str | None  # the latest station task that has accepted, if any
    emergency: str | None  # the emergency service that said it is sending someone, if any


async def open_incidents(conn: Conn, *, resident_id: int) -> list[OpenIncident]:
    async with conn.cursor(row_factory=class_row(OpenIncident)) as cur:
        await cur.execute(
            "SELECT i.id, i.cause, i.status, i.opened_at, i.dispatched_at, i.on_scene_at, "
            "       (SELECT t.status FROM station_tasks t WHERE t.incident_id = i.id AND t.status = ANY(%s) "
            "        ORDER BY t.id DESC LIMIT 1) AS task_status, "
            f"      {_EMERGENCY_SENT} AS emergency "
            "FROM incidents i WHERE i.resident_id = %s AND i.status NOT IN ('resolved', 'cancelled') "
            "ORDER BY i.priority, i.opened_at",
            (list(HELPING_TASK_STATUSES), resident_id),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Moved:
    at: datetime
    source: str


async def last_movement_event(conn: Conn, *, resident_id: int, now: datetime) -> Moved | None:
    async with conn.cursor(row_factory=class_row(Moved)) as cur:
        await cur.execute(
            "SELECT ts AS at, kind AS source FROM events WHERE resident_id = %s AND kind = ANY(%s) AND ts <= %s "
            "ORDER BY ts DESC LIMIT 1",
            (resident_id, list(MOVEMENT_EVENTS), now),
        )
        return await cur.fetchone()


async def last_wristband_movement(
    conn: Conn, *, resident_id: int, now: datetime, minutes_since: datetime, hours_since: datetime
) -> Moved | None:
    """The end of the latest minute (since ``minutes_since``), else hour, with steps or clear activity counts."""
    async with conn.cursor(row_factory=class_row(Moved)) as cur:
        for table, step, since in (
            ("telemetry_1m", "1 minute", minutes_since),
            ("telemetry_1h", "1 hour", hours_since),
        ):
            await cur.execute(
                # One metric per branch, so that each is a backward scan of the (resident, metric, bucket) index.
                f"SELECT at, source FROM ("  # table and step come from the tuple above, never from a request
                f" (SELECT bucket + interval '{step}' AS at, 'steps' AS source FROM {table} "
                "   WHERE resident_id = %(r)s AND metric = %(steps)s AND bucket >= %(since)s AND bucket <= %(now)s "
                "   AND max > 0 ORDER BY bucket DESC LIMIT 1) UNION ALL "
                f" (SELECT bucket + interval '{step}', 'activity' FROM {table} "
                "   WHERE resident_id = %(r)s AND metric = %(activity)s AND bucket >= %(since)s "
                "   AND bucket <= %(now)s AND max >= %(counts)s ORDER BY bucket DESC LIMIT 1)) m "
                "ORDER BY at DESC LIMIT 1",
                {
                    "r": resident_id,
                    "steps": int(Metric.STEPS),
                    "activity": int(Metric.ACTIVITY),
                    "since": since,
                    "now": now,
                    "counts": MOVEMENT_COUNTS,
                },
            )
            found = await cur.fetchone()
            if found is not None:
                return Moved(at=min(found.at, now), source=found.source)
    return None


@dataclass(frozen=True, slots=True)
class HourTotal:
    bucket: datetime
    total: float


async def hourly_totals(
    conn: Conn, *, resident_id: int, metric: Metric, start: datetime, end: datetime
) -> list[HourTotal]:
    async with conn.cursor(row_factory=class_row(HourTotal)) as cur:
        await cur.execute(
            "SELECT bucket, sum AS total FROM telemetry_1h WHERE resident_id = %s AND metric = %s "
            "AND bucket >= %s AND bucket < %s ORDER BY bucket",
            (resident_id, int(metric), start, end),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Point:
    metric: int
    ts: datetime
    value: float


async def latest_health_checks(conn: Conn, *, resident_id: int, since: datetime, now: datetime) -> list[Point]:
    """The latest point of each health-check metric since ``since``, read through the resident's cuffs and meters
    (the telemetry's device index), newest first."""
    async with conn.cursor(row_factory=class_row(Point)) as cur:
        await cur.execute(
            "SELECT DISTINCT ON (t.metric) t.metric, t.ts, t.value FROM telemetry t "
            "JOIN devices d ON d.id = t.device_id AND d.resident_id = %(resident)s AND d.kind = ANY(%(kinds)s) "
            "WHERE t.resident_id = %(resident)s AND t.ts > %(since)s AND t.ts <= %(now)s "
            "ORDER BY t.metric, t.ts DESC",
            {
                "resident": resident_id,
                "kinds": [DeviceKind.BLOOD_PRESSURE_MONITOR.value, DeviceKind.GLUCOSE_METER.value],
                "since": since,
                "now": now,
            },
        )
        return sorted(await cur.fetchall(), key=lambda p: p.ts, reverse=True)


@dataclass(frozen=True, slots=True)
class BedEvent:
    kind: str
    ts: datetime


async def bed_events(conn: Conn, *, resident_id: int, start: datetime, end: datetime) -> list[BedEvent]:
    async with conn.cursor(row_factory=class_row(BedEvent)) as cur:
        await cur.execute(
            "SELECT kind, ts FROM events WHERE resident_id = %s AND kind IN ('bed_exit', 'bed_return') "
            "AND ts >= %s AND ts < %s ORDER BY ts, id",
            (resident_id, start, end),
        )
        return await cur.fetchall()


async def incident_history(conn: Conn, *, resident_id: int, limit: int) -> list[FamilyIncident]:
    """The resident's incidents, newest first, without notes or the audit trail; the station named is one that
    accepted, never one that was only asked."""
    async with conn.cursor(row_factory=class_row(FamilyIncident)) as cur:
        await cur.execute(
            "SELECT i.id, i.cause, i.status, i.opened_at, i.dispatched_at, i.on_scene_at, i.closed_at, i.outcome, "
            "       (SELECT s.name FROM station_tasks t JOIN stations s ON s.id = t.station_id "
            "        WHERE t.incident_id = i.id AND t.accepted_at IS NOT NULL ORDER BY t.id DESC LIMIT 1) "
            f"      AS station_name, {_EMERGENCY_SENT} AS emergency_service "
            "FROM incidents i WHERE i.resident_id = %s ORDER BY i.opened_at DESC, i.id DESC LIMIT %s",
            (resident_id, limit),
        )
        return await cur.fetchall()


async def baseline_verdict(conn: Conn, *, resident_id: int, since: date) -> tuple[date, dict[str, Any]] | None:
    """The last day judged against the personal baseline, when it was unusual and judged on or after ``since``."""
    cursor = await conn.execute(
        "SELECT evaluated_day, deviations FROM resident_baselines WHERE resident_id = %s AND verdict = 'unusual' "
        "AND deviations IS NOT NULL AND evaluated_day >= %s",
        (resident_id, since),
    )
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1])


async def baseline_series(conn: Conn, *, resident_id: int, feature: int, since: date) -> list[tuple[date, float]]:
    """One daily feature of the personal baseline (``feature``: its index) from ``since``, oldest first."""
    cursor = await conn.execute(
        "SELECT day, features[%s] FROM resident_baseline_days WHERE resident_id = %s AND day >= %s "
        "AND features[%s] <> 'NaN' ORDER BY day",
        (feature + 1, resident_id, since, feature + 1),
    )
    return [(day, float(value)) for day, value in await cursor.fetchall()]

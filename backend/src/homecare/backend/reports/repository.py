"""SQL reads behind the reports: alarms in a period, residents' device coverage, welfare visits in a month, health
checks in a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from psycopg.rows import class_row

from homecare.backend.devices.repository import ONLINE
from homecare.contracts.messages import HEALTH_CHECK_METRICS
from homecare.storage.connections import Conn


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """An incident that reached the operators as an alarm, with the times response figures are made of."""

    incident_id: int
    resident_id: int
    resident_name: str
    cause: str
    priority: int
    status: str
    alarm_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: str | None
    on_scene_at: datetime | None
    closed_at: datetime | None
    station_id: int | None
    station_name: str | None


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One enrolled resident and how many of their active devices were seen since a time."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None
    devices: int
    devices_online: int
    devices_online_now: int
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class VulnerableRow:
    """A vulnerable resident, with their visits in a month and their latest visit before its end."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None
    visits: int
    last_visit_at: datetime | None


async def alarms_between(conn: Conn, *, start: datetime, end: datetime) -> list[AlarmRow]:
    """Incidents whose alarm time lies in [start, end), oldest first; the station is the one dispatched,
    or else the home's own station."""
    async with conn.cursor(row_factory=class_row(AlarmRow)) as cur:
        await cur.execute(
            """
            SELECT i.id AS incident_id, i.resident_id, r.display_name AS resident_name, i.cause, i.priority,
                   i.status, i.alarm_at, i.acknowledged_at, i.acknowledged_by,
                   u.display_name AS acknowledged_by_name, i.on_scene_at, i.closed_at,
                   s.id AS station_id, s.name AS station_name
            FROM incidents i
            JOIN residents r ON r.id = i.resident_id
            LEFT JOIN users u ON u.username = i.acknowledged_by
            LEFT JOIN stations s ON s.id = coalesce(i.station_id, r.station_id)
            WHERE i.alarm_at >= %(start)s AND i.alarm_at < %(end)s
            ORDER BY i.alarm_at, i.id
            """,
            {"start": start, "end": end},
        )
        return await cur.fetchall()


async def coverage(conn: Conn, *, since: datetime) -> list[CoverageRow]:
    """Every resident with at least one active (not revoked) device, and how many were seen since ``since``."""
    async with conn.cursor(row_factory=class_row(CoverageRow)) as cur:
        await cur.execute(
            f"""
            SELECT r.id AS resident_id, r.display_name AS resident_name, st.id AS station_id,
                   st.name AS station_name, count(*)::int AS devices,
                   count(*) FILTER (WHERE s.last_seen_at >= %(since)s)::int AS devices_online,
                   count(*) FILTER (WHERE {ONLINE})::int AS devices_online_now,
                   max(s.last_seen_at) AS last_seen_at
            FROM residents r
            JOIN devices d ON d.resident_id = r.id AND d.revoked_at IS NULL
            LEFT JOIN device_state s ON s.device_id = d.id
            LEFT JOIN stations st ON st.id = r.station_id
            GROUP BY r.id, st.id
            ORDER BY r.id
            """,
            {"since": since},
        )
        return await cur.fetchall()


async def vulnerable_visits(conn: Conn, *, start: datetime, end: datetime) -> list[VulnerableRow]:
    """Residents vulnerable now (``care_standing``: the administrator's categories, an assessed level, or the
    enrolment flag) who were on the books before ``end``, with their visits in [start, end); a call where nobody was
    at home is not a visit."""
    async with conn.cursor(row_factory=class_row(VulnerableRow)) as cur:
        await cur.execute(
            """
            SELECT r.id AS resident_id, r.display_name AS resident_name, s.id AS station_id,
                   s.name AS station_name,
                   count(v.id) FILTER (WHERE v.visited_at >= %(start)s)::int AS visits,
                   max(v.visited_at) AS last_visit_at
            FROM residents r
            JOIN care_standing cs ON cs.resident_id = r.id
            LEFT JOIN stations s ON s.id = r.station_id
            LEFT JOIN welfare_visits v ON v.resident_id = r.id AND v.visited_at < %(end)s
                 AND v.outcome IS DISTINCT FROM 'not_home'
            WHERE cs.vulnerable AND r.created_at < %(end)s
            GROUP BY r.id, s.id
            ORDER BY r.id
            """,
            {"start": start, "end": end},
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class HealthCheckRow:
    """A resident on the books, and whether they had a health check in a period."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None
    checked: bool


ROLLUP_LAG: Final = timedelta(hours=2)
"""The hourly rollups may not have the latest hours yet: those are read from the raw readings."""


async def health_checks(conn: Conn, *, start: datetime, end: datetime, now: datetime) -> list[HealthCheckRow]:
    """Residents created before ``end``, each with whether a blood-pressure or glucose reading of theirs lies in
    [start, end): the hourly rollups for the period (they outlive the raw readings), the raw readings for the
    hours the rollups may not have reached yet."""
    async with conn.cursor(row_factory=class_row(HealthCheckRow)) as cur:
        await cur.execute(
            """
            WITH checked AS (
                SELECT resident_id FROM telemetry_1h
                WHERE metric = ANY(%(metrics)s) AND bucket >= %(start)s AND bucket < %(end)s
                UNION
                SELECT resident_id FROM telemetry
                WHERE metric = ANY(%(metrics)s) AND ts >= greatest(%(start)s, %(recent)s) AND ts < %(end)s
                  AND resident_id IS NOT NULL
            )
            SELECT r.id AS resident_id, r.display_name AS resident_name, s.id AS station_id,
                   s.name AS station_name, c.resident_id IS NOT NULL AS checked
            FROM residents r
            LEFT JOIN checked c ON c.resident_id = r.id
            LEFT JOIN stations s ON s.id = r.station_id
            WHERE r.created_at < %(end)s
            ORDER BY r.id
            """,
            {
                "metrics": sorted(int(m) for m in HEALTH_CHECK_METRICS),
                "start": start,
                "end": end,
                "recent": now - ROLLUP_LAG,
            },
        )
        return await cur.fetchall()

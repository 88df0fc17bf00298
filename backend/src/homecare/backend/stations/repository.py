"""SQL for stations: enrolment, and the responders' view (tasks with their incident and resident, roster)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Final

from psycopg.rows import class_row, scalar_row

from homecare.backend.dispatch.repository import ACTIVE_TASK_STATUSES
from homecare.storage.connections import Conn


async def upsert_station(
    conn: Conn, *, code: str, name: str, address: str, phone: str | None, lat: float, lon: float
) -> int:
    """Add the station with this code, or update the one that has it; returns its id."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO stations (code, name, address, phone, lat, lon) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, address = excluded.address, "
            "phone = excluded.phone, lat = excluded.lat, lon = excluded.lon RETURNING id",
            (code, name, address, phone, lat, lon),
        )
        station_id = await cur.fetchone()
    assert station_id is not None
    return int(station_id)


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A station task with its incident and the resident it is for."""

    id: int
    incident_id: int
    status: str
    travel_min: float | None
    offered_at: datetime
    accepted_at: datetime | None
    on_scene_at: datetime | None
    closed_at: datetime | None
    responder: str | None
    responder_name: str | None
    note: str | None
    cause: str
    priority: int
    incident_status: str
    opened_at: datetime
    explanation_en: str
    explanation_zh: str
    resident_id: int
    resident_name: str
    address: str | None
    access_notes: str | None
    phone: str | None


# A station's active tasks and those closed since the start of its local day; the same rows feed the view
# and its version.
_TASKS_FROM: Final = (
    "FROM station_tasks t JOIN incidents i ON i.id = t.incident_id JOIN residents r ON r.id = i.resident_id "
    "LEFT JOIN users u ON u.username = t.responder "
    "WHERE t.station_id = %(station)s AND (t.status = ANY(%(active)s) OR t.closed_at >= "
    "  (SELECT date_trunc('day', %(now)s AT TIME ZONE z.timezone) AT TIME ZONE z.timezone "
    "   FROM stations z WHERE z.id = %(station)s))"
)


async def station_tasks(conn: Conn, *, station_id: int, now: datetime) -> list[TaskRow]:
    """Active tasks (offered, accepted, en route, on scene) first, most urgent then oldest; then those closed
    today (the station's local day), latest first."""
    async with conn.cursor(row_factory=class_row(TaskRow)) as cur:
        await cur.execute(
            "SELECT t.id, t.incident_id, t.status, t.travel_min, t.offered_at, t.accepted_at, t.on_scene_at, "
            "       t.closed_at, t.responder, u.display_name AS responder_name, t.note, i.cause, i.priority, "
            "       i.status AS incident_status, i.opened_at, "
            "       i.explanation_en, i.explanation_zh, r.id AS resident_id, r.display_name AS resident_name, "
            f"      r.address, r.access_notes, r.phone {_TASKS_FROM} "
            "ORDER BY t.status = ANY(%(active)s) DESC, "
            "         CASE WHEN t.status = ANY(%(active)s) THEN i.priority END, "
            "         CASE WHEN t.status = ANY(%(active)s) THEN t.offered_at END, t.closed_at DESC, t.id",
            {"station": station_id, "active": list(ACTIVE_TASK_STATUSES), "now": now},
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class RosterRow:
    user_id: int
    username: str
    display_name: str
    phone: str | None
    on_duty: bool


async def roster(conn: Conn, *, station_id: int) -> list[RosterRow]:
    """The station's responders who can sign in, those on duty first (its welfare visitors do not take alarms)."""
    async with conn.cursor(row_factory=class_row(RosterRow)) as cur:
        await cur.execute(
            "SELECT id AS user_id, username, display_name, phone, on_duty FROM users "
            "WHERE station_id = %s AND role = 'responder' AND disabled_at IS NULL "
            "ORDER BY on_duty DESC, display_name, id",
            (station_id,),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class ViewVersion:
    digest: str
    opens: time
    closes: time
    timezone: str


async def view_version(conn: Conn, *, station_id: int, now: datetime) -> ViewVersion | None:
    """A digest of the stored rows the station view shows, with the station's hours (None: no such station).
    Cheap enough for every poll, and it shows nothing to anyone, so an unchanged view is neither rebuilt nor
    logged as an opening of its residents' records."""
    async with conn.cursor(row_factory=class_row(ViewVersion)) as cur:
        await cur.execute(
            "SELECT md5(concat_ws('|', s::text, (%(now)s AT TIME ZONE s.timezone)::date, "
            "  (SELECT string_agg(u::text, ',' ORDER BY u.id) FROM (SELECT id, display_name, phone, on_duty "
            "      FROM users WHERE station_id = s.id AND disabled_at IS NULL) u), "
            "  (SELECT string_agg(concat_ws(',', t::text, i.status, i.priority, i.cause, i.explanation_en, "
            "                              i.explanation_zh, r.display_name, r.address, r.access_notes, r.phone), "
            f"                   ';' ORDER BY t.id) {_TASKS_FROM}))) AS digest, "
            "s.opens, s.closes, s.timezone FROM stations s WHERE s.id = %(station)s",
            {"station": station_id, "active": list(ACTIVE_TASK_STATUSES), "now": now},
        )
        return await cur.fetchone()

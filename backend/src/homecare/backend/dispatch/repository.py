"""SQL for stations as routing sees them, station tasks, and help-is-coming commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg.rows import class_row, dict_row, scalar_row

from homecare.backend.dispatch.routing import StationState
from homecare.storage.connections import Conn

ACTIVE_TASK_STATUSES = ("offered", "accepted", "en_route", "on_scene")


async def station_states(conn: Conn) -> list[StationState]:
    """Every station with its count of active (offered, accepted, en route, on scene) tasks and of its responders
    on its roster now (on call)."""
    async with conn.cursor(row_factory=class_row(StationState)) as cur:
        await cur.execute(
            "SELECT s.id, s.code, s.name, s.lat, s.lon, s.capacity, s.opens, s.closes, s.timezone, s.on_duty, "
            " (SELECT count(*) FROM station_tasks t WHERE t.station_id = s.id AND t.status = ANY(%s))::int "
            " AS active_tasks, "
            " (SELECT count(*) FROM users u WHERE u.station_id = s.id AND u.role = 'responder' AND u.on_duty "
            "  AND u.disabled_at IS NULL)::int "
            " AS on_call FROM stations s ORDER BY s.id",
            (list(ACTIVE_TASK_STATUSES),),
        )
        return await cur.fetchall()


async def stations(conn: Conn) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, code, name, address, phone, lat, lon, capacity, opens, closes, timezone, "
            "on_duty FROM stations ORDER BY id"
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Home:
    resident_id: int
    display_name: str
    lat: float | None
    lon: float | None
    station_id: int | None


async def home_of(conn: Conn, *, resident_id: int) -> Home | None:
    async with conn.cursor(row_factory=class_row(Home)) as cur:
        await cur.execute(
            "SELECT id AS resident_id, display_name, lat, lon, station_id FROM residents WHERE id = %s", (resident_id,)
        )
        return await cur.fetchone()


async def homes(conn: Conn) -> list[Home]:
    async with conn.cursor(row_factory=class_row(Home)) as cur:
        await cur.execute("SELECT id AS resident_id, display_name, lat, lon, station_id FROM residents ORDER BY id")
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    incident_id: int
    station_id: int
    station_name: str
    status: str
    travel_min: float | None


_TASK_COLUMNS: Final = (
    "t.id, t.incident_id, t.station_id, s.name AS station_name, t.status, t.travel_min "
    "FROM station_tasks t JOIN stations s ON s.id = t.station_id"
)


async def get_task(conn: Conn, *, task_id: int) -> TaskRow | None:
    async with conn.cursor(row_factory=class_row(TaskRow)) as cur:
        await cur.execute(f"SELECT {_TASK_COLUMNS} WHERE t.id = %s", (task_id,))
        return await cur.fetchone()


async def active_tasks(conn: Conn, *, incident_id: int) -> list[TaskRow]:
    async with conn.cursor(row_factory=class_row(TaskRow)) as cur:
        await cur.execute(
            f"SELECT {_TASK_COLUMNS} WHERE t.incident_id = %s AND t.status = ANY(%s) ORDER BY t.id",
            (incident_id, list(ACTIVE_TASK_STATUSES)),
        )
        return await cur.fetchall()


async def offered_station_ids(conn: Conn, *, incident_id: int) -> list[int]:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT station_id FROM station_tasks WHERE incident_id = %s ORDER BY id", (incident_id,))
        return [int(s) for s in await cur.fetchall()]


async def refused_station_ids(conn: Conn, *, incident_id: int) -> set[int]:
    """The stations that declined this incident or let its offer time out."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT station_id FROM station_tasks WHERE incident_id = %s AND status IN ('declined', 'timed_out')",
            (incident_id,),
        )
        return {int(s) for s in await cur.fetchall()}


async def insert_task(conn: Conn, *, incident_id: int, station_id: int, travel_min: float | None, now: datetime) -> int:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO station_tasks (incident_id, station_id, status, travel_min, offered_at) "
            "VALUES (%s, %s, 'offered', %s, %s) RETURNING id",
            (incident_id, station_id, travel_min, now),
        )
        task_id = await cur.fetchone()
    assert task_id is not None
    return int(task_id)


async def update_task(
    conn: Conn, *, task_id: int, status: str, now: datetime, responder: str | None = None, note: str | None = None
) -> None:
    await conn.execute(
        "UPDATE station_tasks SET status = %(status)s, "
        " accepted_at = CASE WHEN %(status)s = 'accepted' THEN %(now)s ELSE accepted_at END, "
        " on_scene_at = CASE WHEN %(status)s = 'on_scene' THEN %(now)s ELSE on_scene_at END, "
        " closed_at = CASE WHEN %(status)s IN ('declined', 'timed_out', 'done', 'withdrawn') THEN %(now)s "
        "                  ELSE closed_at END, "
        " responder = coalesce(%(responder)s, responder), note = coalesce(%(note)s, note) WHERE id = %(id)s",
        {"status": status, "now": now, "responder": responder, "note": note, "id": task_id},
    )


async def open_incidents(conn: Conn) -> list[dict[str, Any]]:
    """Every open (not resolved or cancelled) incident, as the map marks it."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, resident_id, cause, priority, status FROM incidents "
            "WHERE status NOT IN ('resolved', 'cancelled') ORDER BY priority, opened_at, id"
        )
        return await cur.fetchall()

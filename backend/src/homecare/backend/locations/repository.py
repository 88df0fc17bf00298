"""SQL of locations: safe zones, stored fixes, the retention setting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from homecare.backend.locations.models import (
    Circle,
    Fix,
    LocationPolicy,
    LocationPolicyState,
    NewSafeZone,
    Polygon,
    SafeZone,
)
from homecare.storage.connections import Conn

_ZONE_COLUMNS = (
    "id, resident_id, name, center_lat, center_lon, radius_m, polygon, active_from, active_until, created_at, "
    "created_by"
)


def _zone(row: dict[str, Any]) -> SafeZone:
    shape: Circle | Polygon = (
        Polygon(points=[(lat, lon) for lat, lon in row["polygon"]])
        if row["polygon"] is not None
        else Circle(lat=row["center_lat"], lon=row["center_lon"], radius_m=row["radius_m"])
    )
    return SafeZone(
        id=row["id"],
        resident_id=row["resident_id"],
        name=row["name"],
        shape=shape,
        active_from=row["active_from"],
        active_until=row["active_until"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


async def zones(conn: Conn, *, resident_ids: list[int] | None = None) -> list[SafeZone]:
    """The safe zones of these residents (all residents' when None), by resident and id."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_ZONE_COLUMNS} FROM safe_zones WHERE %(ids)s::int[] IS NULL OR resident_id = ANY(%(ids)s) "
            "ORDER BY resident_id, id",
            {"ids": resident_ids},
        )
        return [_zone(row) for row in await cur.fetchall()]


async def insert_zone(conn: Conn, *, resident_id: int, zone: NewSafeZone, by: str, now: datetime) -> SafeZone:
    shape = zone.shape
    circle = shape if isinstance(shape, Circle) else None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO safe_zones (resident_id, name, center_lat, center_lon, radius_m, polygon, active_from, "
            f"active_until, created_at, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"RETURNING {_ZONE_COLUMNS}",
            (
                resident_id,
                zone.name,
                None if circle is None else circle.lat,
                None if circle is None else circle.lon,
                None if circle is None else circle.radius_m,
                None if isinstance(shape, Circle) else Jsonb([list(p) for p in shape.points]),
                zone.active_from,
                zone.active_until,
                now,
                by,
            ),
        )
        row = await cur.fetchone()
    assert row is not None
    return _zone(row)


async def add_zones_if_none(
    conn: Conn, *, resident_id: int, first: list[NewSafeZone], by: str, now: datetime
) -> list[SafeZone]:
    """The resident's first safe zones (enrolment); a resident who has zones keeps them as staff left them."""
    if await zones(conn, resident_ids=[resident_id]):
        return []
    return [await insert_zone(conn, resident_id=resident_id, zone=zone, by=by, now=now) for zone in first]


async def delete_zone(conn: Conn, *, resident_id: int, zone_id: int) -> bool:
    cur = await conn.execute("DELETE FROM safe_zones WHERE id = %s AND resident_id = %s", (zone_id, resident_id))
    return cur.rowcount > 0


async def fixes(conn: Conn, *, resident_ids: list[int], start: datetime, end: datetime) -> dict[int, list[Fix]]:
    """Each resident's stored fixes in [start, end], oldest first."""
    cursor = await conn.execute(
        "SELECT resident_id, ts, lat, lon, accuracy_m, source, moving FROM location_fixes "
        "WHERE resident_id = ANY(%s) AND ts >= %s AND ts <= %s ORDER BY resident_id, ts, id",
        (resident_ids, start, end),
    )
    found: dict[int, list[Fix]] = {rid: [] for rid in resident_ids}
    for rid, ts, lat, lon, accuracy, source, moving in await cursor.fetchall():
        found[rid].append(Fix(ts=ts, lat=lat, lon=lon, accuracy_m=accuracy, source=source, moving=moving))
    return found


async def incident_span(conn: Conn, *, incident_id: int) -> tuple[int, datetime, datetime | None] | None:
    """An incident's resident, when it opened and when it closed (None: still open)."""
    cursor = await conn.execute("SELECT resident_id, opened_at, closed_at FROM incidents WHERE id = %s", (incident_id,))
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


async def has_open_alarm(conn: Conn, *, resident_id: int) -> bool:
    """Whether an alarm of the resident is open (a fall still counting down is not yet one)."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE resident_id = %s "
        "AND status NOT IN ('pre_alarm', 'resolved', 'cancelled'))",
        (resident_id,),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def policy(conn: Conn) -> LocationPolicyState:
    async with conn.cursor(row_factory=class_row(LocationPolicyState)) as cur:
        await cur.execute("SELECT retention_days, updated_at, updated_by FROM location_policy")
        row = await cur.fetchone()
    assert row is not None  # the migration inserts the one row
    return row


async def set_policy(conn: Conn, *, policy: LocationPolicy, by: str, now: datetime) -> LocationPolicyState:
    async with conn.cursor(row_factory=class_row(LocationPolicyState)) as cur:
        await cur.execute(
            "UPDATE location_policy SET retention_days = %s, updated_at = %s, updated_by = %s "
            "RETURNING retention_days, updated_at, updated_by",
            (policy.retention_days, now, by),
        )
        row = await cur.fetchone()
    assert row is not None
    return row

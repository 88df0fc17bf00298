"""SQL for stations."""

from __future__ import annotations

from psycopg.rows import scalar_row

from homecare.backend.db.connections import Conn


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

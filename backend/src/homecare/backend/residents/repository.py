"""SQL for residents (home, contacts, the card, recent incidents) and the access log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row, dict_row, scalar_row
from psycopg.types.json import Jsonb

from homecare.storage.connections import Conn


@dataclass(frozen=True, slots=True)
class ResidentRow:
    """A row of ``residents``."""

    id: int
    display_name: str
    timezone: str
    created_at: datetime


async def get_resident(conn: Conn, *, resident_id: int) -> ResidentRow | None:
    """The resident with this id, or None."""
    async with conn.cursor(row_factory=class_row(ResidentRow)) as cur:
        await cur.execute("SELECT id, display_name, timezone, created_at FROM residents WHERE id = %s", (resident_id,))
        return await cur.fetchone()


async def record_access(
    conn: Conn, *, actor: str, resident_id: int | None, action: str, detail: dict[str, Any] | None = None
) -> None:
    """Append a row to the access log, in the caller's transaction: a read and its record commit together.
    ``actor`` is a user name (linked to the account) or a service name."""
    await conn.execute(
        "INSERT INTO access_log (actor, user_id, resident_id, action, detail) "
        "VALUES (%s, (SELECT id FROM users WHERE username = %s), %s, %s, %s)",
        (actor, actor, resident_id, action, None if detail is None else Jsonb(detail)),
    )


async def upsert_resident(conn: Conn, *, external_ref: str, display_name: str, timezone: str = "Asia/Shanghai") -> int:
    """Add the resident with this external reference, or update the one that has it; returns the id."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO residents (external_ref, display_name, timezone) VALUES (%s, %s, %s) "
            "ON CONFLICT (external_ref) DO UPDATE SET display_name = excluded.display_name, "
            "timezone = excluded.timezone RETURNING id",
            (external_ref, display_name, timezone),
        )
        resident_id = await cur.fetchone()
    assert resident_id is not None
    return int(resident_id)


async def set_home(
    conn: Conn,
    *,
    resident_id: int,
    address: str,
    lat: float,
    lon: float,
    station_id: int | None,
    birth_year: int | None = None,
    sex: str | None = None,
    phone: str | None = None,
    vulnerable: bool = False,
) -> None:
    """Record where the resident lives, the station the home belongs to, and the basic facts about them."""
    await conn.execute(
        "UPDATE residents SET address = %s, lat = %s, lon = %s, station_id = %s, birth_year = %s, sex = %s, "
        "phone = %s, vulnerable = %s WHERE id = %s",
        (address, lat, lon, station_id, birth_year, sex, phone, vulnerable, resident_id),
    )


async def replace_contacts(
    conn: Conn, *, resident_id: int, contacts: list[tuple[str, str | None, str | None, str | None]]
) -> None:
    """Set the resident's contacts, in call order: (name, relation, phone, e-mail) each."""
    await conn.execute("DELETE FROM resident_contacts WHERE resident_id = %s", (resident_id,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO resident_contacts (resident_id, call_order, name, relation, phone, email) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(resident_id, order, *contact) for order, contact in enumerate(contacts, start=1)],
        )


@dataclass(frozen=True, slots=True)
class CardRow:
    """The resident's own columns the card shows, with their home station."""

    id: int
    display_name: str
    birth_year: int | None
    sex: str | None
    address: str | None
    lat: float | None
    lon: float | None
    access_notes: str | None
    conditions: list[str]
    medications: list[str]
    allergies: list[str]
    mobility: str | None
    language: str | None
    phone: str | None
    vulnerable: bool
    consent_video: bool
    timezone: str
    station_id: int | None
    station_name: str | None
    station_phone: str | None
    station_address: str | None


async def card_row(conn: Conn, *, resident_id: int) -> CardRow | None:
    async with conn.cursor(row_factory=class_row(CardRow)) as cur:
        await cur.execute(
            "SELECT r.id, r.display_name, r.birth_year, r.sex, r.address, r.lat, r.lon, r.access_notes, r.conditions, "
            "       r.medications, r.allergies, r.mobility, r.language, r.phone, r.vulnerable, r.consent_video, "
            "       r.timezone, s.id AS station_id, s.name AS station_name, s.phone AS station_phone, "
            "       s.address AS station_address "
            "FROM residents r LEFT JOIN stations s ON s.id = r.station_id WHERE r.id = %s",
            (resident_id,),
        )
        return await cur.fetchone()


async def contacts(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    """The resident's contacts in call order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT call_order, name, relation, phone, email, notify FROM resident_contacts "
            "WHERE resident_id = %s ORDER BY call_order",
            (resident_id,),
        )
        return await cur.fetchall()


async def recent_incidents(conn: Conn, *, resident_id: int, limit: int) -> list[dict[str, Any]]:
    """The resident's latest incidents, newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, cause, priority, status, outcome, opened_at, closed_at FROM incidents "
            "WHERE resident_id = %s ORDER BY opened_at DESC, id DESC LIMIT %s",
            (resident_id, limit),
        )
        return await cur.fetchall()

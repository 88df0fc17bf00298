"""SQL for the administration pages: residents' cards, lists and detector overrides, devices, stations."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import class_row, dict_row, scalar_row

from homecare.backend.devices.repository import LAST_CONTACT, ONLINE
from homecare.backend.enrolment.models import Contact, Device, Resident, ResidentSummary, Station
from homecare.storage.connections import Conn


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_residents(
    conn: Conn, *, query: str | None, station_id: int | None, offset: int, limit: int
) -> tuple[int, list[ResidentSummary]]:
    """Residents matching the text (name, address, reference, or the id) and station, by name; and the total."""
    where = sql.SQL(
        "(%(q)s::text IS NULL OR r.display_name ILIKE %(like)s OR r.address ILIKE %(like)s "
        "OR r.external_ref ILIKE %(like)s OR r.id::text = %(q)s) "
        "AND (%(station)s::int IS NULL OR r.station_id = %(station)s)"
    )
    params = {"q": query, "like": _like(query or ""), "station": station_id, "offset": offset, "limit": limit}
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(sql.SQL("SELECT count(*) FROM residents r WHERE ") + where, params)
        total = int(await cur.fetchone() or 0)
    async with conn.cursor(row_factory=class_row(ResidentSummary)) as cur:
        await cur.execute(
            sql.SQL(
                "SELECT r.id, r.external_ref, r.display_name, r.address, r.station_id, s.name AS station_name, "
                "(SELECT count(*) FROM devices d WHERE d.resident_id = r.id AND d.revoked_at IS NULL) AS devices, "
                "r.vulnerable FROM residents r LEFT JOIN stations s ON s.id = r.station_id WHERE "
            )
            + where
            + sql.SQL(" ORDER BY r.display_name, r.id OFFSET %(offset)s LIMIT %(limit)s"),
            params,
        )
        return total, await cur.fetchall()


async def resident_record(conn: Conn, *, resident_id: int) -> Resident | None:
    """The resident's full record: home, card and contacts in call order."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT r.id, r.external_ref, r.display_name, r.birth_year, r.sex, r.phone, r.timezone, r.address, "
            "r.lat, r.lon, r.station_id, s.name AS station_name, r.vulnerable, r.access_notes, r.conditions, "
            "r.medications, r.allergies, r.mobility, r.language, r.consent_video, r.created_at "
            "FROM residents r LEFT JOIN stations s ON s.id = r.station_id WHERE r.id = %s",
            (resident_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute(
            "SELECT name, relation, phone, email FROM resident_contacts WHERE resident_id = %s ORDER BY call_order",
            (resident_id,),
        )
        contacts = [Contact.model_construct(**contact) for contact in await cur.fetchall()]
    return Resident(**row, contacts=contacts)


async def resident_ids_by_ref(conn: Conn, *, refs: list[str]) -> dict[str, int]:
    """The ids of the residents with these references (those that exist)."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT external_ref, id FROM residents WHERE external_ref = ANY(%s)", (refs,))
        return {str(ref): int(resident_id) for ref, resident_id in await cur.fetchall()}


async def set_identity(conn: Conn, *, resident_id: int, external_ref: str, display_name: str, timezone: str) -> bool:
    """Change who the resident is recorded as; False when there is no such resident."""
    cur = await conn.execute(
        "UPDATE residents SET external_ref = %s, display_name = %s, timezone = %s WHERE id = %s",
        (external_ref, display_name, timezone, resident_id),
    )
    return cur.rowcount == 1


async def set_card(
    conn: Conn,
    *,
    resident_id: int,
    access_notes: str | None,
    conditions: list[str],
    medications: list[str],
    allergies: list[str],
    mobility: str | None,
    language: str | None,
    consent_video: bool,
) -> None:
    """The card an operator reads after an alarm (the home's facts are ``set_home``'s)."""
    await conn.execute(
        "UPDATE residents SET access_notes = %s, conditions = %s, medications = %s, allergies = %s, mobility = %s, "
        "language = %s, consent_video = %s WHERE id = %s",
        (access_notes, conditions, medications, allergies, mobility, language, consent_video, resident_id),
    )


async def station_ids_by_code(conn: Conn) -> dict[str, int]:
    async with conn.cursor() as cur:
        await cur.execute("SELECT code, id FROM stations")
        return {str(code): int(station_id) for code, station_id in await cur.fetchall()}


_DEVICE = (
    "SELECT d.id, d.uid, d.kind, d.resident_id, r.display_name AS resident_name, d.enrolled_at, d.revoked_at, "
    f"{ONLINE} AS online, {LAST_CONTACT} AS last_seen_at, s.battery "
    "FROM devices d LEFT JOIN residents r ON r.id = d.resident_id LEFT JOIN device_state s ON s.device_id = d.id "
)


async def list_devices(
    conn: Conn, *, query: str | None, resident_id: int | None, include_revoked: bool, offset: int, limit: int
) -> tuple[int, list[Device]]:
    """Devices matching the uid or holder's name, of one resident or all; active ones first; and the total."""
    where = (
        "WHERE (%(q)s::text IS NULL OR d.uid ILIKE %(like)s OR r.display_name ILIKE %(like)s) "
        "AND (%(resident)s::int IS NULL OR d.resident_id = %(resident)s) "
        "AND (%(revoked)s OR d.revoked_at IS NULL) "
    )
    params = {
        "q": query,
        "like": _like(query or ""),
        "resident": resident_id,
        "revoked": include_revoked,
        "offset": offset,
        "limit": limit,
    }
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT count(*) FROM devices d LEFT JOIN residents r ON r.id = d.resident_id " + where, params
        )
        total = int(await cur.fetchone() or 0)
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(
            _DEVICE + where + "ORDER BY d.revoked_at IS NOT NULL, d.uid OFFSET %(offset)s LIMIT %(limit)s", params
        )
        return total, await cur.fetchall()


async def get_device(conn: Conn, *, device_id: int | None = None, uid: str | None = None) -> Device | None:
    """The device with this id or uid."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(_DEVICE + "WHERE d.id = %s OR d.uid = %s", (device_id, uid))
        return await cur.fetchone()


async def devices_by_uid(conn: Conn, *, uids: list[str]) -> dict[str, Device]:
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(_DEVICE + "WHERE d.uid = ANY(%s)", (uids,))
        return {device.uid: device for device in await cur.fetchall()}


async def set_secret_hash(conn: Conn, *, device_id: int, secret_hash: str) -> None:
    await conn.execute("UPDATE devices SET secret_hash = %s WHERE id = %s", (secret_hash, device_id))


async def revoke_device(conn: Conn, *, device_id: int) -> None:
    """Revoked devices keep their data but lose their credentials; the devices trigger tells the gateways."""
    await conn.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, now()), secret_hash = NULL WHERE id = %s", (device_id,)
    )


_STATION = (
    "SELECT s.id, s.code, s.name, s.address, s.phone, s.lat, s.lon, s.opens, s.closes, s.timezone, s.capacity, "
    "s.on_duty, (SELECT count(*) FROM residents r WHERE r.station_id = s.id) AS residents, s.created_at "
    "FROM stations s "
)


async def list_stations(conn: Conn) -> list[Station]:
    async with conn.cursor(row_factory=class_row(Station)) as cur:
        await cur.execute(_STATION + "ORDER BY s.code")
        return await cur.fetchall()


async def get_station(conn: Conn, *, station_id: int) -> Station | None:
    async with conn.cursor(row_factory=class_row(Station)) as cur:
        await cur.execute(_STATION + "WHERE s.id = %s", (station_id,))
        return await cur.fetchone()


_STATION_COLUMNS = (
    "code",
    "name",
    "address",
    "phone",
    "lat",
    "lon",
    "opens",
    "closes",
    "timezone",
    "capacity",
    "on_duty",
)


async def save_station(conn: Conn, *, station_id: int | None, values: dict[str, Any]) -> int | None:
    """Insert a station (``station_id`` None) or update one; returns its id (None: no such station)."""
    columns = [sql.Identifier(name) for name in _STATION_COLUMNS]
    params = [values[name] for name in _STATION_COLUMNS]
    if station_id is None:
        statement = sql.SQL("INSERT INTO stations ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(columns), sql.SQL(", ").join(sql.Placeholder() * len(columns))
        )
    else:
        statement = sql.SQL("UPDATE stations SET ({}) = ROW({}) WHERE id = %s RETURNING id").format(
            sql.SQL(", ").join(columns), sql.SQL(", ").join(sql.Placeholder() * len(columns))
        )
        params.append(station_id)
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(statement, params)
        found = await cur.fetchone()
    return None if found is None else int(found)


async def detection_overrides(conn: Conn, *, resident_id: int) -> dict[str, Any] | None:
    """The resident's stored detector overrides with when and by whom they were set; None if never set."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT overrides, updated_at, updated_by FROM detection_settings WHERE resident_id = %s", (resident_id,)
        )
        row: dict[str, Any] | None = await cur.fetchone()
        return row
